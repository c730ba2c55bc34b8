"""Read models for the pages: registration lists, the review queue, the audit log, the dashboard.

Plain read-only SQL over the registration schema (the use cases in `simkyc.service.registration`
own every write). Only masked ID numbers are selected; encrypted columns never are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from simkyc.store.schema import audit_checkpoint, audit_entry, identity, outlet, registration, review_case

__all__ = [
    "audit_entries",
    "dashboard",
    "get_registration",
    "last_checkpoint",
    "list_registrations",
    "review_cases",
]

_PUBLIC = (
    registration.c.id,
    registration.c.status,
    registration.c.kind,
    registration.c.phone_number,
    registration.c.outlet_id,
    registration.c.reasons,
    registration.c.scores,
    registration.c.thresholds,
    registration.c.policy_version,
    registration.c.created_at,
    registration.c.decided_at,
    identity.c.id_masked,
)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    d["created_at"] = _aware(d.get("created_at"))
    d["decided_at"] = _aware(d.get("decided_at"))
    return d


def list_registrations(
    engine: Engine, *, outlet_id: int | None, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Newest first, optionally one outlet and one status."""
    q = sa.select(*_PUBLIC).join(identity, identity.c.id == registration.c.identity_id)
    if outlet_id is not None:
        q = q.where(registration.c.outlet_id == outlet_id)
    if status:
        q = q.where(registration.c.status == status)
    q = q.order_by(registration.c.created_at.desc()).limit(limit)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def get_registration(engine: Engine, registration_id: str) -> dict[str, Any] | None:
    q = (
        sa.select(*_PUBLIC)
        .join(identity, identity.c.id == registration.c.identity_id)
        .where(registration.c.id == registration_id)
    )
    with engine.connect() as conn:
        r = conn.execute(q).first()
    return None if r is None else _row(r)


def review_cases(
    engine: Engine, *, registration_id: str | None = None, status: str = "open"
) -> list[dict[str, Any]]:
    """Review cases with their registration's public fields (no evidence)."""
    q = (
        sa.select(
            review_case.c.registration_id,
            review_case.c.status,
            review_case.c.reasons,
            review_case.c.candidates,
            review_case.c.created_at,
            review_case.c.expires_at,
            (review_case.c.evidence_enc.is_not(None)).label("has_evidence"),
            registration.c.phone_number,
            registration.c.outlet_id,
            registration.c.scores,
            registration.c.thresholds,
            registration.c.kind,
            identity.c.id_masked,
        )
        .join(registration, registration.c.id == review_case.c.registration_id)
        .join(identity, identity.c.id == registration.c.identity_id)
        .order_by(review_case.c.created_at)
    )
    if registration_id is not None:
        q = q.where(review_case.c.registration_id == registration_id)
    else:
        q = q.where(review_case.c.status == status)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def audit_entries(engine: Engine, *, limit: int = 100, before_seq: int | None = None) -> list[dict[str, Any]]:
    """Newest audit entries first."""
    q = sa.select(audit_entry).order_by(audit_entry.c.seq.desc()).limit(limit)
    if before_seq is not None:
        q = q.where(audit_entry.c.seq < before_seq)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["at"] = _aware(d["at"])
        with contextlib.suppress(ValueError):
            d["details"] = json.loads(d["details"])
        out.append(d)
    return out


def last_checkpoint(engine: Engine) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(sa.select(sa.func.max(audit_checkpoint.c.seq))).scalar()
    return None if value is None else int(value)


def dashboard(engine: Engine, *, days: int, today: dt.date) -> dict[str, Any]:
    """Registrations per outlet and day, outcomes per outlet, and reason counts of negative outcomes."""
    since = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time.min, tzinfo=dt.UTC)
    with engine.connect() as conn:
        outlets = [
            dict(r._mapping) for r in conn.execute(sa.select(outlet.c.id, outlet.c.code, outlet.c.name))
        ]
        rows = conn.execute(
            sa.select(
                registration.c.outlet_id,
                registration.c.status,
                registration.c.reasons,
                registration.c.created_at,
            ).where(registration.c.created_at >= since)
        ).all()
    day_list = [(today - dt.timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
    per_day: dict[int, Counter[str]] = defaultdict(Counter)
    outcomes: dict[int, Counter[str]] = defaultdict(Counter)
    reasons: Counter[tuple[str, str]] = Counter()
    for r in rows:
        created = _aware(r.created_at)
        assert created is not None
        per_day[r.outlet_id][created.date().isoformat()] += 1
        outcomes[r.outlet_id][r.status] += 1
        if r.status in ("REJECTED", "REVIEW", "RETRY"):
            for code in r.reasons or ():
                if code != "FACE_MATCH":
                    reasons[(str(code), r.status)] += 1
    used = {r.outlet_id for r in rows}
    return {
        "days": day_list,
        "outlets": [o for o in outlets if o["id"] in used] or outlets,
        "per_day": {str(k): dict(v) for k, v in per_day.items()},
        "outcomes": {str(k): dict(v) for k, v in outcomes.items()},
        "reasons": [
            {"code": code, "outcome": status, "count": n} for (code, status), n in reasons.most_common(20)
        ],
        "total": len(rows),
    }
