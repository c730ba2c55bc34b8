"""The light challenge in the registration use cases: the policy decides whether a challenge carries a
colour sequence; a flash-sensitive customer's registration is opened without one (recorded), and
passing it sends the registration to a supervisor."""

from __future__ import annotations

import json

from regkit import THRESHOLDS, document, make_deps, seed, unit
from sqlalchemy import select

from simkyc.core.policy import Evidence, Outcome, Policy
from simkyc.errors import Reason
from simkyc.service import registration as reg
from simkyc.service.registration import CaptureAssessment
from simkyc.store import Database
from simkyc.store.schema import audit_entry

LIGHT = Policy.from_dict(
    {"version": "light-1", "quota": {"new_number_window_hours": 0}, "liveness": {"light": True}}
)


def _open(deps: reg.RegistrationDeps, s, n: int, phone: str, **kw: object) -> reg.Opened:  # type: ignore[no-untyped-def]
    cmd = reg.OpenRegistration(
        document=document(n), phone=phone, outlet_id=s.outlet_id, clerk_id=s.clerk_id, consent=True, **kw
    )  # type: ignore[arg-type]
    return reg.open_registration(cmd, deps=deps)


def _open_details(db: Database, registration_id: str) -> dict[str, object]:
    with db.engine.connect() as c:
        rows = c.execute(
            select(audit_entry.c.details).where(
                audit_entry.c.action == "registration.open",
                audit_entry.c.object == f"registration:{registration_id}",
            )
        ).all()
    assert len(rows) == 1
    details = rows[0][0]
    return details if isinstance(details, dict) else json.loads(details)


def test_the_policy_switches_the_light_challenge(db: Database) -> None:
    s = seed(db)
    plain = _open(make_deps(db), s, 1, "13800000101", test_seed=4)
    assert plain.challenge.light == () and not plain.challenge.light_waived
    lit = _open(make_deps(db, policy=LIGHT), s, 2, "13800000102", test_seed=4)
    assert len(lit.challenge.light) == LIGHT.light_colours + 2
    assert lit.challenge.actions == plain.challenge.actions  # the same seed draws the same actions
    assert _open_details(db, lit.registration_id)["light_challenge"] is True


def test_a_flash_sensitive_customer_is_confirmed_by_a_supervisor(db: Database) -> None:
    s, deps = seed(db), make_deps(db, policy=LIGHT)
    opened = _open(deps, s, 3, "13800000103", light_fallback=True)
    assert opened.challenge.light == () and opened.challenge.light_waived
    details = _open_details(db, opened.registration_id)
    assert details["light_waived"] is True and details["light_challenge"] is False
    # the session passed with its note (the core adds it for a waived challenge): REVIEW, not APPROVED
    passed = CaptureAssessment(
        evidence=Evidence(
            liveness_passed=True, liveness_reasons=(Reason.LIGHT_CHALLENGE_WAIVED,), match_score=0.95
        ),
        template=unit(3),
        model_name="fake-embedder",
        model_version="1",
    )
    res = reg.record_decision(
        opened.registration_id, passed, deps=deps, actor="clerk:1", thresholds=THRESHOLDS
    )
    assert res.outcome is Outcome.REVIEW and res.reasons == (Reason.LIGHT_CHALLENGE_WAIVED,)


def test_without_the_light_policy_the_fallback_changes_nothing(db: Database) -> None:
    s = seed(db)
    opened = _open(make_deps(db), s, 4, "13800000104", light_fallback=True)
    assert opened.challenge.light == () and not opened.challenge.light_waived
