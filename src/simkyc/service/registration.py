"""Registration use cases, one database transaction each.

    open_registration    ID validated, lockout and policy pre-checked, consent recorded, challenge issued
    submit_frames        liveness -> 1:1 match vs the ID photo -> 1:N duplicate search -> policy -> decision
    submit_liveness      the same from an already finished liveness session (the web streams frames)
    review               a supervisor closes a REVIEW case (evidence deleted either way)
    cancel_number        a number is cancelled; the last one takes the face template with it
    open_reverification  a second live check of an existing number, against the stored template
    customer_report      every number under the customer's own ID
    platform_check       name + ID number + phone -> consistent | inconsistent | no_record

The heavy work (liveness, face analysis, search) runs *outside* the transaction; the decision is
then taken and written in one short transaction that holds the identity row (PostgreSQL
`SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), so two registrations for one ID at the same
moment are decided one after the other and never exceed the quota. A number is bound only in
the transaction that records an APPROVED decision. Raw images are never stored, except the ID
portrait of an open registration and REVIEW evidence, both AES-GCM encrypted and deleted at
decision, on review close, or by `simkyc retention run`.

With `RegistrationDeps.lockout` set (the service sets it), each decision counts its liveness
outcome for the ID (`simkyc.service.lockout`, same transaction), and an ID with too many recent
failures cannot open a registration or a re-verification (LIVENESS_LOCKED).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from simkyc.core.documents.document import IdDocument, validate_document
from simkyc.core.documents.id_number import mask_id_number
from simkyc.core.faces.fusion import fuse_templates
from simkyc.core.faces.types import Image
from simkyc.core.liveness.challenge import Challenge, new_challenge, verify_challenge
from simkyc.core.liveness.types import Frame, LivenessResult
from simkyc.core.policy import Decision, Evidence, Holdings, Outcome, Policy, Thresholds, decide, precheck
from simkyc.errors import (
    AuthError,
    ConflictError,
    DocumentError,
    FaceError,
    InputError,
    NotFoundError,
    PolicyError,
    Reason,
    SimkycError,
)
from simkyc.service import lockout
from simkyc.service.lockout import LockoutConfig
from simkyc.store import Database, UnitOfWork
from simkyc.store.fields import (
    aad_evidence,
    aad_id_photo,
    aad_identity,
    aad_template,
    arrays_from_bytes,
    arrays_to_bytes,
    template_from_bytes,
    template_to_bytes,
)
from simkyc.store.schema import (
    face_template,
    identity,
    outlet,
    phone_number,
    registration,
    review_case,
    staff_user,
)

__all__ = [
    "Candidate",
    "CaptureAssessment",
    "FaceAnalyzer",
    "LivenessRunner",
    "NumberRecord",
    "OpenRegistration",
    "Opened",
    "PlatformAnswer",
    "RegistrationDeps",
    "RegistrationResult",
    "ReviewEvidence",
    "assess_capture",
    "cancel_number",
    "customer_report",
    "mask_phone",
    "open_registration",
    "open_reverification",
    "platform_check",
    "record_decision",
    "registration_status",
    "reverify",
    "review",
    "review_evidence",
    "submit_frames",
    "submit_liveness",
    "template_records",
]

_log = logging.getLogger(__name__)

PlatformAnswer = Literal["consistent", "inconsistent", "no_record"]
HELD = ("active", "suspended")  # statuses that count against the quota
EVIDENCE_MAX_SIDE = 320  # px; REVIEW evidence frames are shrunk to this
_PHONE = re.compile(r"^1[3-9]\d{9}$")


# --- collaborators ----------------------------------------------------------------------------


class FaceAnalyzer(Protocol):
    """The slice of `simkyc.core.faces.pipeline.FacePipeline` the service uses."""

    @property
    def embedder_name(self) -> str: ...

    @property
    def embedder_version(self) -> str: ...

    def analyze(self, image: Image, *, kind: Literal["live", "id_photo"] = "live") -> Any: ...


class LivenessRunner(Protocol):
    """Runs a whole liveness session over captured frames (`simkyc.service.liveness`)."""

    def __call__(self, challenge: Challenge, frames: Sequence[Frame]) -> LivenessResult: ...


class DuplicateIndex(Protocol):
    """The slice of `simkyc.search.TemplateIndex` the service uses."""

    def add(self, template_id: str, identity_key: str, template: npt.NDArray[np.float32]) -> None: ...

    def remove(self, template_id: str) -> bool: ...

    def save(self) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RegistrationDeps:
    """Everything the use cases need; built by `simkyc.bootstrap.registration_deps()` or by tests.

    `faces`, `liveness` and `index` are factories so that opening a registration or answering a
    platform check never loads a model. `lockout` turns the liveness lockout on (None: off).
    """

    db: Database
    policy: Policy
    thresholds: Callable[[], Thresholds]
    faces: Callable[[], FaceAnalyzer] | None = None
    liveness: Callable[[], LivenessRunner] | None = None
    index: Callable[[], DuplicateIndex | None] | None = None
    clock: Callable[[], datetime] = _utcnow
    review_days: int = 30
    lockout: LockoutConfig | None = None


@dataclass(frozen=True, slots=True)
class OpenRegistration:
    """What the clerk submits to start a registration. `test_seed` fixes the challenge (tests only)."""

    document: IdDocument
    phone: str
    outlet_id: int
    clerk_id: int
    consent: bool
    consent_text_version: str | None = None
    test_seed: int | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    registration_id: str
    challenge: Challenge
    id_masked: str
    phone: str
    policy_version: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A duplicate-search hit as a supervisor sees it: another identity's masked ID and the score."""

    identity_key: str
    id_masked: str
    score: float


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    registration_id: str
    outcome: Outcome
    reasons: tuple[Reason, ...]
    scores: dict[str, float]
    thresholds: dict[str, float]
    policy_version: str
    candidates: tuple[Candidate, ...] = ()
    next_challenge: Challenge | None = None  # RETRY: the fresh challenge for the next capture


