"""Review: a supervisor closes a REVIEW case (evidence deleted either way), or views its evidence."""

from __future__ import annotations

import numpy as np

from simkyc.core.policy import Outcome
from simkyc.errors import ConflictError, NotFoundError, PolicyError, Reason
from simkyc.service.access import Action
from simkyc.service.registration.access import authorize
from simkyc.service.registration.deciding import index_add
from simkyc.service.registration.model import RegistrationDeps, RegistrationResult, ReviewEvidence
from simkyc.service.registration.refusals import rule_refusals
from simkyc.store.fields import aad_evidence, arrays_from_bytes

__all__ = ["review", "review_evidence"]


def review(
    registration_id: str, *, approve: bool, supervisor_id: int, note: str = "", deps: RegistrationDeps
) -> RegistrationResult:
    """A supervisor closes a REVIEW case. Approval re-checks the quota under the identity lock.

    :raises PolicyError: approval would break a rule now (e.g. the quota filled meanwhile).
    """
    policy, now = deps.policy, deps.clock()
    added = None
    with deps.db.uow() as uow:
        repo = uow.registrations
        authorize(uow, supervisor_id, Action.REVIEW_DECIDE, obj=f"registration:{registration_id}")
        reg = repo.get(registration_id)
        if reg is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such registration")
        uow.lock_identity(reg.identity_id)
        case = repo.review_case(registration_id)
        if case is None or case.status != "open" or reg.status != "REVIEW":
            raise ConflictError(Reason.REGISTRATION_STATE, "no open review for this registration")
        reasons = [*reg.reasons]
        if approve:
            rules = rule_refusals(repo, reg, policy, now)
            if rules:
                raise PolicyError(rules[0], detail={"reasons": [str(r) for r in rules]})
            evidence = arrays_from_bytes(
                uow.keys.decrypt(case.key_id, case.evidence_enc, aad=aad_evidence(reg.id))
            )
            if reg.kind == "new":
                repo.bind_number(reg, now)
                repo.refresh_identity(reg.identity_id, evidence, now)
                if "template" in evidence and reg.model_name:
                    added = repo.store_template(
                        identity_id=reg.identity_id,
                        registration_id=reg.id,
                        template=evidence["template"].astype(np.float32),
                        model=reg.model_name,
                        version=reg.model_version or "",
                        now=now,
                    )
                    # an earlier embedder's template of this customer is replaced (issue 13)
                    repo.delete_templates(reg.identity_id, except_model=reg.model_name)
            elif reg.kind == "reverify":
                repo.set_number_status(reg.phone_number, "active")
            reasons.append(str(Reason.REVIEW_APPROVED))
            outcome = Outcome.APPROVED
        else:
            reasons.append(str(Reason.REVIEW_REJECTED))
            outcome = Outcome.REJECTED
            if reg.kind == "reverify":
                repo.set_number_status(reg.phone_number, "suspended")
        repo.close_review_case(
            case.id,
            status="closed",
            evidence_enc=None,
            key_id=None,
            closed_at=now,
            closed_by=supervisor_id,
            outcome=outcome.value,
            note=note[:2000],
        )
        repo.update(
            registration_id,
            status=outcome.value,
            decision=outcome.value,
            reasons=reasons,
            decided_at=now,
            decided_by=supervisor_id,
        )
        uow.audit(
            actor=f"supervisor:{supervisor_id}",
            action="review.close",
            obj=f"registration:{registration_id}",
            details={"outcome": outcome.value, "evidence": "deleted", "note_chars": len(note)},
            at=now,
        )
        uow.commit()
    index_add(deps, added)
    return RegistrationResult(
        registration_id,
        outcome,
        tuple(Reason(r) for r in reasons),
        dict(reg.scores),
        dict(reg.thresholds),
        reg.policy_version,
        kind=reg.kind,
    )


def review_evidence(registration_id: str, *, staff_id: int, deps: RegistrationDeps) -> ReviewEvidence:
    """Decrypt a REVIEW case's evidence for a supervisor; the access itself is audited."""
    with deps.db.uow() as uow:
        repo = uow.registrations
        actor = authorize(uow, staff_id, Action.REVIEW_EVIDENCE, obj=f"registration:{registration_id}").name
        case = repo.review_case(registration_id)
        if case is None or case.status != "open" or case.evidence_enc is None:
            raise NotFoundError(Reason.NOT_FOUND, "no open review evidence")
        scores = repo.scores(registration_id)
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
        registration_id, arrays.get("id_photo"), frames, list(case.candidates), list(case.reasons), scores
    )
