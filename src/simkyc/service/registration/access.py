"""The one entrance of the registration use cases: who is acting, and may they (`simkyc.service.access`).

Every guarded use case starts with `authorize(uow, staff_id, action)`: the staff account is read
from the database (so a disabled account or a changed role counts at once, whatever token it used),
the table gives the role's grant for the action or refuses, and the use case then applies the
grant's scope (`in_scope`) and presence (`customer_present`) to the object it acts on. Every refusal
is audited (`access.refused`) in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from simkyc.errors import AuthError, NotFoundError, Reason, SimkycError
from simkyc.service.access import PRESENCE_MINUTES, Action, Grant, Scope, grant_for
from simkyc.service.registration.model import aware
from simkyc.service.registration.refusals import refuse
from simkyc.store import UnitOfWork

__all__ = ["Staff", "authorize", "customer_present", "deny", "in_scope", "refuse_out_of_scope"]


@dataclass(frozen=True, slots=True)
class Staff:
    """The acting staff member as the database knows them now, and the grant they act under."""

    user_id: int
    role: str
    outlet_id: int | None
    operator_id: str | None
    grant: Grant

    @property
    def name(self) -> str:
        """How the audit log names them (`clerk:5`)."""
        return f"{self.role}:{self.user_id}"


def deny(
    uow: UnitOfWork, exc: SimkycError, *, actor: str, action: Action, obj: str, **details: Any
) -> NoReturn:
    """Refuse (audited as `access.refused`) and raise `exc`."""
    refuse(
        uow, exc, actor=actor, obj=obj, details={"action": action.value, **details}, action="access.refused"
    )


def authorize(uow: UnitOfWork, staff_id: int, action: Action, *, obj: str = "-") -> Staff:
    """The acting account and its grant for `action`, or an audited refusal.

    :raises AuthError: NOT_AUTHENTICATED for an unknown or disabled account, FORBIDDEN when the
        table has no row for the account's role and `action`.
    """
    row = uow.registrations.staff(staff_id)
    if row is None or not row.active:
        deny(
            uow,
            AuthError(Reason.NOT_AUTHENTICATED, "This staff account is not active."),
            actor=f"staff:{staff_id}",
            action=action,
            obj=obj,
        )
    try:
        grant = grant_for(action, str(row.role))
    except AuthError as exc:
        deny(uow, exc, actor=f"{row.role}:{staff_id}", action=action, obj=obj)
    return Staff(staff_id, str(row.role), row.outlet_id, row.operator_id, grant)


def in_scope(
    staff: Staff, *, outlet_id: int | None = None, operator_id: str | None = None, clerk_id: int | None = None
) -> bool:
    """Whether the object (its outlet, operator or opening clerk) lies in the grant's scope."""
    scope = staff.grant.scope
    if scope is Scope.ANY or scope is Scope.SELF:
        return True
    if scope is Scope.OWN_OUTLET:
        return outlet_id is not None and outlet_id == staff.outlet_id
    if scope is Scope.OWN_OPERATOR:
        return operator_id is not None and operator_id == staff.operator_id
    if scope is Scope.OWN_CAPTURE:
        return clerk_id == staff.user_id
    return False


def refuse_out_of_scope(uow: UnitOfWork, staff: Staff, *, obj: str, **details: Any) -> NoReturn:
    """An object outside the caller's scope is refused as not found (its existence is not revealed)."""
    deny(
        uow,
        NotFoundError(Reason.NOT_FOUND, "Not found."),
        actor=staff.name,
        action=staff.grant.action,
        obj=obj,
        why="scope",
        scope=staff.grant.scope.value,
        **details,
    )


def customer_present(
    uow: UnitOfWork, staff: Staff, *, identity_id: int, presence_id: str | None, now: datetime
) -> bool:
    """Whether `presence_id` is this clerk's APPROVED presence check of this identity, recent enough."""
    if not presence_id:
        return False
    row = uow.registrations.get(presence_id)
    if row is None or row.kind != "presence" or row.status != "APPROVED":
        return False
    decided = aware(row.decided_at)
    return (
        int(row.clerk_id) == staff.user_id
        and int(row.identity_id) == identity_id
        and decided is not None
        and now - decided <= timedelta(minutes=PRESENCE_MINUTES)
    )