@dataclass(frozen=True, slots=True)
class NumberRecord:
    number: str
    operator_id: str
    status: str
    bound_at: datetime
    outlet_code: str


@dataclass(frozen=True, slots=True)
class ReviewEvidence:
    registration_id: str
    id_photo: Image | None
    frames: list[Image]
    candidates: list[dict[str, Any]]
    reasons: list[str]
    scores: dict[str, float]


@dataclass
class CaptureAssessment:
    """What the heavy, transaction-free part measured about one capture."""

    evidence: Evidence
    template: npt.NDArray[np.float32] | None = None
    model_name: str = ""
    model_version: str = ""
    candidates: list[tuple[str, float]] = field(default_factory=list)  # (identity_key, score)
    searched: bool = False
    frames: list[Image] = field(default_factory=list, repr=False)


# --- helpers ----------------------------------------------------------------------------------


def mask_phone(number: str) -> str:
    return number[:3] + "****" + number[-4:] if len(number) >= 7 else "****"


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything simkyc stores is UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def identity_key(identity_id: int) -> str:
    return f"i{identity_id}"


def template_key(template_id: int) -> str:
    return f"t{template_id}"


def _image_to_array(image: Image) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(image, dtype=np.uint8)


def _evidence_image(image: Image, max_side: int = EVIDENCE_MAX_SIDE) -> npt.NDArray[np.uint8]:
    """A live frame as kept for a reviewer: enough to see the face, no more (data minimisation)."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return _image_to_array(image)
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small, dtype=np.uint8)


def _holdings(conn: Connection, *, identity_id: int, operator_id: str) -> Holdings:
    held = conn.execute(
        select(phone_number.c.operator_id, func.count())
        .where(phone_number.c.identity_id == identity_id, phone_number.c.status.in_(HELD))
        .group_by(phone_number.c.operator_id)
    ).all()
    by_op = {r[0]: int(r[1]) for r in held}
    last = conn.execute(
        select(func.max(registration.c.decided_at)).where(
            registration.c.identity_id == identity_id,
            registration.c.operator_id == operator_id,
            registration.c.kind == "new",
            registration.c.status == Outcome.APPROVED.value,
        )
    ).scalar()
    return Holdings(
        active_with_operator=by_op.get(operator_id, 0),
        active_nationwide=sum(by_op.values()),
        last_new_with_operator=_aware(last),
    )


def _document_fields(doc: IdDocument) -> dict[str, Any]:
    return {
        "id_number": doc.id_number.strip().upper(),
        "name": doc.name,
        "kind": doc.kind,
        "birth_date": doc.birth_date.isoformat() if doc.birth_date else None,
        "sex": str(doc.sex) if doc.sex is not None else None,
        "nationality": doc.nationality,
        "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
    }


def _upsert_identity(uow: UnitOfWork, doc: IdDocument, now: datetime) -> tuple[int, str]:
    """The identity row for the document's ID number (created on first sight); returns (id, masked)."""
    keys = uow.keys
    id_hash = keys.lookup_hash(doc.id_number)
    masked = mask_id_number(doc.id_number)
    key_id, blob = keys.encrypt_json(_document_fields(doc), aad=aad_identity(id_hash))
    values = {
        "id_hash": id_hash,
        "id_masked": masked,
        "fields_enc": blob,
        "name_hash": keys.name_hash(doc.name),
        "key_id": key_id,
        "created_at": now,
        "updated_at": now,
    }
    ins = pg_insert(identity) if uow.dialect == "postgresql" else sqlite_insert(identity)
    uow.conn.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["id_hash"]))
    row = uow.conn.execute(select(identity.c.id).where(identity.c.id_hash == id_hash)).one()
    uow.lock_identity(row.id)
    # An existing identity's fields change only when a registration with the new card is APPROVED
    # (`_refresh_identity`): a refused attempt with an altered card must not rename the holder.
    return int(row.id), masked


def _fields_array(doc: IdDocument) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(_document_fields(doc), ensure_ascii=False).encode(), dtype=np.uint8)


def _refresh_identity(uow: UnitOfWork, identity_id: int, arrays: dict[str, Any], now: datetime) -> None:
    """Store the card fields of an approved registration on its identity (a renewed card, a new name)."""
    if "fields" not in arrays:
        return
    fields = json.loads(np.asarray(arrays["fields"], dtype=np.uint8).tobytes())
    id_hash = uow.conn.execute(select(identity.c.id_hash).where(identity.c.id == identity_id)).scalar_one()
    key_id, blob = uow.keys.encrypt_json(fields, aad=aad_identity(id_hash))
    uow.conn.execute(
        update(identity)
        .where(identity.c.id == identity_id)
        .values(fields_enc=blob, key_id=key_id, name_hash=uow.keys.name_hash(fields["name"]), updated_at=now)
    )


def _refuse(uow: UnitOfWork, exc: SimkycError, *, actor: str, obj: str, details: dict[str, Any]) -> None:
    """Record a refusal in the audit log (its own commit), then raise it."""
    uow.rollback()
    with uow.db.uow() as audit_uow:
        audit_uow.audit(
            actor=actor,
            action="registration.refused",
            obj=obj,
            details={**details, "reason": str(exc.reason)},
        )
        audit_uow.commit()
    raise exc


def _refuse_if_locked(
    uow: UnitOfWork,
    deps: RegistrationDeps,
    id_hash: str,
    *,
    now: datetime,
    actor: str,
    details: dict[str, Any],
) -> None:
    """Refuse (audited) while the ID is locked out after failed liveness checks; no-op without a lockout."""
    if deps.lockout is None:
        return
    try:
        lockout.check(uow.conn, id_hash, now=now, config=deps.lockout)
    except PolicyError as exc:
        _refuse(uow, exc, actor=actor, obj="registration:-", details=details)


# --- open -------------------------------------------------------------------------------------


