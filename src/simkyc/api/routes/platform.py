"""The platform check: an internet platform asks whether a phone number belongs to the name and ID
number its user gave, and learns only `consistent`, `inconsistent` or `no_record`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from simkyc.api.deps import Ctx, PlatformKey
from simkyc.core.documents.names import name_problem
from simkyc.service import registration as reg

router = APIRouter(prefix="/api/platform", tags=["platform"])


class CheckIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        """The intake's name rules (trimmed, no control, zero-width or bidi characters)."""
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(f"the name is not acceptable: {problem}")
        return value

    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(min_length=11, max_length=11)


class CheckOut(BaseModel):
    result: Literal["consistent", "inconsistent", "no_record"]


@router.post("/check")
async def check(*, ctx: Ctx, key: PlatformKey, body: CheckIn) -> CheckOut:
    """Name + ID number + phone -> consistent / inconsistent / no_record (API key, rate-limited, audited).

    Runs on the event loop: one prepared, indexed SQLite read (tens of microseconds, see
    `simkyc.api.platform_lookup`) costs less than a thread-pool hop; the audit record is committed
    (group commit with the other checks in flight) before the answer is sent.
    """
    answer = ctx.platform_lookup().check(
        name=body.name, id_number=body.id_number, phone=body.phone, platform=key.platform
    )
    await ctx.platform_audit.record(  # the answer leaves only once its audit record is committed
        actor=f"platform:{key.platform}",
        action="platform.check",
        obj=f"number:{reg.mask_phone(body.phone.strip())}",
        details={"answer": answer, "key": key.id},
    )
    ctx.metrics.platform_checks.labels(answer).inc()
    return CheckOut(result=answer)
