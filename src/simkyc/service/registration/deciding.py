"""Deciding a capture: liveness -> 1:1 match vs the ID photo (or the stored template) -> 1:N search
-> policy -> one short transaction that holds the identity row and writes what the outcome implies.

The heavy work (liveness, face analysis, search) runs outside the transaction. A number is bound
only in the transaction that records an APPROVED decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.exc import IntegrityError

from simkyc.core.faces.fusion import fuse_templates
from simkyc.core.faces.types import Image
from simkyc.core.liveness.challenge import Challenge, verify_challenge
from simkyc.core.liveness.types import Frame, LivenessResult
from simkyc.core.policy import Decision, Evidence, Outcome, Thresholds, decide
from simkyc.errors import ConflictError, FaceError, InputError, NotFoundError, Reason, SimkycError
from simkyc.service import dedup, lockout
from simkyc.service.access import Action
from simkyc.service.registration.access import authorize, in_scope, refuse_out_of_scope
from simkyc.service.registration.model import (
    EVIDENCE_MAX_SIDE,
    Candidate,
    CaptureAssessment,
    FaceAnalyzer,
    FaceGeneration,
    RegistrationDeps,
    RegistrationResult,
    identity_key,
    mask_phone,
    open_portrait,
)
from simkyc.service.registration.opening import capture_deadline, issue_challenge
from simkyc.service.registration.refusals import refuse_if_locked, rule_refusals
from simkyc.store import UnitOfWork
from simkyc.store.fields import aad_evidence, aad_id_photo, arrays_from_bytes, arrays_to_bytes

__all__ = [
    "assess_capture",
    "capture_challenge",
    "index_add",
    "live_frames_template",
    "record_decision",
    "submit_frames",
    "submit_liveness",
]

_log = logging.getLogger("simkyc.service.registration")


@dataclass(frozen=True, slots=True)
class OpenState:
    registration_id: str
    identity_id: int
    kind: str
    challenge: Challenge
    attempts: int
    id_photo: Image | None
    references: dict[str, npt.NDArray[np.float32]]  # stored templates by embedder (reverify, presence)


def load_open(deps: RegistrationDeps, registration_id: str, *, clerk_id: int | None = None) -> OpenState:
    """The open capture's state; with `clerk_id`, only for the clerk who opened it (table: own capture)."""
    with deps.db.uow() as uow:
        repo = uow.registrations
        row = repo.get(registration_id)
        if clerk_id is not None:
            staff = authorize(uow, clerk_id, Action.CAPTURE, obj=f"registration:{registration_id}")
            if row is None or not in_scope(staff, clerk_id=int(row.clerk_id)):
                refuse_out_of_scope(uow, staff, obj=f"registration:{registration_id}")
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such registration")
        if row.status not in ("OPEN", "RETRY"):
            raise ConflictError(Reason.REGISTRATION_STATE, f"registration is {row.status}")
        photo = None
        if row.id_photo_enc is not None:
            arrays = arrays_from_bytes(
                uow.keys.decrypt(row.key_id, row.id_photo_enc, aad=aad_id_photo(registration_id))
            )
            photo = open_portrait(arrays)
        references: dict[str, npt.NDArray[np.float32]] = {}
        if row.kind != "new" and deps.lockout is not None:  # no more captures while the holder is locked
            refuse_if_locked(
                uow,
                deps,
                repo.identity_hash(int(row.identity_id)),
                now=deps.clock(),
                actor=f"clerk:{row.clerk_id}",
                details={"registration": registration_id, "kind": row.kind},
            )
        if row.kind != "new":
            references = repo.stored_templates(row.identity_id)
    return OpenState(
        registration_id,
        int(row.identity_id),
        row.kind,
        Challenge.from_token(row.challenge["token"]),
        int(row.attempts),
        photo,
        references,
    )


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


def capture_challenge(registration_id: str, *, clerk_id: int, deps: RegistrationDeps) -> Challenge:
    """The challenge an open capture answers, for the clerk who opened it (authorized first)."""
    return load_open(deps, registration_id, clerk_id=clerk_id).challenge