def open_registration(cmd: OpenRegistration, *, deps: RegistrationDeps) -> Opened:
    """Validate the ID, pre-check the policy, record consent, issue the liveness challenge.

    :raises DocumentError: the document fails validation (first reason; all in `detail`).
    :raises PolicyError: LIVENESS_LOCKED, CONSENT_MISSING, QUOTA_EXCEEDED, TOO_FREQUENT, BLOCKLISTED, ...
    :raises ConflictError: PHONE_NUMBER_TAKEN.
    """
    policy, now = deps.policy, deps.clock()
    doc = cmd.document
    phone = cmd.phone.strip()
    actor = f"clerk:{cmd.clerk_id}"
    masked = mask_id_number(doc.id_number)
    base = {
        "id_masked": masked,
        "phone": mask_phone(phone),
        "outlet": cmd.outlet_id,
        "policy": policy.version,
    }
    with deps.db.uow() as uow:
        clerk = uow.conn.execute(
            select(staff_user.c.role, staff_user.c.outlet_id, staff_user.c.active).where(
                staff_user.c.id == cmd.clerk_id
            )
        ).first()
        if clerk is None or not clerk.active or clerk.outlet_id != cmd.outlet_id:
            raise AuthError(Reason.FORBIDDEN, "the clerk is not active at this outlet")
        _refuse_if_locked(uow, deps, uow.keys.lookup_hash(doc.id_number), now=now, actor=actor, details=base)
        op = uow.conn.execute(select(outlet.c.operator_id).where(outlet.c.id == cmd.outlet_id)).scalar_one()
        if not _PHONE.match(phone):
            _refuse(
                uow, InputError(Reason.PHONE_NUMBER_INVALID), actor=actor, obj="registration:-", details=base
            )
        check = validate_document(doc, today=now.date(), min_age=policy.min_age, require_portrait=True)
        if not check.ok:
            err = DocumentError(check.reasons[0], detail={"reasons": [str(r) for r in check.reasons]})
            _refuse(
                uow, err, actor=actor, obj="registration:-", details={**base, "reasons": list(check.reasons)}
            )
        if not cmd.consent:
            _refuse(uow, PolicyError(Reason.CONSENT_MISSING), actor=actor, obj="registration:-", details=base)
        taken = uow.conn.execute(
            select(phone_number.c.status).where(
                phone_number.c.number == phone, phone_number.c.status.in_(HELD)
            )
        ).first()
        if taken is not None:
            _refuse(
                uow, ConflictError(Reason.PHONE_NUMBER_TAKEN), actor=actor, obj="registration:-", details=base
            )
        identity_id, masked = _upsert_identity(uow, doc, now)
        holdings = _holdings(uow.conn, identity_id=identity_id, operator_id=op)
        rules = precheck(policy, id_number=doc.id_number, phone=phone, holdings=holdings, now=now)
        if rules:
            refusal = PolicyError(rules[0], detail={"reasons": [str(r) for r in rules]})
            _refuse(uow, refusal, actor=actor, obj="registration:-", details={**base, "reasons": list(rules)})
        reg_id = uuid.uuid4().hex
        challenge = new_challenge(
            uow.keys.challenge,
            now=now.timestamp(),
            n_actions=policy.liveness_actions,
            ttl_s=float(policy.challenge_ttl_seconds),
            seed=cmd.test_seed,
        )
        assert doc.portrait is not None  # validate_document(require_portrait=True)
        key_id, photo_blob = uow.keys.encrypt(
            arrays_to_bytes({"id_photo": _image_to_array(doc.portrait), "fields": _fields_array(doc)}),
            aad=aad_id_photo(reg_id),
        )
        uow.conn.execute(
            insert(registration).values(
                id=reg_id,
                identity_id=identity_id,
                phone_number=phone,
                operator_id=op,
                outlet_id=cmd.outlet_id,
                clerk_id=cmd.clerk_id,
                kind="new",
                status="OPEN",
                reasons=[],
                scores={},
                thresholds={},
                policy_version=policy.version,
                document_source=doc.source,
                consent_text_version=cmd.consent_text_version or policy.consent_text_version,
                consent_at=now,
                challenge={"token": challenge.to_token()},
                challenge_nonce=challenge.nonce,
                test_seed=cmd.test_seed,
                attempts=0,
                id_photo_enc=photo_blob,
                key_id=key_id,
                created_at=now,
            )
        )
        uow.audit(
            actor=actor,
            action="registration.open",
            obj=f"registration:{reg_id}",
            details={
                **base,
                "identity": identity_key(identity_id),
                "document_source": doc.source,
                "consent_text_version": cmd.consent_text_version or policy.consent_text_version,
                "challenge_actions": [a.value for a in challenge.actions],
                "test_seed": cmd.test_seed,
            },
            at=now,
        )
        uow.commit()
    return Opened(reg_id, challenge, masked, phone, policy.version)


