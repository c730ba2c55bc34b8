"""Readiness: may a load balancer send this worker requests? (`/healthz` only says it is alive.)

Ready means: the database answers, Redis answers (when configured), and the 1:N index is loaded and
current: it has applied the template feed up to the head, or caught up within the last
`max_catch_up_age_s` seconds (a change committed a moment ago elsewhere is still on its way, and every
duplicate search applies it before searching anyway). The check reads only; it never catches up itself,
so it also measures how far behind the follower is (`benchmarks/api_load.py --freshness`).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import text

from simkyc.api.context import AppContext

__all__ = ["readiness"]


def readiness(ctx: AppContext, *, max_catch_up_age_s: float = 5.0) -> tuple[bool, dict[str, Any]]:
    """(ready, checks) with one entry per dependency: "ok", "off" or what is wrong."""
    checks: dict[str, Any] = {"worker": ctx.settings.worker_name or "single", "pid": os.getpid()}
    ready = True
    try:
        with ctx.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
        ready = False
    if ctx.redis is None:
        checks["redis"] = "off"
    else:
        try:
            ctx.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable ({type(exc).__name__})"
            ready = False
    if checks["database"] == "ok":
        try:
            index = ctx.index_feed.status()
        except Exception as exc:
            index = {"loaded": False, "error": type(exc).__name__}
        current = bool(index.get("loaded")) and (
            index.get("behind") == 0 or float(index.get("since_catch_up_s", 1e9)) <= max_catch_up_age_s
        )
        index["current"] = current
        checks["index"] = index
        ready = ready and current
    return ready, checks
