"""The audit log, its chain status, and the dashboard of registrations and rejection reasons."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from simkyc.api import queries
from simkyc.api.deps import Ctx, Reader
from simkyc.store import audit

router = APIRouter(prefix="/api", tags=["audit"])


class AuditEntryOut(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    object: str
    details: Any
    hash: str


class ChainOut(BaseModel):
    """Hash chain and signed checkpoints as verified now against this server's signing key."""

    ok: bool
    entries: int
    checkpoints: int
    head_seq: int
    last_checkpoint_seq: int | None
    problems: list[str]


@router.get("/audit")
def list_audit(
    *,
    ctx: Ctx,
    staff: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[int | None, Query(ge=0, le=2_147_483_647)] = None,
) -> list[AuditEntryOut]:
    """Newest audit entries first (they never hold templates, images or full ID numbers)."""
    return [
        AuditEntryOut.model_validate(e)
        for e in queries.audit_entries(ctx.read_engine, limit=limit, before_seq=before_seq)
    ]


@router.get("/audit/verify")
def verify_chain(*, ctx: Ctx, staff: Reader) -> ChainOut:
    """Re-hash the whole chain and check every signed checkpoint."""
    with ctx.read_engine.connect() as conn:
        report = audit.verify(conn, trusted_public_keys={audit.public_key_hex(ctx.keys)})
    return ChainOut(
        ok=report.ok,
        entries=report.entries,
        checkpoints=report.checkpoints,
        head_seq=report.head_seq,
        last_checkpoint_seq=queries.last_checkpoint(ctx.read_engine),
        problems=list(report.problems),
    )


@router.get("/dashboard")
def dashboard(*, ctx: Ctx, staff: Reader, days: Annotated[int, Query(ge=1, le=92)] = 14) -> dict[str, Any]:
    """Registrations per outlet and day, outcomes per outlet, and the reasons behind negative outcomes."""
    today = dt.datetime.fromtimestamp(ctx.clock(), dt.UTC).date()
    return queries.dashboard(ctx.read_engine, days=days, today=today)