def open_reverification(
    number: str, *, outlet_id: int, clerk_id: int, deps: RegistrationDeps, test_seed: int | None = None
) -> Opened:
    """Start a second live check of an existing number; the capture is compared to the stored template.

    :raises NotFoundError: NOT_FOUND when no one holds the number (active or suspended).
    :raises PolicyError: LIVENESS_LOCKED while the holder's ID is locked out.
    """
    policy, now = deps.policy, deps.clock()
    with deps.db.uow() as uow:
        row = uow.conn.execute(
            select(phone_number, identity.c.id_masked, identity.c.id_hash)
            .join(identity, identity.c.id == phone_number.c.identity_id)
            .where(phone_number.c.number == number, phone_number.c.status.in_(HELD))
        ).first()
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no active number")
        details = {"phone": mask_phone(number), "identity": identity_key(row.identity_id)}
        _refuse_if_locked(uow, deps, row.id_hash, now=now, actor=f"clerk:{clerk_id}", details=details)
        prev = uow.conn.execute(
            select(registration.c.consent_text_version).where(registration.c.id == row.registration_id)
        ).scalar_one()
        reg_id = uuid.uuid4().hex
        challenge = new_challenge(
            uow.keys.challenge,
            now=now.timestamp(),
            n_actions=policy.liveness_actions,
            ttl_s=float(policy.challenge_ttl_seconds),
            seed=test_seed,
        )
        uow.conn.execute(
            insert(registration).values(
                id=reg_id,
                identity_id=row.identity_id,
                phone_number=number,
                operator_id=row.operator_id,
                outlet_id=outlet_id,
                clerk_id=clerk_id,
                kind="reverify",
                status="OPEN",
                reasons=[],
                scores={},
                thresholds={},
                policy_version=policy.version,
                document_source="stored",
                consent_text_version=prev,
                consent_at=now,
                challenge={"token": challenge.to_token()},
                challenge_nonce=challenge.nonce,
                test_seed=test_seed,
                attempts=0,
                created_at=now,
            )
        )
        uow.audit(
            actor=f"clerk:{clerk_id}",
            action="registration.reverify_open",
            obj=f"registration:{reg_id}",
            details={"phone": mask_phone(number), "identity": identity_key(row.identity_id)},
            at=now,
        )
        uow.commit()
    return Opened(reg_id, challenge, row.id_masked, number, policy.version)


reverify = open_reverification  # the name in API.md: start a re-verification of an existing number


# --- submit -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OpenState:
    registration_id: str
    identity_id: int
    kind: str
    challenge: Challenge
    attempts: int
    id_photo: Image | None
    reference: npt.NDArray[np.float32] | None  # stored template (reverify)
    reference_model: str | None


def _load_open(deps: RegistrationDeps, registration_id: str) -> _OpenState:
    with deps.db.uow() as uow:
        row = uow.conn.execute(select(registration).where(registration.c.id == registration_id)).first()
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such registration")
        if row.status not in ("OPEN", "RETRY"):
            raise ConflictError(Reason.REGISTRATION_STATE, f"registration is {row.status}")
        photo = None
        if row.id_photo_enc is not None:
            arrays = arrays_from_bytes(
                uow.keys.decrypt(row.key_id, row.id_photo_enc, aad=aad_id_photo(registration_id))
            )
            photo = arrays["id_photo"]
        ref = ref_model = None
        if row.kind == "reverify":
            t = uow.conn.execute(
                select(face_template).where(face_template.c.identity_id == row.identity_id)
            ).first()
            if t is not None:
                ref_model = t.model_name
                ref = template_from_bytes(
                    uow.keys.decrypt(t.key_id, t.template_enc, aad=aad_template(t.identity_id, t.model_name))
                )
    return _OpenState(
        registration_id,
        int(row.identity_id),
        row.kind,
        Challenge.from_token(row.challenge["token"]),
        int(row.attempts),
        photo,
        ref,
        ref_model,
    )


def assess_capture(
    state_photo: Image | None,
    result: LivenessResult,
    *,
    faces: FaceAnalyzer,
    thresholds: Thresholds,
    attempt: int,
    reference: npt.NDArray[np.float32] | None = None,
    search: Callable[[npt.NDArray[np.float32]], list[tuple[str, float]]] | None = None,
) -> CaptureAssessment:
    """Liveness result -> 1:1 match of the best frames vs the ID photo (or stored template) -> search."""
    from simkyc.core.faces.quality import BLOCKING

    frames = list(result.best_frames)
    if not result.passed:
        ev = Evidence(liveness_passed=False, liveness_reasons=tuple(result.reasons), attempt=attempt)
        return CaptureAssessment(evidence=ev, frames=frames)
    ref = reference
    doc_reasons: tuple[Reason, ...] = ()
    if ref is None and state_photo is not None:
        try:
            ref = faces.analyze(state_photo, kind="id_photo").template
        except FaceError:
            doc_reasons = (Reason.ID_PHOTO_MISSING,)
    elif ref is None:
        doc_reasons = (Reason.ID_PHOTO_MISSING,)
    live_templates: list[npt.NDArray[np.float32]] = []
    findings: tuple[Reason, ...] = ()
    seen: list[Reason] = []
    for frame in frames:
        try:
            live = faces.analyze(frame, kind="live")
        except FaceError as exc:
            seen.append(exc.reason)
            continue
        blocking = tuple(f for f in live.quality.findings if f in BLOCKING)
        if blocking:
            seen.extend(blocking)
            continue
        live_templates.append(np.asarray(live.template, dtype=np.float32))
    # One template from all usable frames (averaged, as measured in `simkyc eval accuracy`): the
    # best of several per-frame scores would let impostors through more often than calibrated.
    live_template = fuse_templates(np.stack(live_templates)) if live_templates else None
    match_score = float(np.dot(live_template, ref)) if live_template is not None and ref is not None else None
    if live_template is None:
        findings = tuple(dict.fromkeys(seen)) or (Reason.NO_FACE,)
    candidates: list[tuple[str, float]] = []
    searched = False
    if live_template is not None and search is not None and not doc_reasons:
        candidates = search(live_template)
        searched = True
    ev = Evidence(
        liveness_passed=True,
        liveness_reasons=tuple(result.reasons),
        quality_findings=findings,
        match_score=match_score,
        duplicate_other_ids=len(candidates),
        document_reasons=doc_reasons,
        attempt=attempt,
    )
    return CaptureAssessment(
        evidence=ev,
        template=live_template,
        model_name=faces.embedder_name,
        model_version=faces.embedder_version,
        candidates=candidates,
        searched=searched,
        frames=frames,
    )


