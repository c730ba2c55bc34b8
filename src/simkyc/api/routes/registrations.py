"""The clerk's registration flow: open (ID + consent) -> stream frames (progress events) -> finish
(decision); plus the outlet's list and one registration's public view.

Only masked ID numbers leave the server; templates and images never do.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field, ValidationError

from simkyc.api import queries
from simkyc.api.capture import CaptureSession, push_frames
from simkyc.api.context import AppContext
from simkyc.api.deps import AnyStaff, Clerk, Ctx
from simkyc.core.documents.document import IdDocument
from simkyc.core.images import decode_image
from simkyc.core.liveness import LivenessSession
from simkyc.core.liveness.types import Frame, ProgressEvent
from simkyc.errors import InputError, NotFoundError, Reason
from simkyc.service import registration as reg
from simkyc.service.auth import Principal, Role

router = APIRouter(prefix="/api/registrations", tags=["registrations"])

MAX_FRAMES_PER_POST = 40


class IntakeFields(BaseModel):
    """The ID fields as the clerk confirmed them, the number to bind, and the consent."""

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    sex: Literal["M", "F"]
    birth_date: dt.date
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # None = long-term (长期)
    address: str | None = Field(default=None, max_length=200)
    phone_number: str = Field(min_length=11, max_length=11)
    document_source: Literal["chip", "ocr"] = "chip"
    consent: bool = False
    consent_text_version: str | None = Field(default=None, max_length=64)
    ocr_token: str | None = Field(default=None, max_length=64)


class ChallengeOut(BaseModel):
    """What the customer must do, in order, before `deadline` (Unix seconds, server clock)."""

    actions: list[str]
    issued_at: float
    deadline: float


class EventOut(BaseModel):
    """A progress event: `waiting_for` an action, `action_done`, `failed` (with reason) or `passed`."""

    kind: str
    action: str | None = None
    reason: str | None = None
    timestamp: float


class OpenedOut(BaseModel):
    """An open registration waiting for its live capture."""

    id: str
    status: str
    id_masked: str
    phone_number: str
    policy_version: str
    challenge: ChallengeOut
    server_time: float
    events: list[EventOut]


class FramesOut(BaseModel):
    """What the pushed frames caused; `finished` once the session is decided (call finish)."""

    events: list[EventOut]
    finished: bool
    waiting_for: str | None
    frames: int


class ReasonOut(BaseModel):
    code: str
    message: str


class RegistrationOut(BaseModel):
    """A registration's public view: masked ID, number, outcome, reasons, scores and thresholds."""

    id: str
    status: str
    kind: str = "new"
    id_masked: str | None = None
    phone_number: str | None = None
    outlet_id: int | None = None
    reasons: list[ReasonOut]
    scores: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    policy_version: str | None = None
    created_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None


class RegistrationList(BaseModel):
    items: list[RegistrationOut]
    count: int


def reasons_out(codes: Any) -> list[ReasonOut]:
    """Reason codes with their plain-language messages."""
    out = []
    for code in codes or ():
        try:
            out.append(ReasonOut(code=str(code), message=Reason(str(code)).message))
        except ValueError:
            out.append(ReasonOut(code=str(code), message=str(code)))
    return out


def event_out(e: ProgressEvent) -> EventOut:
    return EventOut(
        kind=e.kind.value,
        action=None if e.action is None else e.action.value,
        reason=None if e.reason is None else e.reason.value,
        timestamp=e.timestamp,
    )


def _read_upload(ctx: AppContext, upload: UploadFile) -> bytes:
    data = upload.file.read(ctx.max_image_bytes + 1)
    if len(data) > ctx.max_image_bytes:
        raise InputError(Reason.IMAGE_TOO_LARGE, f"Each image may have at most {ctx.max_image_bytes} bytes.")
    return data


def _parse_fields(text: str) -> IntakeFields:
    try:
        return IntakeFields.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise InputError(
            Reason.INVALID_REQUEST, f"The intake fields are malformed ({type(exc).__name__})."
        ) from None


def start_capture(ctx: AppContext, opened: reg.Opened, *, clerk: Principal) -> OpenedOut:
    """Create the live session for an opened registration and return what the page needs."""
    models = ctx.liveness_models()
    session = LivenessSession(opened.challenge, analyzer=models.analyzer(), embedder=models.embedder)
    events = session.start(opened.challenge.issued_at)
    ctx.captures.add(
        CaptureSession(
            registration_id=opened.registration_id,
            challenge=opened.challenge,
            session=session,
            clerk_id=clerk.user_id,
            outlet_id=clerk.outlet_id,
            phone=opened.phone,
            id_masked=opened.id_masked,
        )
    )
    ch = opened.challenge
    return OpenedOut(
        id=opened.registration_id,
        status="OPEN",
        id_masked=opened.id_masked,
        phone_number=opened.phone,
        policy_version=opened.policy_version,
        challenge=ChallengeOut(
            actions=[a.value for a in ch.actions], issued_at=ch.issued_at, deadline=ch.deadline
        ),
        server_time=ctx.clock(),
        events=[event_out(e) for e in events],
    )


