"""Numbers already registered: cancel, re-verify the holder live, the customer at the counter (presence
check) and the customer's report.

Who may do what is the authorization table's (`simkyc.service.access`), applied by the use cases:
a clerk acts only on numbers held with their own operator, and cancels or sees full numbers only
with the customer present (an APPROVED presence check: the card's ID number and name, then a live
capture matched against the stored template, streamed and finished like a registration).
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from pydantic import BaseModel, Field

from simkyc.api.deps import Clerk, ClerkOrSupervisor, Ctx, Reporter
from simkyc.api.routes.registrations import OpenedOut, start_capture
from simkyc.errors import InputError, Reason
from simkyc.service import registration as reg

router = APIRouter(prefix="/api", tags=["numbers"])

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_PRESENCE = Field(
    default=None,
    pattern=r"^[0-9a-f]{32}$",
    description="Id of this clerk's APPROVED presence check of the customer (last 10 minutes)",
)


def _number(number: str) -> str:
    if not _PHONE.match(number):
        raise InputError(Reason.PHONE_NUMBER_INVALID)
    return number


class CancelIn(BaseModel):
    """A clerk names the presence check that shows the customer is at the counter; a supervisor need not."""

    presence: str | None = _PRESENCE


class CancelOut(BaseModel):
    number: str
    template_deleted: bool


class CardIn(BaseModel):
    """The customer's card as read at the counter (chip reader or OCR): ID number and name."""

    id_number: str = Field(min_length=15, max_length=18, pattern=r"^[0-9]{15}([0-9]{2}[0-9Xx])?$")
    name: str = Field(min_length=1, max_length=64)


class ReportIn(BaseModel):
    """The customer's own ID number, read from the card they present, and (clerks) their presence check."""

    id_number: str = Field(min_length=15, max_length=18, pattern=r"^[0-9]{15}([0-9]{2}[0-9Xx])?$")
    presence: str | None = _PRESENCE


class NumberOut(BaseModel):
    """A number under the customer's ID; masked (138****0000) unless the customer is present."""

    number: str
    operator_id: str
    status: str
    bound_at: str
    outlet_code: str


@router.post("/numbers/{number}/cancel")
def cancel_number(
    *, ctx: Ctx, staff: ClerkOrSupervisor, number: str, body: CancelIn | None = None
) -> CancelOut:
    """Cancel a number (clerk: own operator, customer present; supervisor: any); the holder's face
    template goes with their last number."""
    deleted = reg.cancel_number(
        _number(number),
        staff_id=staff.user_id,
        presence=None if body is None else body.presence,
        deps=ctx.registration_deps(),
    )
    return CancelOut(number=reg.mask_phone(number), template_deleted=deleted)


@router.post("/numbers/{number}/reverify", status_code=201)
def reverify(*, ctx: Ctx, clerk: Clerk, number: str) -> OpenedOut:
    """Start a live re-check of a number's holder (own operator) against their stored template (then
    stream frames and finish as for a registration). Only a completed capture of another face
    suspends the number; a failed liveness check is a RETRY."""
    assert clerk.outlet_id is not None
    opened = reg.open_reverification(
        _number(number),
        outlet_id=clerk.outlet_id,
        clerk_id=clerk.user_id,
        deps=ctx.registration_deps(),
        test_seed=ctx.settings.challenge_test_seed,
    )
    return start_capture(ctx, opened, clerk=clerk)


@router.post("/customers/presence", status_code=201)
def presence(*, ctx: Ctx, clerk: Clerk, body: CardIn) -> OpenedOut:
    """Start a presence check of the customer at the counter: their card (ID number and name) and a
    live capture matched against their stored template (stream frames, then finish). Its id, once
    APPROVED, lets this clerk cancel the customer's numbers and see them in full for 10 minutes."""
    assert clerk.outlet_id is not None
    opened = reg.open_presence(
        body.id_number.strip().upper(),
        body.name,
        outlet_id=clerk.outlet_id,
        clerk_id=clerk.user_id,
        deps=ctx.registration_deps(),
        test_seed=ctx.settings.challenge_test_seed,
    )
    return start_capture(ctx, opened, clerk=clerk)


@router.post("/customers/report")
def customer_report(*, ctx: Ctx, staff: Reporter, body: ReportIn) -> list[NumberOut]:
    """Every number registered under the presenting customer's ID (clerk: own operator's, in full only
    with the customer present, else masked; supervisor: all)."""
    records = reg.customer_report(
        body.id_number.strip().upper(),
        staff_id=staff.user_id,
        presence=body.presence,
        deps=ctx.registration_deps(),
    )
    return [
        NumberOut(
            number=r.number,
            operator_id=r.operator_id,
            status=r.status,
            bound_at=r.bound_at.isoformat(),
            outlet_code=r.outlet_code,
        )
        for r in records
    ]
