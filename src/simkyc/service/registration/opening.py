"""Opening a capture: a new registration (ID validated, policy pre-checked, consent recorded) or a
re-verification of a held number; both end with a liveness challenge."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.documents.document import IdDocument, validate_document
from simkyc.core.documents.id_number import mask_id_number
from simkyc.core.liveness.challenge import Challenge, new_challenge
from simkyc.core.policy import Policy, precheck
from simkyc.errors import (
    AuthError,
    ConflictError,
    DocumentError,
    InputError,
    NotFoundError,
    PolicyError,
    Reason,
)
from simkyc.service.access import Action
from simkyc.service.registration.access import Staff, authorize, deny, refuse_out_of_scope
from simkyc.service.registration.model import (
    Opened,
    OpenRegistration,
    RegistrationDeps,
    identity_key,
    mask_phone,
    portrait_jpeg,
)
from simkyc.service.registration.refusals import refuse, refuse_if_locked
from simkyc.store import UnitOfWork
from simkyc.store.fields import aad_id_photo, arrays_to_bytes

__all__ = [
    "capture_deadline",
    "document_fields",
    "issue_challenge",
    "open_presence",
    "open_registration",
    "open_reverification",
    "reverify",
]

_PHONE = re.compile(r"^1[3-9]\d{9}$")


def document_fields(doc: IdDocument) -> dict[str, Any]:
    """The card fields as stored (encrypted) on the identity."""
    return {
        "id_number": doc.id_number.strip().upper(),
        "name": doc.name,
        "kind": doc.kind,
        "birth_date": doc.birth_date.isoformat() if doc.birth_date else None,
        "sex": str(doc.sex) if doc.sex is not None else None,
        "nationality": doc.nationality,
        "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
    }


def _fields_array(doc: IdDocument) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(document_fields(doc), ensure_ascii=False).encode(), dtype=np.uint8)


def issue_challenge(
    keys_challenge: bytes, policy: Policy, *, now: float, seed: int | None, light_fallback: bool = False
) -> Challenge:
    """The policy's challenge: actions, and the light sequence when the policy asks for one, unless the
    customer is sensitive to flashing light (`light_fallback`: recorded in the challenge as waived)."""
    light = policy.light_challenge and not light_fallback
    return new_challenge(
        keys_challenge,
        now=now,
        n_actions=policy.liveness_actions,
        ttl_s=float(policy.challenge_ttl_seconds),
        seed=seed,
        light_colours=policy.light_colours if light else 0,
        light_waived=policy.light_challenge and light_fallback,
    )


def capture_deadline(deps: RegistrationDeps, challenge: Challenge) -> datetime:
    """Until when a capture holds its open-capture slot: its challenge deadline plus the grace period."""
    grace = deps.limits.grace_s if deps.limits is not None else 60.0
    return datetime.fromtimestamp(challenge.deadline + grace, UTC)


def _check_capture_slots(
    uow: UnitOfWork, deps: RegistrationDeps, staff: Staff, *, now: datetime, details: dict[str, Any]
) -> None:
    """Refuse (audited, 429 RATE_LIMITED) when the clerk or the outlet already has its captures open.

    Counted in the database, so every process agrees and one clerk cannot take the slots of others.
    """
    limits = deps.limits
    if limits is None or staff.outlet_id is None:
        return
    repo = uow.registrations
    repo.lock_capture_slots(clerk_id=staff.user_id, outlet_id=staff.outlet_id)
    for who, cap, counted in (
        ("clerk", limits.per_clerk, repo.open_captures(now=now, clerk_id=staff.user_id)),
        ("outlet", limits.per_outlet, repo.open_captures(now=now, outlet_id=staff.outlet_id)),
    ):
        n, first_free = counted
        if n >= cap:
            wait = (first_free - now).total_seconds() if first_free is not None else limits.grace_s
            err = PolicyError(
                Reason.RATE_LIMITED,
                f"This {who} already has {n} captures open (at most {cap}); finish one or wait.",
                detail={"retry_after": round(max(1.0, wait), 1), "limit": who},
            )
            refuse(uow, err, actor=staff.name, obj="registration:-", details={**details, "limit": who})


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
        repo = uow.registrations
        staff = authorize(uow, cmd.clerk_id, Action.REGISTRATION_OPEN)
        if staff.outlet_id != cmd.outlet_id:
            deny(
                uow,
                AuthError(Reason.FORBIDDEN, "The clerk does not work at this outlet."),
                actor=staff.name,
                action=Action.REGISTRATION_OPEN,
                obj=f"outlet:{cmd.outlet_id}",
            )
        _check_capture_slots(uow, deps, staff, now=now, details=base)
        refuse_if_locked(uow, deps, uow.keys.lookup_hash(doc.id_number), now=now, actor=actor, details=base)
        op = repo.outlet_operator(cmd.outlet_id)
        if not _PHONE.match(phone):
            refuse(
                uow, InputError(Reason.PHONE_NUMBER_INVALID), actor=actor, obj="registration:-", details=base
            )
        check = validate_document(doc, today=now.date(), min_age=policy.min_age, require_portrait=True)
        if not check.ok:
            err = DocumentError(check.reasons[0], detail={"reasons": [str(r) for r in check.reasons]})
            refuse(
                uow, err, actor=actor, obj="registration:-", details={**base, "reasons": list(check.reasons)}
            )
        if not cmd.consent:
            refuse(uow, PolicyError(Reason.CONSENT_MISSING), actor=actor, obj="registration:-", details=base)
        if repo.number_is_held(phone):
            refuse(
                uow, ConflictError(Reason.PHONE_NUMBER_TAKEN), actor=actor, obj="registration:-", details=base
            )
        # An existing identity's fields change only when a registration with the new card is APPROVED
        # (`refresh_identity`): a refused attempt with an altered card must not rename the holder.
        identity_id = repo.upsert_identity(
            document_fields(doc), id_number=doc.id_number, masked=masked, now=now
        )
        holdings = repo.holdings(identity_id=identity_id, operator_id=op)
        rules = precheck(policy, id_number=doc.id_number, phone=phone, holdings=holdings, now=now)
        if rules:
            refusal = PolicyError(rules[0], detail={"reasons": [str(r) for r in rules]})
            refuse(uow, refusal, actor=actor, obj="registration:-", details={**base, "reasons": list(rules)})
        reg_id = uuid.uuid4().hex
        challenge = issue_challenge(
            uow.keys.challenge,
            policy,
            now=now.timestamp(),
            seed=cmd.test_seed,
            light_fallback=cmd.light_fallback,
        )
        assert doc.portrait is not None  # validate_document(require_portrait=True)
        key_id, photo_blob = uow.keys.encrypt(
            arrays_to_bytes({"id_photo_jpeg": portrait_jpeg(doc.portrait), "fields": _fields_array(doc)}),
            aad=aad_id_photo(reg_id),
        )
        repo.add_registration(
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
            capture_until=capture_deadline(deps, challenge),
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
                "light_challenge": bool(challenge.light),
                "light_waived": challenge.light_waived,  # flash-sensitive customer: a supervisor confirms
                "test_seed": cmd.test_seed,
            },
            at=now,
        )
        uow.commit()
    return Opened(reg_id, challenge, masked, phone, policy.version)


def open_reverification(
    number: str, *, outlet_id: int, clerk_id: int, deps: RegistrationDeps, test_seed: int | None = None
) -> Opened:
    """Start a second live check of a held number of the clerk's operator, against the stored template.

    Only a completed capture whose face does not match suspends the number; a failed liveness check
    or an abandoned capture is a RETRY, and repeated failures lock the holder's ID (LIVENESS_LOCKED).

    :raises NotFoundError: NOT_FOUND when no one holds the number with the clerk's operator.
    :raises PolicyError: LIVENESS_LOCKED while the holder's ID is locked out; RATE_LIMITED at the
        clerk's or outlet's open-capture limit.
    """
    policy, now = deps.policy, deps.clock()
    obj = f"number:{mask_phone(number)}"
    with deps.db.uow() as uow:
        repo = uow.registrations
        staff = authorize(uow, clerk_id, Action.NUMBER_REVERIFY, obj=obj)
        if staff.outlet_id != outlet_id:
            deny(
                uow,
                AuthError(Reason.FORBIDDEN, "The clerk does not work at this outlet."),
                actor=staff.name,
                action=Action.NUMBER_REVERIFY,
                obj=obj,
            )
        row = repo.held_number(number)
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no active number")
        if row.operator_id != staff.operator_id:
            refuse_out_of_scope(uow, staff, obj=obj)
        details = {"phone": mask_phone(number), "identity": identity_key(row.identity_id)}
        _check_capture_slots(uow, deps, staff, now=now, details=details)
        refuse_if_locked(uow, deps, row.id_hash, now=now, actor=staff.name, details=details)
        reg_id = _open_second_check(
            uow,
            deps,
            staff,
            kind="reverify",
            identity_id=int(row.identity_id),
            number=number,
            operator_id=str(row.operator_id),
            consent_version=repo.consent_version(row.registration_id),
            test_seed=test_seed,
        )
        challenge = reg_id[1]
        uow.audit(
            actor=staff.name,
            action="registration.reverify_open",
            obj=f"registration:{reg_id[0]}",
            details=details,
            at=now,
        )
        uow.commit()
    return Opened(reg_id[0], challenge, row.id_masked, number, policy.version, kind="reverify")


def _open_second_check(
    uow: UnitOfWork,
    deps: RegistrationDeps,
    staff: Staff,
    *,
    kind: str,
    identity_id: int,
    number: str,
    operator_id: str,
    consent_version: str,
    test_seed: int | None,
) -> tuple[str, Challenge]:
    """Insert a re-verification or presence check (a capture compared to the stored template)."""
    policy, now = deps.policy, deps.clock()
    reg_id = uuid.uuid4().hex
    challenge = issue_challenge(uow.keys.challenge, policy, now=now.timestamp(), seed=test_seed)
    assert staff.outlet_id is not None
    uow.registrations.add_registration(
        id=reg_id,
        identity_id=identity_id,
        phone_number=number,
        operator_id=operator_id,
        outlet_id=staff.outlet_id,
        clerk_id=staff.user_id,
        kind=kind,
        status="OPEN",
        reasons=[],
        scores={},
        thresholds={},
        policy_version=policy.version,
        document_source="stored",
        consent_text_version=consent_version,
        consent_at=now,
        challenge={"token": challenge.to_token()},
        challenge_nonce=challenge.nonce,
        test_seed=test_seed,
        attempts=0,
        created_at=now,
        capture_until=capture_deadline(deps, challenge),
    )
    return reg_id, challenge


def open_presence(
    id_number: str,
    name: str,
    *,
    outlet_id: int,
    clerk_id: int,
    deps: RegistrationDeps,
    test_seed: int | None = None,
) -> Opened:
    """Start a presence check: the customer's card (ID number and name, as read at the counter) names
    an identity holding numbers with the clerk's operator; a passed live check against its stored
    template then lets this clerk act on those numbers for `PRESENCE_MINUTES` (report, cancel).

    :raises NotFoundError: NOT_FOUND when the card names no customer of the clerk's operator with a
        stored template (the same answer whether the ID, the name or the operator is wrong).
    """
    from simkyc.core.documents.names import validate_name

    policy, now = deps.policy, deps.clock()
    masked = mask_id_number(id_number)
    with deps.db.uow() as uow:
        repo = uow.registrations
        staff = authorize(uow, clerk_id, Action.CUSTOMER_PRESENCE, obj="identity:-")
        if staff.outlet_id != outlet_id or staff.operator_id is None:
            deny(
                uow,
                AuthError(Reason.FORBIDDEN, "The clerk does not work at this outlet."),
                actor=staff.name,
                action=Action.CUSTOMER_PRESENCE,
                obj="identity:-",
            )
        found = repo.identity_by_hash(uow.keys.lookup_hash(id_number.strip().upper()))
        numbers = (
            [] if found is None else repo.held_numbers(int(found.id), operator_id=str(staff.operator_id))
        )
        same_name = found is not None and found.name_hash == uow.keys.name_hash(validate_name(name))
        if found is None or not same_name or not numbers or repo.stored_template(int(found.id)) is None:
            refuse_out_of_scope(uow, staff, obj="identity:-", id_masked=masked)
        details = {"id_masked": masked, "identity": identity_key(int(found.id))}
        _check_capture_slots(uow, deps, staff, now=now, details=details)
        refuse_if_locked(
            uow,
            deps,
            uow.keys.lookup_hash(id_number.strip().upper()),
            now=now,
            actor=staff.name,
            details=details,
        )
        first = repo.number(numbers[0])
        assert first is not None
        reg_id, challenge = _open_second_check(
            uow,
            deps,
            staff,
            kind="presence",
            identity_id=int(found.id),
            number=numbers[0],
            operator_id=str(staff.operator_id),
            consent_version=repo.consent_version(first.registration_id),
            test_seed=test_seed,
        )
        uow.audit(
            actor=staff.name,
            action="customer.presence_open",
            obj=f"registration:{reg_id}",
            details=details,
            at=now,
        )
        uow.commit()
    return Opened(reg_id, challenge, masked, "", policy.version, kind="presence")


reverify = open_reverification  # the name in API.md: start a re-verification of an existing number
