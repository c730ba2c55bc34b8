"""Refusals are audited: each one rolls back the use case's transaction and writes its own entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from simkyc.core.policy import Policy, precheck
from simkyc.errors import PolicyError, Reason, SimkycError
from simkyc.service import lockout
from simkyc.service.registration.model import RegistrationDeps
from simkyc.store import Database, UnitOfWork
from simkyc.store.registrations import RegistrationRepository

__all__ = ["audit_refusal", "refuse", "refuse_if_locked", "rule_refusals"]


def rule_refusals(repo: RegistrationRepository, reg: Any, policy: Policy, now: datetime) -> list[Reason]:
    """The policy's rules (quota, age, validity, ...) for `reg` as they stand now, inside the deciding
    transaction: a decision and a supervisor's approval both re-check them."""
    return list(
        precheck(
            policy,
            id_number=repo.identity_fields(reg.identity_id)["id_number"],
            phone=reg.phone_number,
            holdings=repo.holdings(identity_id=reg.identity_id, operator_id=reg.operator_id),
            now=now,
            kind=reg.kind,
        )
    )


def audit_refusal(
    db: Database,
    exc: SimkycError,
    *,
    actor: str,
    obj: str,
    details: dict[str, Any],
    action: str = "registration.refused",
) -> None:
    """Write one audit entry for a refusal, in its own transaction."""
    with db.uow() as audit_uow:
        audit_uow.audit(actor=actor, action=action, obj=obj, details={**details, "reason": str(exc.reason)})
        audit_uow.commit()


def refuse(
    uow: UnitOfWork,
    exc: SimkycError,
    *,
    actor: str,
    obj: str,
    details: dict[str, Any],
    action: str = "registration.refused",
) -> NoReturn:
    """Record a refusal in the audit log (its own commit), then raise it."""
    uow.rollback()
    audit_refusal(uow.db, exc, actor=actor, obj=obj, details=details, action=action)
    raise exc


def refuse_if_locked(
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
        refuse(uow, exc, actor=actor, obj="registration:-", details=details)