def submit_frames(
    registration_id: str, frames: Sequence[Frame], *, deps: RegistrationDeps, actor: str
) -> RegistrationResult:
    """Run the liveness session over `frames`, then decide (see `submit_liveness`)."""
    if deps.liveness is None:
        raise InputError(Reason.INVALID_REQUEST, "no liveness runner configured")
    state = _load_open(deps, registration_id)
    try:
        verify_challenge(state.challenge, deps.db.keys.challenge, now=deps.clock().timestamp())
    except SimkycError as exc:
        result = LivenessResult(
            passed=False, reasons=(exc.reason,), action_times={}, best_frames=[], scores={}
        )
    else:
        result = deps.liveness()(state.challenge, frames)
    return submit_liveness(registration_id, result, deps=deps, actor=actor, _state=state)


def submit_liveness(
    registration_id: str,
    result: LivenessResult,
    *,
    deps: RegistrationDeps,
    actor: str,
    _state: _OpenState | None = None,
) -> RegistrationResult:
    """Decide a registration from a finished liveness session: match, search, policy, record."""
    state = _state or _load_open(deps, registration_id)
    thresholds = deps.thresholds()
    index = deps.index() if deps.index is not None else None
    search = None
    if index is not None and state.kind == "new":
        from simkyc.search import find_duplicates

        own = identity_key(state.identity_id)

        def search(t: npt.NDArray[np.float32]) -> list[tuple[str, float]]:
            hits = find_duplicates(
                index,  # type: ignore[arg-type]
                t,
                threshold=thresholds.duplicate,
                identity_key=own,
                k=deps.policy.duplicate_k,
            )
            return [(h.identity_key, h.score) for h in hits]

    if deps.faces is None:
        raise InputError(Reason.INVALID_REQUEST, "no face pipeline configured")
    assessment = assess_capture(
        state.id_photo,
        result,
        faces=deps.faces(),
        thresholds=thresholds,
        attempt=state.attempts + 1,
        reference=state.reference,
        search=search,
    )
    return record_decision(registration_id, assessment, deps=deps, actor=actor, thresholds=thresholds)


def record_decision(
    registration_id: str,
    assessment: CaptureAssessment,
    *,
    deps: RegistrationDeps,
    actor: str,
    thresholds: Thresholds,
) -> RegistrationResult:
    """The decision transaction: lock the identity, re-check the rules, decide, write, audit."""
    policy, now = deps.policy, deps.clock()
    added: tuple[str, str, npt.NDArray[np.float32]] | None = None
    next_challenge: Challenge | None = None
    try:
        with deps.db.uow() as uow:
            conn = uow.conn
            reg = conn.execute(select(registration).where(registration.c.id == registration_id)).first()
            if reg is None:
                raise NotFoundError(Reason.NOT_FOUND, "no such registration")
            uow.lock_identity(reg.identity_id)
            reg = conn.execute(select(registration).where(registration.c.id == registration_id)).one()
            if reg.status not in ("OPEN", "RETRY"):  # decided by a concurrent submit
                raise ConflictError(Reason.REGISTRATION_STATE, f"registration is {reg.status}")
            holdings = _holdings(conn, identity_id=reg.identity_id, operator_id=reg.operator_id)
            who = conn.execute(
                select(identity.c.key_id, identity.c.fields_enc, identity.c.id_hash).where(
                    identity.c.id == reg.identity_id
                )
            ).one()
            fields = uow.keys.decrypt_json(who.key_id, who.fields_enc, aad=aad_identity(who.id_hash))
            rules = list(
                precheck(
                    policy,
                    id_number=fields["id_number"],
                    phone=reg.phone_number,
                    holdings=holdings,
                    now=now,
                    kind=reg.kind,
                )
            )
            if reg.kind == "new":
                holder = conn.execute(
                    select(phone_number.c.identity_id, phone_number.c.status).where(
                        phone_number.c.number == reg.phone_number
                    )
                ).first()
                if holder is not None and holder.status in HELD:
                    rules.append(Reason.PHONE_NUMBER_TAKEN)
            decision = decide(policy, assessment.evidence, thresholds=thresholds, rule_reasons=tuple(rules))
            candidates = _candidates(conn, assessment.candidates)
            if assessment.searched:
                uow.audit(
                    actor=actor,
                    action="search.duplicates",
                    obj=f"registration:{registration_id}",
                    details={
                        "threshold": thresholds.duplicate,
                        "k": policy.duplicate_k,
                        "hits": len(candidates),
                        "candidates": [
                            {"identity": c.identity_key, "score": round(c.score, 4)} for c in candidates
                        ],
                    },
                    at=now,
                )
            added = _apply(uow, reg, decision, assessment, candidates, now=now, review_days=deps.review_days)
            if deps.lockout is not None and lockout.record(
                conn, who.id_hash, passed=assessment.evidence.liveness_passed, now=now, config=deps.lockout
            ):
                uow.audit(
                    actor=actor,
                    action="liveness.lockout",
                    obj=f"identity:{identity_key(reg.identity_id)}",
                    details={
                        "registration": registration_id,
                        "failures": deps.lockout.max_failures,
                        "window_s": deps.lockout.window,
                        "lock_s": deps.lockout.lock_for,
                    },
                    at=now,
                )
            retry_values: dict[str, Any] = {}
            if decision.outcome is Outcome.RETRY:  # a used or expired challenge never serves twice
                next_challenge = new_challenge(
                    uow.keys.challenge,
                    now=now.timestamp(),
                    n_actions=policy.liveness_actions,
                    ttl_s=float(policy.challenge_ttl_seconds),
                    seed=reg.test_seed,
                )
                retry_values = {
                    "challenge": {"token": next_challenge.to_token()},
                    "challenge_nonce": next_challenge.nonce,
                }
            uow.conn.execute(
                update(registration)
                .where(registration.c.id == registration_id)
                .values(
                    **retry_values,
                    status=decision.outcome.value,
                    decision=decision.outcome.value,
                    reasons=[str(r) for r in decision.reasons],
                    scores=decision.scores,
                    thresholds=decision.thresholds,
                    model_name=assessment.model_name or None,
                    model_version=assessment.model_version or None,
                    policy_version=decision.policy_version,
                    attempts=assessment.evidence.attempt,
                    decided_at=None if decision.outcome is Outcome.RETRY else now,
                )
            )
            uow.audit(
                actor=actor,
                action="registration.decide",
                obj=f"registration:{registration_id}",
                details={
                    "outcome": decision.outcome.value,
                    "reasons": [str(r) for r in decision.reasons],
                    "scores": decision.scores,
                    "thresholds": decision.thresholds,
                    "policy": decision.policy_version,
                    "model": f"{assessment.model_name}/{assessment.model_version}",
                    "kind": reg.kind,
                    "phone": mask_phone(reg.phone_number),
                    "attempt": assessment.evidence.attempt,
                },
                at=now,
            )
            uow.commit()
    except IntegrityError:
        raise ConflictError(Reason.PHONE_NUMBER_TAKEN, "the number was bound concurrently") from None
    _index_add(deps, added)
    return RegistrationResult(
        registration_id,
        decision.outcome,
        decision.reasons,
        decision.scores,
        decision.thresholds,
        decision.policy_version,
        tuple(candidates),
        next_challenge,
    )


