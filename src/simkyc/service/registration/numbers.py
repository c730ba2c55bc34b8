"""Numbers already registered: cancel one (the last takes the face template with it), and the
customer's report of every number under their ID.

Both act on an existing customer's numbers, so a clerk needs the customer at the counter: an
APPROVED presence check of this clerk for this identity (`open_presence`, then frames and finish)
within `PRESENCE_MINUTES`. Without it a clerk cannot cancel, and the report shows masked numbers
only. A clerk acts only on numbers held with their own operator; a supervisor on any.
"""

from __future__ import annotations

import logging

from simkyc.core.documents.id_number import mask_id_number
from simkyc.errors import AuthError, NotFoundError, Reason, SimkycError
from simkyc.service.access import Action, Presence
from simkyc.service.registration.access import (
    authorize,
    customer_present,
    deny,
    in_scope,
    refuse_out_of_scope,
)
from simkyc.service.registration.model import (
    HELD,
    NumberRecord,
    RegistrationDeps,
    aware,
    identity_key,
    mask_phone,
)

__all__ = ["cancel_number", "customer_report"]

_log = logging.getLogger("simkyc.service.registration")


def cancel_number(number: str, *, staff_id: int, deps: RegistrationDeps, presence: str | None = None) -> bool:
    """Cancel a number. When it was the identity's last held number, its face template is deleted.

    `presence` is the id of the clerk's APPROVED presence check of the holder (not needed by a
    supervisor). Returns True when the template was deleted.

    :raises NotFoundError: no held number, or not one of the clerk's operator.
    :raises AuthError: CUSTOMER_NOT_PRESENT (a clerk without a presence check), FORBIDDEN (role).
    """
    now = deps.clock()
    removed: list[str] = []
    obj = f"number:{mask_phone(number)}"
    with deps.db.uow() as uow:
        repo = uow.registrations
        staff = authorize(uow, staff_id, Action.NUMBER_CANCEL, obj=obj)
        row = repo.number(number)
        if row is None or row.status not in HELD:
            raise NotFoundError(Reason.NOT_FOUND, "no active number")
        if not in_scope(staff, operator_id=str(row.operator_id)):
            refuse_out_of_scope(uow, staff, obj=obj)
        if staff.grant.presence is Presence.CUSTOMER and not customer_present(
            uow, staff, identity_id=int(row.identity_id), presence_id=presence, now=now
        ):
            deny(
                uow,
                AuthError(Reason.CUSTOMER_NOT_PRESENT),
                actor=staff.name,
                action=Action.NUMBER_CANCEL,
                obj=obj,
                identity=identity_key(row.identity_id),
            )
        uow.lock_identity(row.identity_id)
        repo.cancel(number, now)
        if repo.count_held(row.identity_id) == 0:
            removed = repo.delete_templates(row.identity_id)
        uow.audit(
            actor=staff.name,
            action="number.cancel",
            obj=obj,
            details={
                "identity": identity_key(row.identity_id),
                "templates_deleted": len(removed),
                "presence": presence if staff.grant.presence is Presence.CUSTOMER else None,
            },
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


def customer_report(
    id_number: str, *, staff_id: int, deps: RegistrationDeps, presence: str | None = None
) -> list[NumberRecord]:
    """Every number ever bound under this ID: a clerk sees those of their own operator, in full only
    with the customer present (`presence`), else masked; a supervisor sees all of them in full."""
    now = deps.clock()
    with deps.db.uow() as uow:
        repo = uow.registrations
        staff = authorize(uow, staff_id, Action.CUSTOMER_REPORT, obj="identity:-")
        found = repo.identity_by_hash(uow.keys.lookup_hash(id_number))
        ident = None if found is None else int(found.id)
        rows = [
            r
            for r in (repo.number_records(ident) if ident is not None else [])
            if in_scope(staff, operator_id=str(r.operator_id))
        ]
        full = staff.grant.presence is not Presence.CUSTOMER_OR_MASKED or (
            ident is not None
            and customer_present(uow, staff, identity_id=ident, presence_id=presence, now=now)
        )
        uow.audit(
            actor=staff.name,
            action="report.customer",
            obj=f"identity:{identity_key(ident) if ident is not None else '-'}",
            details={"id_masked": mask_id_number(id_number), "numbers": len(rows), "masked": not full},
            at=now,
        )
        uow.commit()
    return [
        NumberRecord(
            r.number if full else mask_phone(r.number),
            r.operator_id,
            r.status,
            aware(r.bound_at) or now,
            r.code,
        )
        for r in rows
    ]
