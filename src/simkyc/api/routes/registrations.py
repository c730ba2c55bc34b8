"""The clerk's registration flow: open (ID + consent) -> stream frames (progress events) -> finish
(decision); plus the outlet's list and one registration's public view.

Only masked ID numbers leave the server; templates and images never do.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field, ValidationError

from simkyc.api import queries
from simkyc.api.capture_store import CaptureMeta, RawFrame
from simkyc.api.context import AppContext
from simkyc.api.deps import AnyStaff, Clerk, Ctx
from simkyc.core.documents.chip import ethnicity_name
from simkyc.core.documents.document import IdDocument
from simkyc.core.images import decode_portrait, frame_pixels
from simkyc.core.liveness.light import colour_rgb
from simkyc.core.liveness.types import ProgressEvent
from simkyc.errors import ConflictError, InputError, NotFoundError, Reason
from simkyc.service import registration as reg
from simkyc.service.auth import Principal, Role

router = APIRouter(prefix="/api/registrations", tags=["registrations"])

MAX_FRAMES_PER_POST = 40
MAX_DECODED_PIXELS_PER_POST = 24_000_000  # decoded RGB per request: 72 MB (40 frames of 640x480 are 12 MP)
MAX_FIELDS_CHARS = 16_384
DB_INT_MAX = 2_147_483_647  # the id columns are 32-bit integers on PostgreSQL


def _parse_timestamps(text: str) -> list[float]:
    """A JSON list of finite numbers, or InputError (never a 500: depth, size and range are checked)."""
    if len(text) > 64 * MAX_FRAMES_PER_POST:
        raise InputError(Reason.INVALID_REQUEST, "timestamps must be a short JSON list of numbers")
    try:
        values = json.loads(text)
        times = [float(t) for t in values] if isinstance(values, list) else None
    except (ValueError, TypeError, OverflowError, RecursionError):
        times = None
    if times is None or not all(math.isfinite(t) for t in times):
        raise InputError(Reason.INVALID_REQUEST, "timestamps must be a JSON list of finite numbers")
    return times


def _parse_lights(text: str | None, n: int) -> list[int]:
    """The light stamps of a batch (a JSON list of integers >= -1, one per frame), or all -1 when absent."""
    if text is None:
        return [-1] * n
    lights: list[int] | None = None
    try:
        values = json.loads(text) if len(text) <= 8 * MAX_FRAMES_PER_POST else None
        if isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            lights = [int(v) for v in values]
    except (ValueError, TypeError, OverflowError, RecursionError):
        lights = None
    if lights is None or len(lights) != n or not all(-1 <= v < 64 for v in lights):
        raise InputError(Reason.INVALID_REQUEST, "lights must be a JSON list of step numbers, one per frame")
    return lights


class IntakeFields(BaseModel):
    """The ID fields as the clerk confirmed them, the number to bind, and the consent."""

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    sex: Literal["M", "F"]
    birth_date: dt.date
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # None = long-term (长期)
    address: str | None = Field(default=None, max_length=200)
    ethnicity: str | None = Field(default=None, max_length=16)  # GB 3304 name or code (民族)
    issuer: str | None = Field(default=None, max_length=64)  # issuing authority (签发机关)
    phone_number: str = Field(min_length=11, max_length=11)
    document_source: Literal["chip", "ocr"] = "chip"
    consent: bool = False
    consent_text_version: str | None = Field(default=None, max_length=64)
    ocr_token: str | None = Field(default=None, max_length=64)
    light_fallback: bool = False  # flash-sensitive customer: no colour flashes, a supervisor confirms


class LightStepOut(BaseModel):
    """One step of the light challenge: the colour to fill the screen with (#rrggbb) for `ms`."""

    colour: str
    rgb: str
    ms: int


class ChallengeOut(BaseModel):
    """What the customer must do, in order, before `deadline` (Unix seconds, server clock).

    `light`: the colours to flash, in order, before the actions (empty: no light challenge); each
    frame is then sent with the index of the step on screen when it was grabbed (`lights`).
    """

    actions: list[str]
    issued_at: float
    deadline: float
    light: list[LightStepOut] = []
    light_waived: bool = False


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
    face_in_view: bool = True  # the last frame showed a usable face (else the page hints)


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
    if len(text) > MAX_FIELDS_CHARS:
        raise InputError(
            Reason.INVALID_REQUEST, f"The intake fields may have at most {MAX_FIELDS_CHARS} characters."
        )
    try:
        return IntakeFields.model_validate(json.loads(text))
    except (ValueError, ValidationError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise InputError(
            Reason.INVALID_REQUEST, f"The intake fields are malformed ({type(exc).__name__})."
        ) from None


def start_capture(ctx: AppContext, opened: reg.Opened, *, clerk: Principal) -> OpenedOut:
    """Open the capture (any worker may continue it) and return what the page needs."""
    meta = CaptureMeta(
        registration_id=opened.registration_id,
        challenge_token=opened.challenge.to_token(),
        clerk_id=clerk.user_id,
        outlet_id=clerk.outlet_id,
        phone=opened.phone,
        id_masked=opened.id_masked,
        deadline=opened.challenge.deadline,
    )
    events = ctx.captures.open(meta, opened.challenge)
    ch = opened.challenge
    return OpenedOut(
        id=opened.registration_id,
        status="OPEN",
        id_masked=opened.id_masked,
        phone_number=opened.phone,
        policy_version=opened.policy_version,
        challenge=ChallengeOut(
            actions=[a.value for a in ch.actions],
            issued_at=ch.issued_at,
            deadline=ch.deadline,
            light=[
                LightStepOut(
                    colour=s.colour.value, rgb="#{:02x}{:02x}{:02x}".format(*colour_rgb(s.colour)), ms=s.ms
                )
                for s in ch.light
            ],
            light_waived=ch.light_waived,
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
        image = decode_portrait(_read_upload(ctx, portrait))
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
        ethnicity=ethnicity_name(body.ethnicity),
        issuer=(body.issuer or "").strip() or None,
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
        light_fallback=body.light_fallback,
    )
    opened = reg.open_registration(cmd, deps=ctx.registration_deps())
    return start_capture(ctx, opened, clerk=clerk)


@router.post("/{registration_id}/frames")
def submit_frames(
    *,
    ctx: Ctx,
    clerk: Clerk,
    registration_id: str,
    frames: Annotated[list[UploadFile], File(description="JPEG frames in capture order")],
    timestamps: Annotated[str, Form(description="JSON list of capture times (Unix seconds)")],
    seq: Annotated[
        int | None,
        Form(ge=0, description="The batch's number (0, 1, ...): a resent batch is recognised, not re-run"),
    ] = None,
    lights: Annotated[
        str | None,
        Form(
            description="JSON list, per frame, of the light-challenge step on screen when grabbed (-1: none)"
        ),
    ] = None,
) -> FramesOut:
    """Push a batch of live frames into the session; returns the progress events they caused."""
    times = _parse_timestamps(timestamps)
    if len(times) != len(frames) or not frames:
        raise InputError(Reason.INVALID_REQUEST, "one timestamp per frame is needed")
    if len(frames) > MAX_FRAMES_PER_POST:
        raise InputError(Reason.REQUEST_TOO_LARGE, f"at most {MAX_FRAMES_PER_POST} frames per request")
    stamps = _parse_lights(lights, len(frames))
    raw: list[RawFrame] = [
        (_read_upload(ctx, f), t) if lights is None else (_read_upload(ctx, f), t, k)
        for f, t, k in zip(frames, times, stamps, strict=True)
    ]
    if sum(frame_pixels(f[0]) for f in raw) > MAX_DECODED_PIXELS_PER_POST:  # headers only
        raise InputError(Reason.REQUEST_TOO_LARGE, "the frames of one request decode to too many pixels")
    capture, events = ctx.captures.push(registration_id, clerk.user_id, raw, seq=seq)
    waiting = capture.session.waiting_for
    return FramesOut(
        events=[event_out(e) for e in events],
        finished=capture.session.done,
        waiting_for=None if waiting is None else waiting.value,
        frames=capture.frames,
        face_in_view=capture.session.face_in_view,
    )


@router.post("/{registration_id}/finish")
def finish(*, ctx: Ctx, clerk: Clerk, registration_id: str) -> RegistrationOut:
    """End the capture and decide: liveness, 1:1 match, 1:N search, policy -> outcome with reasons.

    Asked again after the decision (a lost answer, a worker gone), it returns that decision."""
    try:
        capture = ctx.captures.claim(registration_id, clerk.user_id)
    except (NotFoundError, ConflictError):
        row = queries.get_registration(ctx.read_engine, registration_id)
        if row is None or row["outlet_id"] != clerk.outlet_id or row["status"] == "OPEN":
            raise
        return _row_out(row)
    deps = ctx.registration_deps()
    try:
        with capture.lock, ctx.models_lock:
            result = capture.session.finish()  # kept by the session: a failed decision can be retried
            decided = reg.submit_liveness(
                registration_id,
                result,
                deps=deps,
                actor=f"clerk:{clerk.user_id}",
                clerk_id=clerk.user_id,
                expect_challenge=capture.challenge.nonce,
            )
    except BaseException:
        ctx.captures.release(registration_id, decided=False)
        raise
    ctx.captures.release(registration_id, decided=True)
    ctx.metrics.decisions.labels(decided.outcome.value).inc()
    return RegistrationOut(
        id=registration_id,
        status=decided.outcome.value,
        kind=decided.kind,
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
    outlet_id: Annotated[int | None, Query(ge=0, le=DB_INT_MAX)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
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