def _candidates(conn: Connection, hits: list[tuple[str, float]]) -> list[Candidate]:
    out = []
    for key, score in hits:
        masked = conn.execute(select(identity.c.id_masked).where(identity.c.id == int(key[1:]))).scalar()
        out.append(Candidate(key, masked or "?", float(score)))
    return out


def _index_add(deps: RegistrationDeps, added: tuple[str, str, npt.NDArray[np.float32]] | None) -> None:
    """After commit: the database is the truth, the index catches up (and is reconciled at start)."""
    if added is None or deps.index is None:
        return
    index = deps.index()
    if index is None:
        return
    try:
        index.add(*added)
        index.save()
    except (SimkycError, OSError) as exc:  # committed already: the start-up reconcile repairs the index
        _log.warning("index update failed after commit (%s); reconcile will repair it", type(exc).__name__)


def _bind_number(conn: Connection, reg: Any, now: datetime) -> None:
    existing = conn.execute(
        select(phone_number.c.status).where(phone_number.c.number == reg.phone_number)
    ).first()
    values = {
        "status": "active",
        "operator_id": reg.operator_id,
        "identity_id": reg.identity_id,
        "registration_id": reg.id,
        "bound_at": now,
        "cancelled_at": None,
    }
    if existing is None:
        conn.execute(insert(phone_number).values(number=reg.phone_number, **values))
    elif existing.status in HELD:  # never re-bind a number someone holds
        raise ConflictError(Reason.PHONE_NUMBER_TAKEN)
    else:
        conn.execute(
            update(phone_number)
            .where(phone_number.c.number == reg.phone_number, phone_number.c.status == "cancelled")
            .values(**values)
        )


def _store_template(
    uow: UnitOfWork,
    *,
    identity_id: int,
    registration_id: str,
    template: npt.NDArray[np.float32],
    model: str,
    version: str,
    now: datetime,
) -> tuple[str, str, npt.NDArray[np.float32]]:
    key_id, blob = uow.keys.encrypt(template_to_bytes(template), aad=aad_template(identity_id, model))
    conn = uow.conn
    tid = conn.execute(
        select(face_template.c.id).where(
            face_template.c.identity_id == identity_id, face_template.c.model_name == model
        )
    ).scalar()
    values = {
        "registration_id": registration_id,
        "template_enc": blob,
        "key_id": key_id,
        "model_version": version,
        "created_at": now,
    }
    if tid is None:
        tid = conn.execute(
            insert(face_template).values(identity_id=identity_id, model_name=model, **values)
        ).inserted_primary_key[0]  # type: ignore[index]
    else:
        conn.execute(update(face_template).where(face_template.c.id == tid).values(**values))
    return template_key(int(tid)), identity_key(identity_id), template


def _apply(
    uow: UnitOfWork,
    reg: Any,
    decision: Decision,
    assessment: CaptureAssessment,
    candidates: list[Candidate],
    *,
    now: datetime,
    review_days: int,
) -> tuple[str, str, npt.NDArray[np.float32]] | None:
    """Write what the outcome implies: number binding, template, review case, evidence cleanup."""
    conn = uow.conn
    outcome = decision.outcome
    added = None
    keep_photo = outcome is Outcome.RETRY
    if reg.kind == "new" and outcome is Outcome.APPROVED:
        _bind_number(conn, reg, now)
        if reg.id_photo_enc is not None:
            pending = arrays_from_bytes(
                uow.keys.decrypt(reg.key_id, reg.id_photo_enc, aad=aad_id_photo(reg.id))
            )
            _refresh_identity(uow, reg.identity_id, pending, now)
        if assessment.template is not None:
            added = _store_template(
                uow,
                identity_id=reg.identity_id,
                registration_id=reg.id,
                template=assessment.template,
                model=assessment.model_name,
                version=assessment.model_version,
                now=now,
            )
    elif reg.kind == "reverify" and outcome in (Outcome.APPROVED, Outcome.REJECTED):
        conn.execute(
            update(phone_number)
            .where(phone_number.c.number == reg.phone_number, phone_number.c.status.in_(HELD))
            .values(status="active" if outcome is Outcome.APPROVED else "suspended")
        )
    if outcome is Outcome.REVIEW:
        arrays: dict[str, npt.NDArray[Any]] = {
            f"frame_{i}": _evidence_image(f) for i, f in enumerate(assessment.frames[:3])
        }
        if reg.id_photo_enc is not None:
            arrays |= arrays_from_bytes(
                uow.keys.decrypt(reg.key_id, reg.id_photo_enc, aad=aad_id_photo(reg.id))
            )
        if assessment.template is not None:
            arrays["template"] = assessment.template
        key_id, blob = uow.keys.encrypt(arrays_to_bytes(arrays), aad=aad_evidence(reg.id))
        conn.execute(
            insert(review_case).values(
                registration_id=reg.id,
                status="open",
                reasons=[str(r) for r in decision.reasons],
                candidates=[
                    {"identity": c.identity_key, "id_masked": c.id_masked, "score": c.score}
                    for c in candidates
                ],
                evidence_enc=blob,
                key_id=key_id,
                created_at=now,
                expires_at=now + timedelta(days=review_days),
            )
        )
    if not keep_photo:
        conn.execute(
            update(registration).where(registration.c.id == reg.id).values(id_photo_enc=None, key_id=None)
        )
    return added