@router.post("", status_code=201)
def open_registration(
    *,
    ctx: Ctx,
    clerk: Clerk,
    fields: Annotated[str, Form(description="IntakeFields as JSON")],
    portrait: Annotated[UploadFile | None, File(description="ID portrait (chip) or card photo (OCR)")] = None,
) -> OpenedOut:
    """Open a registration at the clerk's outlet: validate the ID, check the liveness lockout, pre-check
    policy, record consent, issue the liveness challenge and start the live session."""
    body = _parse_fields(fields)
    image = None
    if body.ocr_token:
        image = ctx.ocr_portraits.take(body.ocr_token)
    if image is None and portrait is not None:
        image = decode_image(_read_upload(ctx, portrait))
    doc = IdDocument(
        source=body.document_source,
        kind="resident_id",
        name=body.name.strip(),
        id_number=body.id_number.strip().upper(),
        birth_date=body.birth_date,
        sex=body.sex,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        portrait=image,
        address=body.address,
    )
    assert clerk.outlet_id is not None  # clerks are created with an outlet
    cmd = reg.OpenRegistration(
        document=doc,
        phone=body.phone_number,
        outlet_id=clerk.outlet_id,
        clerk_id=clerk.user_id,
        consent=body.consent,
        consent_text_version=body.consent_text_version,
        test_seed=ctx.settings.challenge_test_seed,
    )
    opened = reg.open_registration(cmd, deps=ctx.registration_deps())
    return start_capture(ctx, opened, clerk=clerk)


def _own_capture(ctx: AppContext, registration_id: str, clerk: Principal) -> CaptureSession:
    capture = ctx.captures.get(registration_id)
    if capture.clerk_id != clerk.user_id:
        raise NotFoundError(Reason.NOT_FOUND, "No capture is open for this registration.")
    return capture


@router.post("/{registration_id}/frames")
def submit_frames(
    *,
    ctx: Ctx,
    clerk: Clerk,
    registration_id: str,
    frames: Annotated[list[UploadFile], File(description="JPEG frames in capture order")],
    timestamps: Annotated[str, Form(description="JSON list of capture times (Unix seconds)")],
) -> FramesOut:
    """Push a batch of live frames into the session; returns the progress events they caused."""
    capture = _own_capture(ctx, registration_id, clerk)
    try:
        times = [float(t) for t in json.loads(timestamps)]
    except (ValueError, TypeError):
        raise InputError(Reason.INVALID_REQUEST, "timestamps must be a JSON list of numbers") from None
    if len(times) != len(frames) or not frames:
        raise InputError(Reason.INVALID_REQUEST, "one timestamp per frame is needed")
    if len(frames) > MAX_FRAMES_PER_POST:
        raise InputError(Reason.REQUEST_TOO_LARGE, f"at most {MAX_FRAMES_PER_POST} frames per request")
    decoded = [Frame(decode_image(_read_upload(ctx, f)), t) for f, t in zip(frames, times, strict=True)]
    events = push_frames(capture, decoded, models_lock=ctx.models_lock)
    waiting = capture.session.waiting_for
    return FramesOut(
        events=[event_out(e) for e in events],
        finished=capture.session.done,
        waiting_for=None if waiting is None else waiting.value,
        frames=capture.frames,
    )


@router.post("/{registration_id}/finish")
def finish(*, ctx: Ctx, clerk: Clerk, registration_id: str) -> RegistrationOut:
    """End the capture and decide: liveness, 1:1 match, 1:N search, policy -> outcome with reasons."""
    capture = _own_capture(ctx, registration_id, clerk)
    deps = ctx.registration_deps()
    with capture.lock, ctx.models_lock:
        result = capture.session.finish()  # kept by the session: a failed decision can be retried
        decided = reg.submit_liveness(registration_id, result, deps=deps, actor=f"clerk:{clerk.user_id}")
        ctx.captures.pop(registration_id)
    ctx.metrics.decisions.labels(decided.outcome.value).inc()
    return RegistrationOut(
        id=registration_id,
        status=decided.outcome.value,
        id_masked=capture.id_masked,
        phone_number=capture.phone,
        outlet_id=capture.outlet_id,
        reasons=reasons_out(decided.reasons),
        scores=dict(decided.scores),
        thresholds=dict(decided.thresholds),
        policy_version=decided.policy_version,
    )


def _row_out(row: dict[str, Any]) -> RegistrationOut:
    return RegistrationOut(
        id=row["id"],
        status=row["status"],
        kind=row["kind"],
        id_masked=row["id_masked"],
        phone_number=row["phone_number"],
        outlet_id=row["outlet_id"],
        reasons=reasons_out(row["reasons"]),
        scores={k: float(v) for k, v in (row["scores"] or {}).items() if isinstance(v, int | float)},
        thresholds={k: float(v) for k, v in (row["thresholds"] or {}).items() if isinstance(v, int | float)},
        policy_version=row["policy_version"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


def _visible_outlet(staff: Principal, outlet_id: int | None) -> int | None:
    """Clerks see only their own outlet; other roles may filter by any outlet."""
    return staff.outlet_id if staff.role is Role.CLERK else outlet_id


@router.get("")
def list_registrations(
    *,
    ctx: Ctx,
    staff: AnyStaff,
    outlet_id: int | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RegistrationList:
    """Recent registrations, newest first (clerks: their outlet only)."""
    rows = queries.list_registrations(
        ctx.read_engine, outlet_id=_visible_outlet(staff, outlet_id), status=status, limit=limit
    )
    return RegistrationList(items=[_row_out(r) for r in rows], count=len(rows))


@router.get("/{registration_id}")
def get_registration(*, ctx: Ctx, staff: AnyStaff, registration_id: str) -> RegistrationOut:
    """One registration (clerks: only their outlet's)."""
    row = queries.get_registration(ctx.read_engine, registration_id)
    if row is None or (staff.role is Role.CLERK and row["outlet_id"] != staff.outlet_id):
        raise NotFoundError(Reason.NOT_FOUND, "No such registration.")
    return _row_out(row)
