"""The supervisor's review queue: cases with evidence side by side, approve or reject with a comment."""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response
from PIL import Image as PILImage
from pydantic import BaseModel, Field

from simkyc.api import queries
from simkyc.api.deps import Ctx, Reader, Supervisor
from simkyc.api.routes.registrations import ReasonOut, RegistrationOut, reasons_out
from simkyc.errors import NotFoundError, Reason
from simkyc.service import registration as reg

router = APIRouter(prefix="/api/reviews", tags=["reviews"])


class CandidateOut(BaseModel):
    identity: str
    score: float


class ReviewCaseOut(BaseModel):
    """A review case: why it is here, the scores, similar faces under other IDs (masked), and which
    evidence images exist (fetched one by one, by supervisors only, each view audited)."""

    registration_id: str
    status: str
    kind: str
    id_masked: str
    phone_number: str
    outlet_id: int
    reasons: list[ReasonOut]
    scores: dict[str, float]
    thresholds: dict[str, float]
    candidates: list[CandidateOut]
    evidence: list[str]


class DecisionIn(BaseModel):
    approve: bool
    comment: str = Field(min_length=1, max_length=2000)


def _case(row: dict[str, Any]) -> ReviewCaseOut:
    return ReviewCaseOut(
        registration_id=row["registration_id"],
        status=row["status"],
        kind=row["kind"],
        id_masked=row["id_masked"],
        phone_number=row["phone_number"],
        outlet_id=row["outlet_id"],
        reasons=reasons_out(row["reasons"]),
        scores={k: float(v) for k, v in (row["scores"] or {}).items() if isinstance(v, int | float)},
        thresholds={k: float(v) for k, v in (row["thresholds"] or {}).items() if isinstance(v, int | float)},
        candidates=[
            CandidateOut(
                identity=str(c.get("id_masked") or c.get("identity")), score=float(c.get("score", 0))
            )
            for c in row["candidates"] or ()
        ],
        evidence=["id_photo", "live"] if row["has_evidence"] and row["status"] == "open" else [],
    )


@router.get("")
def list_cases(*, ctx: Ctx, staff: Reader) -> list[ReviewCaseOut]:
    """Open review cases, oldest first."""
    return [_case(r) for r in queries.review_cases(ctx.read_engine)]


@router.get("/{registration_id}")
def get_case(*, ctx: Ctx, staff: Reader, registration_id: str) -> ReviewCaseOut:
    """One review case (no images)."""
    rows = queries.review_cases(ctx.read_engine, registration_id=registration_id)
    if not rows:
        raise NotFoundError(Reason.NOT_FOUND, "No review case for this registration.")
    return _case(rows[0])


def _jpeg(image: Any) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@router.get(
    "/{registration_id}/evidence/{which}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_evidence(
    *, ctx: Ctx, supervisor: Supervisor, registration_id: str, which: Literal["id_photo", "live"]
) -> Response:
    """One evidence image of an open case, decrypted for this supervisor (audited; never cached)."""
    ev = reg.review_evidence(registration_id, staff_id=supervisor.user_id, deps=ctx.registration_deps())
    image = ev.id_photo if which == "id_photo" else (ev.frames[0] if ev.frames else None)
    if image is None:
        raise NotFoundError(Reason.NOT_FOUND, "This evidence image is not available.")
    return Response(_jpeg(image), media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{registration_id}/decision")
def decide(*, ctx: Ctx, supervisor: Supervisor, registration_id: str, body: DecisionIn) -> RegistrationOut:
    """Approve or reject a REVIEW case with a comment; the evidence is deleted either way."""
    out = reg.review(
        registration_id,
        approve=body.approve,
        supervisor_id=supervisor.user_id,
        note=body.comment,
        deps=ctx.registration_deps(),
    )
    ctx.metrics.decisions.labels(f"review_{out.outcome.value}").inc()
    return RegistrationOut(
        id=registration_id,
        status=out.outcome.value,
        reasons=reasons_out(out.reasons),
        scores=dict(out.scores),
        thresholds=dict(out.thresholds),
        policy_version=out.policy_version,
    )