# --- review -----------------------------------------------------------------------------------


def review(
    registration_id: str, *, approve: bool, supervisor_id: int, note: str = "", deps: RegistrationDeps
) -> RegistrationResult:
    """A supervisor closes a REVIEW case. Approval re-checks the quota under the identity lock.

    :raises PolicyError: approval would break a rule now (e.g. the quota filled meanwhile).
    """
    policy, now = deps.policy, deps.clock()
    added = None
    with deps.db.uow() as uow:
        conn = uow.conn
        role = conn.execute(
            select(staff_user.c.role, staff_user.c.active).where(staff_user.c.id == supervisor_id)
        ).first()
        if role is None or not role.active or role.role not in ("supervisor", "admin"):
            raise AuthError(Reason.FORBIDDEN, "only a supervisor may decide a review")
        reg = conn.execute(select(registration).where(registration.c.id == registration_id)).first()
        if reg is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such registration")
        uow.lock_identity(reg.identity_id)
        case = conn.execute(
            select(review_case).where(review_case.c.registration_id == registration_id)
        ).first()
        if case is None or case.status != "open" or reg.status != "REVIEW":
            raise ConflictError(Reason.REGISTRATION_STATE, "no open review for this registration")
        reasons = [*reg.reasons]
        if approve:
            holdings = _holdings(conn, identity_id=reg.identity_id, operator_id=reg.operator_id)
            fields = _identity_fields(uow, reg.identity_id)
            rules = precheck(
                policy,
                id_number=fields["id_number"],
                phone=reg.phone_number,
                holdings=holdings,
                now=now,
                kind=reg.kind,
            )
            if rules:
                raise PolicyError(rules[0], detail={"reasons": [str(r) for r in rules]})
            evidence = arrays_from_bytes(
                uow.keys.decrypt(case.key_id, case.evidence_enc, aad=aad_evidence(reg.id))
            )
            if reg.kind == "new":
                _bind_number(conn, reg, now)
                _refresh_identity(uow, reg.identity_id, evidence, now)
                if "template" in evidence and reg.model_name:
                    added = _store_template(
                        uow,
                        identity_id=reg.identity_id,
                        registration_id=reg.id,
                        template=evidence["template"].astype(np.float32),
                        model=reg.model_name,
                        version=reg.model_version or "",
                        now=now,
                    )
            else:
                conn.execute(
                    update(phone_number)
                    .where(phone_number.c.number == reg.phone_number)
                    .values(status="active")
                )
            reasons.append(str(Reason.REVIEW_APPROVED))
            outcome = Outcome.APPROVED
        else:
            reasons.append(str(Reason.REVIEW_REJECTED))
            outcome = Outcome.REJECTED
            if reg.kind == "reverify":
                conn.execute(
                    update(phone_number)
                    .where(phone_number.c.number == reg.phone_number)
                    .values(status="suspended")
                )
        conn.execute(
            update(review_case)
            .where(review_case.c.id == case.id)
            .values(
                status="closed",
                evidence_enc=None,
                key_id=None,
                closed_at=now,
                closed_by=supervisor_id,
                outcome=outcome.value,
                note=note[:2000],
            )
        )
        conn.execute(
            update(registration)
            .where(registration.c.id == registration_id)
            .values(
                status=outcome.value,
                decision=outcome.value,
                reasons=reasons,
                decided_at=now,
                decided_by=supervisor_id,
            )
        )
        uow.audit(
            actor=f"supervisor:{supervisor_id}",
            action="review.close",
            obj=f"registration:{registration_id}",
            details={"outcome": outcome.value, "evidence": "deleted", "note_chars": len(note)},
            at=now,
        )
        uow.commit()
    _index_add(deps, added)
    return RegistrationResult(
        registration_id,
        outcome,
        tuple(Reason(r) for r in reasons),
        dict(reg.scores),
        dict(reg.thresholds),
        reg.policy_version,
    )


def review_evidence(registration_id: str, *, actor: str, deps: RegistrationDeps) -> ReviewEvidence:
    """Decrypt a REVIEW case's evidence for a supervisor; the access itself is audited."""
    with deps.db.uow() as uow:
        case = uow.conn.execute(
            select(review_case).where(review_case.c.registration_id == registration_id)
        ).first()
        if case is None or case.status != "open" or case.evidence_enc is None:
            raise NotFoundError(Reason.NOT_FOUND, "no open review evidence")
        reg = uow.conn.execute(
            select(registration.c.scores).where(registration.c.id == registration_id)
        ).one()
        arrays = arrays_from_bytes(
            uow.keys.decrypt(case.key_id, case.evidence_enc, aad=aad_evidence(registration_id))
        )
        uow.audit(
            actor=actor,
            action="review.evidence_viewed",
            obj=f"registration:{registration_id}",
            at=deps.clock(),
        )
        uow.commit()
    frames = [arrays[k] for k in sorted(arrays) if k.startswith("frame_")]
    return ReviewEvidence(
        registration_id,
        arrays.get("id_photo"),
        frames,
        list(case.candidates),
        list(case.reasons),
        dict(reg.scores),
    )


def _identity_fields(uow: UnitOfWork, identity_id: int) -> dict[str, Any]:
    row = uow.conn.execute(
        select(identity.c.key_id, identity.c.fields_enc, identity.c.id_hash).where(
            identity.c.id == identity_id
        )
    ).one()
    data: dict[str, Any] = uow.keys.decrypt_json(row.key_id, row.fields_enc, aad=aad_identity(row.id_hash))
    return data