def live_frames_template(
    frames: Sequence[Image], faces: FaceAnalyzer
) -> tuple[npt.NDArray[np.float32] | None, list[Reason]]:
    """One template from all usable live frames, and why the others were left out.

    Averaged, as measured in `simkyc eval accuracy`: the best of several per-frame scores would let
    impostors through more often than calibrated. Frames with a blocking quality finding are dropped.
    """
    from simkyc.core.faces.quality import BLOCKING

    templates: list[npt.NDArray[np.float32]] = []
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
        templates.append(np.asarray(live.template, dtype=np.float32))
    return (fuse_templates(np.stack(templates)) if templates else None), seen


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
    live_template, seen = live_frames_template(frames, faces)
    findings: tuple[Reason, ...] = ()
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
    registration_id: str,
    frames: Sequence[Frame],
    *,
    deps: RegistrationDeps,
    actor: str,
    clerk_id: int | None = None,
) -> RegistrationResult:
    """Run the liveness session over `frames`, then decide (see `submit_liveness`).

    The API and the CLI pass `clerk_id`: only the clerk who opened the capture may feed it.
    """
    if deps.liveness is None:
        raise InputError(Reason.INVALID_REQUEST, "no liveness runner configured")
    state = load_open(deps, registration_id, clerk_id=clerk_id)
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
    clerk_id: int | None = None,
    expect_challenge: str | None = None,
    _state: OpenState | None = None,
) -> RegistrationResult:
    """Decide a registration from a finished liveness session: match, search, policy, record.

    `expect_challenge` (the nonce the capture answered) makes the decision refuse, in its transaction,
    a registration whose challenge has changed since (a finish repeated after a RETRY decision).
    """
    state = _state or load_open(deps, registration_id, clerk_id=clerk_id)
    thresholds = deps.thresholds()
    index = deps.index() if deps.index is not None else None
    # what the search's index had applied (read before searching: the re-check covers anything newer)
    search_seq = getattr(index, "applied_seq", None)
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
    faces = deps.faces()
    reference, generation = _comparable_reference(state.references, faces.embedder_name, deps.older)
    if generation is None:
        assessment = assess_capture(
            state.id_photo,
            result,
            faces=faces,
            thresholds=thresholds,
            attempt=state.attempts + 1,
            reference=reference,
            search=search,
        )
    else:  # an earlier embedder's template: compare like with like, then re-enrol with the current one
        thresholds = generation.thresholds()
        assessment = assess_capture(
            state.id_photo,
            result,
            faces=generation.faces(),
            thresholds=thresholds,
            attempt=state.attempts + 1,
            reference=reference,
        )
        if assessment.template is not None:
            enrol, _ = live_frames_template(assessment.frames, faces)
            if enrol is not None:
                assessment.enrol = (enrol, faces.embedder_name, faces.embedder_version)
    if assessment.searched:
        older = _older_duplicates(deps, assessment.frames, identity_key(state.identity_id))
        if older:
            assessment = dedup.with_late_duplicates(assessment, older)
    if assessment.searched and isinstance(search_seq, int):
        assessment.search_seq = search_seq
    return record_decision(
        registration_id,
        assessment,
        deps=deps,
        actor=actor,
        thresholds=thresholds,
        expect_challenge=expect_challenge,
    )


def _comparable_reference(
    references: dict[str, npt.NDArray[np.float32]], current: str, older: Sequence[FaceGeneration]
) -> tuple[npt.NDArray[np.float32] | None, FaceGeneration | None]:
    """The stored template to compare with: the current embedder's, else the newest earlier one's
    (with its `FaceGeneration`), else None (the ID photo is used, if any)."""
    if current in references:
        return references[current], None
    for generation in older:
        if generation.model_name in references:
            return references[generation.model_name], generation
    return None, None


