"""Retention sweeps: DESIGN.md's data-class table applied to the database (configurable in the policy).

| data class               | rule (policy `[retention]`)                                              |
| ------------------------ | ------------------------------------------------------------------------ |
| REVIEW evidence          | deleted when the case closes; open cases expire after `review_evidence_days` |
| open registrations       | never submitted: expired after `open_registration_hours`, ID photo deleted |
| face templates           | only while the identity holds an active or suspended number             |
| registration records     | deleted `registration_days_after_service` after the number was cancelled |
|                          | (or after the decision, for registrations that never bound a number)     |
| identities               | deleted with their last registration                                     |
| liveness failures        | (the lockout's count) deleted once they can no longer lock: older than   |
|                          | the lockout's window plus lock period (`SIMKYC_LOCKOUT_*`)               |
| audit log                | kept; never swept (minimum `audit_days`, archiving is an operator task)  |

One transaction per class, each audited with the counts it removed; the report lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Delete, and_, delete, exists, not_, or_, select, update

from simkyc.core.policy import Retention
from simkyc.service.lockout import LockoutConfig
from simkyc.store.schema import (
    face_template,
    identity,
    liveness_failure,
    login_failure,
    phone_number,
    registration,
    review_case,
    staff_session,
)
from simkyc.store.uow import Database

__all__ = ["RetentionReport", "run_retention"]

_HELD = ("active", "suspended")


@dataclass
class RetentionReport:
    """Rows removed or scrubbed per data class."""

    removed: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{k}: {v}" for k, v in self.removed.items()]


def run_retention(
    db: Database,
    *,
    rules: Retention,
    now: datetime,
    actor: str = "system:retention",
    lockout: LockoutConfig | None = None,
) -> RetentionReport:
    rep = RetentionReport()

    def done(name: str, n: int | None) -> None:
        rep.removed[name] = rep.removed.get(name, 0) + int(n or 0)

    # 1. REVIEW evidence: closed cases must hold none; open cases past expiry are closed as expired.
    with db.uow() as uow:
        c = uow.conn
        n1 = c.execute(
            update(review_case)
            .where(review_case.c.status != "open", review_case.c.evidence_enc.is_not(None))
            .values(evidence_enc=None, key_id=None)
        ).rowcount
        expired = (
            c.execute(
                select(review_case.c.registration_id).where(
                    review_case.c.status == "open", review_case.c.expires_at < now
                )
            )
            .scalars()
            .all()
        )
        if expired:
            c.execute(
                update(review_case)
                .where(review_case.c.registration_id.in_(expired))
                .values(status="expired", evidence_enc=None, key_id=None, closed_at=now)
            )
            c.execute(
                update(registration)
                .where(registration.c.id.in_(expired), registration.c.status == "REVIEW")
                .values(status="EXPIRED", decided_at=now)
            )
        done("review_evidence", (n1 or 0) + len(expired))
        uow.audit(
            actor=actor,
            action="retention.review_evidence",
            obj="review_case",
            details={"expired_cases": len(expired), "scrubbed_closed": int(n1 or 0)},
            at=now,
        )
        uow.commit()

    # 2. Registrations never submitted (or left at RETRY): expire, drop the encrypted ID photo.
    if rules.open_registration_hours > 0:
        cutoff = now - timedelta(hours=rules.open_registration_hours)
        with db.uow() as uow:
            n = uow.conn.execute(
                update(registration)
                .where(registration.c.status.in_(("OPEN", "RETRY")), registration.c.created_at < cutoff)
                .values(status="EXPIRED", id_photo_enc=None, key_id=None, decided_at=now)
            ).rowcount
            stray = uow.conn.execute(
                update(registration)
                .where(
                    registration.c.status.not_in(("OPEN", "RETRY")), registration.c.id_photo_enc.is_not(None)
                )
                .values(id_photo_enc=None, key_id=None)
            ).rowcount
            done("open_registrations_expired", n)
            done("stray_id_photos", stray)
            uow.audit(
                actor=actor,
                action="retention.open_registrations",
                obj="registration",
                details={"expired": int(n or 0), "stray_id_photos": int(stray or 0)},
                at=now,
            )
            uow.commit()

    def delete_audited(name: str, statement: Delete, *, action: str, obj: str) -> None:
        """One data class swept in its own transaction, with an audit entry of the count."""
        with db.uow() as uow:
            n = uow.conn.execute(statement).rowcount
            done(name, n)
            uow.audit(actor=actor, action=action, obj=obj, details={"deleted": int(n or 0)}, at=now)
            uow.commit()

    # 3. Face templates of identities that hold no number any more.
    held = exists().where(
        phone_number.c.identity_id == face_template.c.identity_id, phone_number.c.status.in_(_HELD)
    )
    delete_audited(
        "face_templates",
        delete(face_template).where(not_(held)),
        action="retention.templates",
        obj="face_template",
    )

    # 4. Registration records past service + retention period, then identities left without any.
    if rules.registration_days_after_service > 0:
        cutoff = now - timedelta(days=rules.registration_days_after_service)
        with db.uow() as uow:
            c = uow.conn
            old_numbers = c.execute(
                delete(phone_number).where(
                    phone_number.c.status == "cancelled", phone_number.c.cancelled_at < cutoff
                )
            ).rowcount
            bound = exists().where(phone_number.c.registration_id == registration.c.id)
            live_number = exists().where(
                phone_number.c.identity_id == registration.c.identity_id, phone_number.c.status.in_(_HELD)
            )
            open_case = exists().where(
                review_case.c.registration_id == registration.c.id, review_case.c.status == "open"
            )
            doomed = (
                c.execute(
                    select(registration.c.id).where(
                        not_(bound),
                        not_(open_case),
                        or_(
                            and_(registration.c.decided_at.is_not(None), registration.c.decided_at < cutoff),
                            and_(registration.c.decided_at.is_(None), registration.c.created_at < cutoff),
                        ),
                        # a re-verification or older registration of a still-held number stays with it
                        or_(not_(live_number), registration.c.kind == "new"),
                    )
                )
                .scalars()
                .all()
            )
            # keep templates' registration references valid
            referenced = set(c.execute(select(face_template.c.registration_id)).scalars())
            doomed = [d for d in doomed if d not in referenced]
            if doomed:
                c.execute(delete(review_case).where(review_case.c.registration_id.in_(doomed)))
                c.execute(delete(registration).where(registration.c.id.in_(doomed)))
            orphan = not_(exists().where(registration.c.identity_id == identity.c.id))
            no_number = not_(exists().where(phone_number.c.identity_id == identity.c.id))
            no_tpl = not_(exists().where(face_template.c.identity_id == identity.c.id))
            ids = c.execute(delete(identity).where(orphan, no_number, no_tpl)).rowcount
            done("cancelled_numbers", old_numbers)
            done("registration_records", len(doomed))
            done("identities", ids)
            uow.audit(
                actor=actor,
                action="retention.records",
                obj="registration",
                details={
                    "numbers": int(old_numbers or 0),
                    "registrations": len(doomed),
                    "identities": int(ids or 0),
                },
                at=now,
            )
            uow.commit()
    # 5. the lockout's failure rows: an ID that failed and never came back leaves them behind
    if lockout is not None:
        cut = now - timedelta(seconds=lockout.horizon)
        delete_audited(
            "liveness_failures",
            delete(liveness_failure).where(liveness_failure.c.failed_at <= cut),
            action="retention.lockout",
            obj="liveness_failure",
        )
    # 6. sign-in bookkeeping (issue 14): failures that can no longer delay anyone, sessions long over
    day_ago = now - timedelta(days=1)
    delete_audited(
        "login_failures",
        delete(login_failure).where(login_failure.c.failed_at < day_ago),
        action="retention.sessions",
        obj="login_failure",
    )
    delete_audited(
        "staff_sessions",
        delete(staff_session).where(staff_session.c.expires_at < day_ago),
        action="retention.sessions",
        obj="staff_session",
    )
    rep.removed["audit_entries"] = 0
    return rep
