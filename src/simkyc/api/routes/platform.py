"""The platform check: an internet platform asks whether a phone number belongs to the name and ID
number its user gave, and learns only `consistent`, `inconsistent` or `no_record`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from simkyc.api.deps import Ctx, PlatformKey
from simkyc.service import registration as reg

router = APIRouter(prefix="/api/platform", tags=["platform"])


class CheckIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(min_length=11, max_length=11)


class CheckOut(BaseModel):
    result: Literal["consistent", "inconsistent", "no_record"]


@router.post("/check")
async def check(*, ctx: Ctx, key: PlatformKey, body: CheckIn) -> CheckOut:
    """Name + ID number + phone -> consistent / inconsistent / no_record (API key, rate-limited, audited).

    Runs on the event loop: one prepared, indexed SQLite read (tens of microseconds, see
    `simkyc.api.platform_lookup`) costs less than a thread-pool hop; the audit entry is queued and
    written in batches.
    """
    answer = ctx.platform_lookup().check(
        name=body.name, id_number=body.id_number, phone=body.phone, platform=key.platform
    )
    ctx.platform_audit.add(
        actor=f"platform:{key.platform}",
        action="platform.check",
        obj=f"number:{reg.mask_phone(body.phone.strip())}",
        details={"answer": answer, "key": key.id},
    )
    ctx.metrics.platform_checks.labels(answer).inc()
    return CheckOut(result=answer)