# --- numbers, reports, platform check ---------------------------------------------------------


def cancel_number(number: str, *, actor: str, deps: RegistrationDeps) -> bool:
    """Cancel a number. When it was the identity's last held number, its face template is deleted.

    Returns True when the template was deleted.
    """
    now = deps.clock()
    removed: list[str] = []
    with deps.db.uow() as uow:
        conn = uow.conn
        row = conn.execute(select(phone_number).where(phone_number.c.number == number)).first()
        if row is None or row.status not in HELD:
            raise NotFoundError(Reason.NOT_FOUND, "no active number")
        uow.lock_identity(row.identity_id)
        conn.execute(
            update(phone_number)
            .where(phone_number.c.number == number)
            .values(status="cancelled", cancelled_at=now)
        )
        left = conn.execute(
            select(func.count())
            .select_from(phone_number)
            .where(phone_number.c.identity_id == row.identity_id, phone_number.c.status.in_(HELD))
        ).scalar_one()
        if left == 0:
            removed = [
                template_key(t)
                for t in conn.execute(
                    select(face_template.c.id).where(face_template.c.identity_id == row.identity_id)
                ).scalars()
            ]
            conn.execute(delete(face_template).where(face_template.c.identity_id == row.identity_id))
        uow.audit(
            actor=actor,
            action="number.cancel",
            obj=f"number:{mask_phone(number)}",
            details={"identity": identity_key(row.identity_id), "templates_deleted": len(removed)},
            at=now,
        )
        uow.commit()
    if removed and deps.index is not None:
        index = deps.index()
        if index is not None:
            try:
                for key in removed:
                    index.remove(key)
                index.save()
            except (SimkycError, OSError) as exc:
                _log.warning(
                    "index removal failed after commit (%s); reconcile will repair it", type(exc).__name__
                )
    return bool(removed)


def customer_report(id_number: str, *, actor: str, deps: RegistrationDeps) -> list[NumberRecord]:
    """Every number ever bound under this ID (any operator, any status), for the holder themself."""
    with deps.db.uow() as uow:
        id_hash = uow.keys.lookup_hash(id_number)
        ident = uow.conn.execute(select(identity.c.id).where(identity.c.id_hash == id_hash)).scalar()
        rows: Sequence[Any] = []
        if ident is not None:
            rows = uow.conn.execute(
                select(phone_number, outlet.c.code)
                .join(registration, registration.c.id == phone_number.c.registration_id)
                .join(outlet, outlet.c.id == registration.c.outlet_id)
                .where(phone_number.c.identity_id == ident)
                .order_by(phone_number.c.bound_at)
            ).all()
        uow.audit(
            actor=actor,
            action="report.customer",
            obj=f"identity:{identity_key(ident) if ident is not None else '-'}",
            details={"id_masked": mask_id_number(id_number), "numbers": len(rows)},
            at=deps.clock(),
        )
        uow.commit()
    return [
        NumberRecord(r.number, r.operator_id, r.status, _aware(r.bound_at) or deps.clock(), r.code)
        for r in rows
    ]


def platform_check(
    *, name: str, id_number: str, phone: str, platform: str, deps: RegistrationDeps, audit: bool = True
) -> PlatformAnswer:
    """Is `phone` an active number of the person with this name and ID number? Nothing more is revealed."""
    with deps.db.uow() as uow:
        keys = uow.keys
        row = uow.conn.execute(
            select(identity.c.id_hash, identity.c.name_hash)
            .join(phone_number, phone_number.c.identity_id == identity.c.id)
            .where(phone_number.c.number == phone.strip(), phone_number.c.status == "active")
        ).first()
        if row is None:
            answer: PlatformAnswer = "no_record"
        elif row.id_hash == keys.lookup_hash(id_number) and row.name_hash == keys.name_hash(name):
            answer = "consistent"
        else:
            answer = "inconsistent"
        if audit:
            uow.audit(
                actor=f"platform:{platform}",
                action="platform.check",
                obj=f"number:{mask_phone(phone.strip())}",
                details={"answer": answer},
                at=deps.clock(),
            )
            uow.commit()
    return answer


def registration_status(registration_id: str, *, deps: RegistrationDeps) -> dict[str, Any]:
    """The public view of a registration (masked ID only)."""
    with deps.db.uow() as uow:
        row = uow.conn.execute(
            select(registration, identity.c.id_masked)
            .join(identity, identity.c.id == registration.c.identity_id)
            .where(registration.c.id == registration_id)
        ).first()
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such registration")
    return {
        "registration_id": row.id,
        "status": row.status,
        "kind": row.kind,
        "id_masked": row.id_masked,
        "phone": row.phone_number,
        "reasons": list(row.reasons),
        "scores": dict(row.scores),
        "thresholds": dict(row.thresholds),
        "policy_version": row.policy_version,
        "model": f"{row.model_name}/{row.model_version}" if row.model_name else None,
        "consent_text_version": row.consent_text_version,
        "test_seed": row.test_seed,
        "attempts": row.attempts,
    }


def template_records(db: Database) -> tuple[set[str], Callable[[frozenset[str]], list[tuple[str, str, Any]]]]:
    """The database's template ids and a fetcher of decrypted records (for `simkyc.search.reconcile`)."""
    with db.uow() as uow:
        ids = {template_key(i) for i in uow.conn.execute(select(face_template.c.id)).scalars()}

    def fetch(wanted: frozenset[str]) -> list[tuple[str, str, Any]]:
        nums = [int(w[1:]) for w in wanted]
        out = []
        with db.uow() as uow:
            for t in uow.conn.execute(select(face_template).where(face_template.c.id.in_(nums))):
                raw = uow.keys.decrypt(
                    t.key_id, t.template_enc, aad=aad_template(t.identity_id, t.model_name)
                )
                out.append((template_key(t.id), identity_key(t.identity_id), template_from_bytes(raw)))
        return out

    return ids, fetch
