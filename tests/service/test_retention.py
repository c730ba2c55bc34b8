"""`simkyc retention run`: each data class of DESIGN.md's table is removed when due, not before."""

from __future__ import annotations

from regkit import THRESHOLDS, Clock, assessment, document, make_deps, seed, unit_frames
from sqlalchemy import func, select

from simkyc.core.policy import Retention
from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.service.retention import run_retention
from simkyc.store import Database
from simkyc.store.schema import face_template, identity, phone_number, registration, review_case


def _n(db: Database, table, *where) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _open(deps, s, n: int, phone: str) -> str:  # type: ignore[no-untyped-def]
    return reg.open_registration(
        reg.OpenRegistration(
            document=document(n), phone=phone, outlet_id=s.outlet_id, clerk_id=s.clerk_id, consent=True
        ),
        deps=deps,
    ).registration_id


def test_retention_sweeps_each_data_class_when_due(db: Database) -> None:
    clock = Clock()
    s, deps = seed(db), make_deps(db, clock=clock)
    rules = Retention()
    kept = _open(deps, s, 1, "13100000001")
    reg.record_decision(kept, assessment(), deps=deps, actor="t", thresholds=THRESHOLDS)  # active number
    gone = _open(deps, s, 2, "13100000002")
    reg.record_decision(gone, assessment(), deps=deps, actor="t", thresholds=THRESHOLDS)
    # cancelled: its record lives 2 more years
    reg.cancel_number("13100000002", staff_id=s.supervisor_id, deps=deps)
    review_id = _open(deps, s, 3, "13100000003")
    reg.record_decision(
        review_id, assessment(score=0.85, frames=unit_frames(2)), deps=deps, actor="t", thresholds=THRESHOLDS
    )
    abandoned = _open(deps, s, 4, "13100000004")  # never submitted

    nothing = run_retention(db, rules=rules, now=clock.now)  # nothing is due yet
    assert sum(nothing.removed.values()) == 0, nothing.removed

    clock.advance(hours=25)
    r1 = run_retention(db, rules=rules, now=clock.now)
    assert r1.removed["open_registrations_expired"] == 1
    with db.engine.connect() as c:
        row = c.execute(select(registration).where(registration.c.id == abandoned)).one()
    assert row.status == "EXPIRED" and row.id_photo_enc is None
    assert _n(db, review_case, review_case.c.evidence_enc.is_not(None)) == 1  # review still within 30 days

    clock.advance(days=30)
    r2 = run_retention(db, rules=rules, now=clock.now)
    assert r2.removed["review_evidence"] == 1
    assert _n(db, review_case, review_case.c.evidence_enc.is_not(None)) == 0

    clock.advance(days=731)
    r3 = run_retention(db, rules=rules, now=clock.now)
    assert r3.removed["cancelled_numbers"] == 1
    assert r3.removed["registration_records"] == 3  # the cancelled one, the expired review, the abandoned one
    assert r3.removed["identities"] == 3
    # the holder of an active number keeps everything
    assert _n(db, registration) == 1 and _n(db, identity) == 1 and _n(db, face_template) == 1
    assert _n(db, phone_number, phone_number.c.status == "active") == 1
    assert verify_audit(db).ok
