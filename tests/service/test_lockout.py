"""The liveness lockout (simkyc.service.lockout) on a real database (SQLite and PostgreSQL).

Each failed liveness decision is a row written with the decision. N of them within the window lock
the ID for new registrations and re-verifications. The lock is read from the database, so another
connection (a restarted or second server process) sees it. It ends after the lock period
(injected clock, no sleeps).
"""

from __future__ import annotations

import dataclasses

import pytest
from regkit import THRESHOLDS, Clock, Seeded, assessment, document, make_deps, seed
from sqlalchemy import func, select

from simkyc.core.policy import Outcome
from simkyc.errors import PolicyError, Reason
from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.service.lockout import LockoutConfig, locked_until
from simkyc.store import Database, KeyRing, open_database
from simkyc.store.schema import audit_entry, liveness_failure

CONFIG = LockoutConfig(max_failures=3, window=600.0, lock_for=1800.0)


def _deps(db: Database, clock: Clock) -> reg.RegistrationDeps:
    return dataclasses.replace(make_deps(db, clock=clock), lockout=CONFIG)


def _open(deps: reg.RegistrationDeps, s: Seeded, n: int, phone: str) -> reg.Opened:
    cmd = reg.OpenRegistration(
        document=document(n), phone=phone, outlet_id=s.outlet_id, clerk_id=s.clerk_id, consent=True
    )
    return reg.open_registration(cmd, deps=deps)


def _decide(deps: reg.RegistrationDeps, registration_id: str, *, passed: bool) -> reg.RegistrationResult:
    return reg.record_decision(
        registration_id, assessment(passed=passed), deps=deps, actor="clerk:1", thresholds=THRESHOLDS
    )


def _fail(deps: reg.RegistrationDeps, s: Seeded, n: int, phone: str) -> None:
    result = _decide(deps, _open(deps, s, n, phone).registration_id, passed=False)
    assert result.outcome is Outcome.RETRY and Reason.LIVENESS_ACTION_MISSING in result.reasons


def _rows(db: Database) -> list[tuple[str, object]]:
    with db.engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(select(liveness_failure.c.id_hash, liveness_failure.c.failed_at))
        ]


def _actions(db: Database, action: str) -> list[str]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(select(audit_entry.c.details).where(audit_entry.c.action == action)).scalars()
        )


def test_locked_until_counts_failures_in_a_sliding_window() -> None:
    assert locked_until([], CONFIG) is None
    assert locked_until([0, 100], CONFIG) is None
    assert locked_until([0, 100, 650], CONFIG) is None  # the first failure left the 10-minute window
    assert locked_until([0, 300, 600], CONFIG) is None  # exactly `window` apart: not one window
    assert locked_until([660, 0, 650, 100], CONFIG) == 660 + 1800  # order does not matter
    assert locked_until([0, 1, 2, 3], CONFIG) == 3 + 1800  # a failure while locked extends the lock


def test_failures_lock_the_id_for_every_connection_until_the_period_ends(
    db: Database, db_url: str, keys: KeyRing
) -> None:
    clock = Clock()
    s, deps = seed(db), _deps(db, clock)
    number = document(1).id_number
    _fail(deps, s, 1, "13800000001")
    clock.advance(seconds=30)
    _fail(deps, s, 1, "13800000002")
    rows = _rows(db)
    assert len(rows) == 2 and {h for h, _ in rows} == {
        keys.lookup_hash(number)
    }  # keyed hash, never the number
    assert not _actions(db, "liveness.lockout")
    clock.advance(seconds=30)
    _fail(deps, s, 1, "13800000003")  # the third failure within 10 minutes locks the ID
    assert len(_actions(db, "liveness.lockout")) == 1

    with pytest.raises(PolicyError) as exc:
        _open(deps, s, 1, "13800000004")
    assert exc.value.reason is Reason.LIVENESS_LOCKED
    assert exc.value.detail["retry_after"] == pytest.approx(1800.0)
    _open(deps, s, 2, "13800000005")  # another ID is not locked

    other = open_database(db_url, keys)  # a new engine: another process, or this one restarted
    try:
        other_deps = _deps(other, clock)
        clock.advance(seconds=1799)
        with pytest.raises(PolicyError) as exc:
            _open(other_deps, s, 1, "13800000004")
        assert exc.value.reason is Reason.LIVENESS_LOCKED and exc.value.detail["retry_after"] == 1.0
        clock.advance(seconds=1)  # the lock period is over
        _open(other_deps, s, 1, "13800000004")
    finally:
        other.dispose()

    refused = _actions(db, "registration.refused")
    assert len(refused) == 2 and all("LIVENESS_LOCKED" in d for d in refused)
    assert not any(number in d for d in refused)
    assert verify_audit(db).ok


def test_a_passed_check_clears_the_count(db: Database) -> None:
    clock = Clock()
    s, deps = seed(db), _deps(db, clock)
    _fail(deps, s, 3, "13900000001")
    _fail(deps, s, 3, "13900000002")
    approved = _decide(deps, _open(deps, s, 3, "13900000003").registration_id, passed=True)
    assert approved.outcome is Outcome.APPROVED
    assert _rows(db) == []
    _fail(deps, s, 3, "13900000004")
    _fail(deps, s, 3, "13900000005")
    _open(deps, s, 3, "13900000006")  # 4 failures in 10 minutes, but a pass in between: not locked


def test_rows_that_can_no_longer_matter_are_deleted(db: Database) -> None:
    clock = Clock()
    s, deps = seed(db), _deps(db, clock)
    _fail(deps, s, 4, "13700000001")
    _fail(deps, s, 4, "13700000002")
    clock.advance(seconds=CONFIG.horizon + 1)
    _fail(deps, s, 4, "13700000003")
    assert len(_rows(db)) == 1


def test_retention_sweeps_failures_of_ids_that_never_came_back(db: Database) -> None:
    from simkyc.core.policy import Retention
    from simkyc.service.retention import run_retention

    clock = Clock()
    s, deps = seed(db), _deps(db, clock)
    _fail(deps, s, 4, "13700000001")
    clock.advance(seconds=CONFIG.horizon - 1)
    _fail(deps, s, 7, "13700000002")
    clock.advance(seconds=2)  # the first can no longer lock anything; the second still can
    report = run_retention(db, rules=Retention(), now=clock.now, lockout=CONFIG)
    assert report.removed["liveness_failures"] == 1 and len(_rows(db)) == 1
    assert _actions(db, "retention.lockout")


def test_reverification_counts_and_is_refused_while_locked(db: Database) -> None:
    clock = Clock()
    s, deps = seed(db), _deps(db, clock)
    phone = "13600000001"
    bound = _decide(deps, _open(deps, s, 5, phone).registration_id, passed=True)
    assert bound.outcome is Outcome.APPROVED
    for _ in range(CONFIG.max_failures):
        opened = reg.open_reverification(phone, outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
        assert _decide(deps, opened.registration_id, passed=False).outcome is Outcome.RETRY
    with pytest.raises(PolicyError) as exc:
        reg.open_reverification(phone, outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
    assert exc.value.reason is Reason.LIVENESS_LOCKED
    with pytest.raises(PolicyError) as exc:  # one count per ID, whichever way it is checked
        _open(deps, s, 5, "13600000002")
    assert exc.value.reason is Reason.LIVENESS_LOCKED


def test_without_a_lockout_config_nothing_is_counted(db: Database) -> None:
    s, deps = seed(db), make_deps(db)
    for k in range(CONFIG.max_failures + 1):
        _fail(deps, s, 6, f"1350000000{k}")
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(liveness_failure)).scalar_one() == 0
