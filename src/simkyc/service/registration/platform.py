"""The platform check: name + ID number + phone -> consistent | inconsistent | no_record."""

from __future__ import annotations

from simkyc.service.registration.model import PlatformAnswer, RegistrationDeps, mask_phone

__all__ = ["platform_check"]


def platform_check(
    *, name: str, id_number: str, phone: str, platform: str, deps: RegistrationDeps, audit: bool = True
) -> PlatformAnswer:
    """Is `phone` an active number of the person with this name and ID number? Nothing more is revealed."""
    with deps.db.uow() as uow:
        keys = uow.keys
        row = uow.registrations.active_owner(phone.strip())
        if row is None:
            answer: PlatformAnswer = "no_record"
        elif row.id_hash == keys.lookup_hash(id_number) and row.name_hash == keys.name_hash(name):
            answer = "consistent"
        else:
            answer = "inconsistent"
        if audit:
            uow.audit(
                actor=f"platform:{platform}",
                action="platform.check",
                obj=f"number:{mask_phone(phone.strip())}",
                details={"answer": answer},
                at=deps.clock(),
            )
            uow.commit()
    return answer
