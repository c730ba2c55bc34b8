"""Numbers already registered: cancel, re-verify the holder live, and the holder's own report."""

from __future__ import annotations

import re

from fastapi import APIRouter
from pydantic import BaseModel, Field

from simkyc.api.deps import Clerk, ClerkOrSupervisor, Ctx
from simkyc.api.routes.registrations import OpenedOut, start_capture
from simkyc.errors import InputError, Reason
from simkyc.service import registration as reg

router = APIRouter(prefix="/api", tags=["numbers"])

_PHONE = re.compile(r"^1[3-9]\d{9}$")


def _number(number: str) -> str:
    if not _PHONE.match(number):
        raise InputError(Reason.PHONE_NUMBER_INVALID)
    return number


class CancelOut(BaseModel):
    number: str
    template_deleted: bool


class ReportIn(BaseModel):
    """The customer's own ID number, read from the card they present."""

    id_number: str = Field(min_length=15, max_length=18)


class NumberOut(BaseModel):
    number: str
    operator_id: str
    status: str
    bound_at: str
    outlet_code: str


@router.post("/numbers/{number}/cancel")
def cancel_number(*, ctx: Ctx, staff: ClerkOrSupervisor, number: str) -> CancelOut:
    """Cancel a number; the holder's face template goes with their last number."""
    deleted = reg.cancel_number(
        _number(number), actor=f"{staff.role.value}:{staff.user_id}", deps=ctx.registration_deps()
    )
    return CancelOut(number=reg.mask_phone(number), template_deleted=deleted)


@router.post("/numbers/{number}/reverify", status_code=201)
def reverify(*, ctx: Ctx, clerk: Clerk, number: str) -> OpenedOut:
    """Start a live re-check of a number's holder against their stored template (then stream frames
    and finish as for a registration)."""
    assert clerk.outlet_id is not None
    opened = reg.open_reverification(
        _number(number),
        outlet_id=clerk.outlet_id,
        clerk_id=clerk.user_id,
        deps=ctx.registration_deps(),
        test_seed=ctx.settings.challenge_test_seed,
    )
    return start_capture(ctx, opened, clerk=clerk)


@router.post("/customers/report")
def customer_report(*, ctx: Ctx, clerk: Clerk, body: ReportIn) -> list[NumberOut]:
    """Every number ever registered under the presenting customer's ID (their own report)."""
    records = reg.customer_report(
        body.id_number.strip().upper(), actor=f"clerk:{clerk.user_id}", deps=ctx.registration_deps()
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