def _older_duplicates(deps: RegistrationDeps, frames: Sequence[Image], own: str) -> list[tuple[str, float]]:
    """Other identities among the templates of earlier embedders (searched while any are stored).

    The live frames are embedded the way each generation's templates were and held to that
    generation's duplicate threshold. Costs one extra embedding pass per earlier generation that
    still holds templates; none once a site's migration is complete.
    """
    from simkyc.search import find_duplicates

    hits: list[tuple[str, float]] = []
    for generation in deps.older:
        index = generation.index() if generation.index is not None else None
        if index is None or not getattr(index, "count", lambda: 0)():
            continue
        catch_up = getattr(index, "catch_up", None)
        if callable(catch_up):
            catch_up()
        template, _ = live_frames_template(frames, generation.faces())
        if template is None:
            continue
        found = find_duplicates(
            index,  # type: ignore[arg-type]
            template,
            threshold=generation.thresholds().duplicate,
            identity_key=own,
            k=deps.policy.duplicate_k,
        )
        hits += [(h.identity_key, h.score) for h in found]
    return hits


def record_decision(
    registration_id: str,
    assessment: CaptureAssessment,
    *,
    deps: RegistrationDeps,
    actor: str,
    thresholds: Thresholds,
    expect_challenge: str | None = None,
) -> RegistrationResult:
    """The decision transaction: lock the identity, re-check the rules, decide, write, audit.

    A searched capture is re-checked against the templates committed since its search
    (`simkyc.service.dedup`), so two workers deciding one face under two IDs at once never both approve.
    """
    policy, now = deps.policy, deps.clock()
    added: tuple[str, str, npt.NDArray[np.float32]] | None = None
    next_challenge: Challenge | None = None
    try:
        with deps.db.uow() as uow:
            repo = uow.registrations
            reg = repo.get(registration_id)
            if reg is None:
                raise NotFoundError(Reason.NOT_FOUND, "no such registration")
            uow.lock_identity(reg.identity_id)
            reg = repo.get(registration_id)
            assert reg is not None
            if reg.status not in ("OPEN", "RETRY"):  # decided by a concurrent submit
                raise ConflictError(Reason.REGISTRATION_STATE, f"registration is {reg.status}")
            if expect_challenge is not None and reg.challenge_nonce != expect_challenge:
                raise ConflictError(Reason.REGISTRATION_STATE, "the capture's challenge is no longer current")
            if assessment.search_seq is not None and assessment.template is not None:
                late = dedup.late_duplicates(
                    uow,
                    assessment.template,
                    since=assessment.search_seq,
                    own_identity=identity_key(reg.identity_id),
                    threshold=thresholds.duplicate,
                    model_name=assessment.model_name or None,
                )
                if late:
                    assessment = dedup.with_late_duplicates(assessment, late)
            id_hash = repo.identity_hash(reg.identity_id)
            rules = rule_refusals(repo, reg, policy, now)
            if reg.kind == "new" and repo.number_is_held(reg.phone_number):
                rules.append(Reason.PHONE_NUMBER_TAKEN)
            decision = decide(policy, assessment.evidence, thresholds=thresholds, rule_reasons=tuple(rules))
            if reg.kind != "new":
                decision = second_check_outcome(decision, attempt=assessment.evidence.attempt, kind=reg.kind)
            candidates = [Candidate(*c) for c in repo.candidates(assessment.candidates)]
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
                uow.conn, id_hash, passed=assessment.evidence.liveness_passed, now=now, config=deps.lockout
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
                next_challenge = issue_challenge(
                    uow.keys.challenge, policy, now=now.timestamp(), seed=reg.test_seed
                )
                retry_values = {
                    "challenge": {"token": next_challenge.to_token()},
                    "challenge_nonce": next_challenge.nonce,
                    "capture_until": capture_deadline(deps, next_challenge),
                }
            else:
                retry_values = {"capture_until": None}  # the capture's slot is free again
            repo.update(
                registration_id,
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
    index_add(deps, added)
    return RegistrationResult(
        registration_id,
        decision.outcome,
        decision.reasons,
        decision.scores,
        decision.thresholds,
        decision.policy_version,
        tuple(candidates),
        next_challenge,
        kind=reg.kind,
    )


def second_check_outcome(decision: Decision, *, attempt: int, kind: str) -> Decision:
    """A re-verification or presence check never rejects for a failed capture.

    Only a completed capture whose face does not match (FACE_MISMATCH) is a rejection; a failed
    liveness check, a replayed or stale capture, or poor frames are a RETRY (each failure counts
    towards the holder's liveness lockout). A presence check has no review: a score in the review
    band is not enough to act on someone's numbers, so it is refused (REJECTED, number untouched).
    """
    if decision.outcome is Outcome.REJECTED and Reason.FACE_MISMATCH not in decision.reasons:
        return replace(decision, outcome=Outcome.RETRY)
    if kind == "presence" and decision.outcome is Outcome.REVIEW:
        return replace(decision, outcome=Outcome.REJECTED)
    return decision


def index_add(deps: RegistrationDeps, added: tuple[str, str, npt.NDArray[np.float32]] | None) -> None:
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
    repo = uow.registrations
    outcome = decision.outcome
    added = None
    keep_photo = outcome is Outcome.RETRY
    if reg.kind == "new" and outcome is Outcome.APPROVED:
        repo.bind_number(reg, now)
        if reg.id_photo_enc is not None:
            pending = arrays_from_bytes(
                uow.keys.decrypt(reg.key_id, reg.id_photo_enc, aad=aad_id_photo(reg.id))
            )
            repo.refresh_identity(reg.identity_id, pending, now)
        if assessment.template is not None:
            added = repo.store_template(
                identity_id=reg.identity_id,
                registration_id=reg.id,
                template=assessment.template,
                model=assessment.model_name,
                version=assessment.model_version,
                now=now,
            )
            # a customer enrolled by an earlier embedder is re-enrolled: one generation per customer
            replaced = repo.delete_templates(reg.identity_id, except_model=assessment.model_name)
            if replaced:
                uow.audit(
                    actor="system",
                    action="template.reenrol",
                    obj=f"identity:{identity_key(reg.identity_id)}",
                    details={"registration": reg.id, "to": assessment.model_name, "replaced": len(replaced)},
                    at=now,
                )
    elif reg.kind == "reverify" and outcome is Outcome.APPROVED:
        repo.set_number_status(reg.phone_number, "active", only_held=True)
        if assessment.enrol is not None:  # matched an earlier embedder's template: re-enrol
            template, model, version = assessment.enrol
            added = repo.store_template(
                identity_id=reg.identity_id,
                registration_id=reg.id,
                template=template,
                model=model,
                version=version,
                now=now,
            )
            replaced = repo.delete_templates(reg.identity_id, except_model=model)
            uow.audit(
                actor="system",
                action="template.reenrol",
                obj=f"identity:{identity_key(reg.identity_id)}",
                details={
                    "registration": reg.id,
                    "from": assessment.model_name,
                    "to": f"{model}/{version}",
                    "replaced": len(replaced),
                },
                at=now,
            )
    elif reg.kind == "reverify" and outcome is Outcome.REJECTED and Reason.FACE_MISMATCH in decision.reasons:
        # only a completed capture of another face suspends the number (never a failed liveness check)
        repo.set_number_status(reg.phone_number, "suspended", only_held=True)
    if outcome is Outcome.REVIEW:
        arrays: dict[str, npt.NDArray[Any]] = {
            f"frame_{i}": _evidence_image(f) for i, f in enumerate(assessment.frames[:3])
        }
        if reg.id_photo_enc is not None:
            pending = arrays_from_bytes(
                uow.keys.decrypt(reg.key_id, reg.id_photo_enc, aad=aad_id_photo(reg.id))
            )
            photo = open_portrait(pending)
            if photo is not None:
                arrays["id_photo"] = np.ascontiguousarray(photo, dtype=np.uint8)
            if "fields" in pending:
                arrays["fields"] = pending["fields"]
        if assessment.template is not None:
            arrays["template"] = assessment.template
        key_id, blob = uow.keys.encrypt(arrays_to_bytes(arrays), aad=aad_evidence(reg.id))
        repo.add_review_case(
            registration_id=reg.id,
            status="open",
            reasons=[str(r) for r in decision.reasons],
            candidates=[
                {"identity": c.identity_key, "id_masked": c.id_masked, "score": c.score} for c in candidates
            ],
            evidence_enc=blob,
            key_id=key_id,
            created_at=now,
            expires_at=now + timedelta(days=review_days),
        )
    if not keep_photo:
        repo.update(reg.id, id_photo_enc=None, key_id=None)
    return added
