"""The template change feed: what every worker reads to keep its 1:N index equal to the database.

Triggers on `face_template` (migration 0003) append `(seq, template id, identity id, op)` to
`template_change` inside the writing transaction, so the feed cannot miss a change whichever code
path made it. On PostgreSQL the trigger takes the audit chain's transaction lock before drawing its
sequence number, so numbers are handed out in commit order: a reader that has applied every change up
to N never meets a change below N later. It also NOTIFYs `FEED_CHANNEL` (delivered at commit), which
wakes the followers (`listener`); SQLite serialises all writers and is polled.

A decision that must see every template committed before it (the duplicate re-check,
`simkyc.service.dedup`) takes `lock_feed` in its transaction: no template can commit between that
moment and its own commit.

Rows carry ids only (no biometrics); `prune` drops those older than the retention, and a follower
that fell further behind than that rebuilds from the templates themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, delete, func, select, text

from simkyc.store.audit import _AUDIT_LOCK
from simkyc.store.fields import aad_template, template_from_bytes
from simkyc.store.schema import face_template, template_change
from simkyc.store.uow import Database

__all__ = [
    "FEED_CHANNEL",
    "FeedListener",
    "TemplateChange",
    "changes_after",
    "feed_head",
    "fetch_templates",
    "identity_key",
    "listener",
    "lock_feed",
    "oldest_seq",
    "prune",
    "template_ids",
    "template_key",
]

_log = logging.getLogger(__name__)

FEED_CHANNEL = "simkyc_template_change"
Op = Literal["put", "del"]


@dataclass(frozen=True, slots=True)
class TemplateChange:
    """One change: a template stored or replaced (`put`) or deleted (`del`), in commit order.

    `model_name` is the embedder that made the template (its generation; None on rows written
    before migration 0005): each generation has its own index.
    """

    seq: int
    template_id: str
    identity_key: str
    op: Op
    model_name: str | None = None


def template_key(template_id: int) -> str:
    """The index key of a `face_template` row (`t<id>`)."""
    return f"t{template_id}"


def identity_key(identity_id: int) -> str:
    """The index key of an identity (`i<id>`): hits of the customer's own identity are not duplicates."""
    return f"i{identity_id}"


def feed_head(bind: Engine | Connection) -> int:
    """The newest sequence number committed (0 for an empty feed)."""
    query = select(func.coalesce(func.max(template_change.c.seq), 0))
    if isinstance(bind, Connection):
        return int(bind.execute(query).scalar_one())
    with bind.connect() as conn:
        return int(conn.execute(query).scalar_one())


def oldest_seq(engine: Engine) -> int | None:
    """The oldest sequence number still kept (None for an empty feed)."""
    with engine.connect() as conn:
        value = conn.execute(select(func.min(template_change.c.seq))).scalar()
    return None if value is None else int(value)


def changes_after(bind: Engine | Connection, after: int, *, limit: int = 10_000) -> list[TemplateChange]:
    """Up to `limit` changes with a sequence number above `after`, oldest first."""
    query = (
        select(
            template_change.c.seq,
            template_change.c.template_id,
            template_change.c.identity_id,
            template_change.c.op,
            template_change.c.model_name,
        )
        .where(template_change.c.seq > after)
        .order_by(template_change.c.seq)
        .limit(limit)
    )
    if isinstance(bind, Connection):
        rows = bind.execute(query).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(query).all()
    return [
        TemplateChange(
            int(r.seq), template_key(r.template_id), identity_key(r.identity_id), r.op, r.model_name
        )
        for r in rows
    ]


def template_ids(db: Database, *, model_name: str | None = None) -> set[str]:
    """Every stored template's index key, of one embedder when `model_name` is given (the start check)."""
    query = select(face_template.c.id)
    if model_name is not None:
        query = query.where(face_template.c.model_name == model_name)
    with db.engine.connect() as conn:
        return {template_key(i) for i in conn.execute(query).scalars()}


def fetch_templates(
    db: Database, wanted: Iterable[str], *, conn: Connection | None = None, model_name: str | None = None
) -> list[tuple[str, str, npt.NDArray[np.float32]]]:
    """Decrypted `(template key, identity key, template)` of the wanted keys that still exist
    (only those of `model_name` when given: templates of different embedders are not comparable)."""
    nums = sorted({int(w[1:]) for w in wanted})
    out: list[tuple[str, str, npt.NDArray[np.float32]]] = []
    if not nums:
        return out

    def read(c: Connection) -> None:
        for start in range(0, len(nums), 1000):
            query = select(face_template).where(face_template.c.id.in_(nums[start : start + 1000]))
            if model_name is not None:
                query = query.where(face_template.c.model_name == model_name)
            for t in c.execute(query):
                raw = db.keys.decrypt(t.key_id, t.template_enc, aad=aad_template(t.identity_id, t.model_name))
                out.append((template_key(t.id), identity_key(t.identity_id), template_from_bytes(raw)))

    if conn is not None:
        read(conn)
    else:
        with db.engine.connect() as c:
            read(c)
    return out


def lock_feed(conn: Connection) -> None:
    """Hold the feed until this transaction ends: no template change can commit meanwhile.

    The lock is the audit chain's (every decision takes it at its first audit entry anyway), so it
    adds no new ordering between locks. SQLite: the transaction already holds the write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})


def prune(engine: Engine, *, before: datetime) -> int:
    """Delete feed rows written before `before`; returns how many."""
    with engine.begin() as conn:
        return int(conn.execute(delete(template_change).where(template_change.c.at < before)).rowcount or 0)


class FeedListener:
    """Wakes a follower as soon as a template change commits (PostgreSQL LISTEN/NOTIFY).

    The listening connection is taken out of the pool and kept for the follower's lifetime; on a
    broken connection `wait` raises and the follower opens a new listener.
    """

    def __init__(self, engine: Engine) -> None:
        raw = engine.raw_connection()
        pg: Any = raw.driver_connection
        raw.detach()
        pg.autocommit = True
        pg.execute(f"LISTEN {FEED_CHANNEL}")
        self._pg = pg

    def wait(self, timeout: float) -> bool:
        """True when a change was committed within `timeout` seconds (drains what else arrived)."""
        woke = False
        for _ in self._pg.notifies(timeout=timeout, stop_after=1):
            woke = True
        if woke:
            for _ in self._pg.notifies(timeout=0.0):
                pass
        return woke

    def close(self) -> None:
        self._pg.close()


def listener(engine: Engine) -> FeedListener | None:
    """A listener where the database can notify (PostgreSQL), else None (SQLite: poll instead)."""
    return FeedListener(engine) if engine.dialect.name == "postgresql" else None
