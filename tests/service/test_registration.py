"""Registration use cases on a real database (SQLite and PostgreSQL), models replaced by fakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from regkit import (
    THRESHOLDS,
    Clock,
    FakeFaces,
    assessment,
    document,
    make_deps,
    near,
    seed,
    unit,
)
from sqlalchemy import func, select

from simkyc.core.liveness.types import Frame
from simkyc.core.policy import Outcome, Policy
from simkyc.errors import AuthError, ConflictError, DocumentError, InputError, PolicyError, Reason
from simkyc.search import NumpyIndex, ProtectedTransform
from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.store import Database
from simkyc.store.schema import audit_entry, face_template, phone_number, registration, review_case


def _open(deps: reg.RegistrationDeps, s, n: int, phone: str, **kw: object) -> reg.Opened:  # type: ignore[no-untyped-def]
    cmd = reg.OpenRegistration(
        document=kw.pop("doc", None) or document(n),
        phone=phone,
        outlet_id=s.outlet_id,
        clerk_id=s.clerk_id,
        consent=kw.pop("consent", True),
        **kw,
    )  # type: ignore[arg-type]
    return reg.open_registration(cmd, deps=deps)


def _count(db: Database, table, *where) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_open_then_approve_binds_number_and_template(db: Database) -> None:
    s, deps = seed(db), make_deps(db)
    opened = _open(deps, s, 1, "13800000001", test_seed=7)
    assert opened.id_masked.startswith("110105") and "*" in opened.id_masked
    status = reg.registration_status(opened.registration_id, deps=deps)
    assert status["status"] == "OPEN" and status["test_seed"] == 7
    assert status["consent_text_version"] == deps.policy.consent_text_version
    res = reg.record_decision(
        opened.registration_id, assessment(score=0.95), deps=deps, actor="clerk:1", thresholds=THRESHOLDS
    )
    assert res.outcome is Outcome.APPROVED and res.reasons == (Reason.FACE_MATCH,)
    assert res.policy_version == "test-1" and res.thresholds["accept"] == 0.9
    assert _count(db, phone_number, phone_number.c.status == "active") == 1
    assert _count(db, face_template) == 1
    with db.engine.connect() as c:
        row = c.execute(select(registration)).one()
    assert row.id_photo_enc is None and row.model_name == "fake-embedder" and row.decided_at is not None
    with pytest.raises(ConflictError):  # a decided registration cannot be submitted again
        reg.record_decision(
            opened.registration_id, assessment(), deps=deps, actor="clerk:1", thresholds=THRESHOLDS
        )
    assert verify_audit(db).ok


def test_refusals_at_open_are_audited(db: Database) -> None:
    s, deps = seed(db), make_deps(db)
    with pytest.raises(PolicyError) as e:
        _open(deps, s, 2, "13800000002", consent=False)
    assert e.value.reason is Reason.CONSENT_MISSING
    with pytest.raises(InputError):
        _open(deps, s, 2, "12345")
    expired = document(3, birth="20150101")  # 11 years old: under the minimum age
    with pytest.raises(DocumentError) as d:
        _open(deps, s, 3, "13800000003", doc=expired)
    assert d.value.reason is Reason.UNDERAGE_NEEDS_GUARDIAN
    with db.engine.connect() as c:
        actions = c.execute(select(audit_entry.c.action, audit_entry.c.details)).all()
    assert [a for a, _ in actions] == ["registration.refused"] * 3
    assert not any(document(3, birth="20150101").id_number in d for _, d in actions)
    assert _count(db, registration) == 0


def test_quota_window_and_taken_number(db: Database) -> None:
    clock = Clock()
    pol = Policy.from_dict({"version": "q", "quota": {"per_operator": 2, "new_number_window_hours": 1}})
    s, deps = seed(db), make_deps(db, policy=pol, clock=clock)
    r1 = _open(deps, s, 5, "13900000001")
    assert (
        reg.record_decision(
            r1.registration_id, assessment(), deps=deps, actor="c", thresholds=THRESHOLDS
        ).outcome
        is Outcome.APPROVED
    )
    with pytest.raises(PolicyError) as e:
        _open(deps, s, 5, "13900000002")
    assert e.value.reason is Reason.TOO_FREQUENT
    clock.advance(hours=2)
    r2 = _open(deps, s, 5, "13900000002")
    assert (
        reg.record_decision(
            r2.registration_id, assessment(), deps=deps, actor="c", thresholds=THRESHOLDS
        ).outcome
        is Outcome.APPROVED
    )
    clock.advance(hours=2)
    with pytest.raises(PolicyError) as e:
        _open(deps, s, 5, "13900000003")
    assert e.value.reason is Reason.QUOTA_EXCEEDED
    with pytest.raises(ConflictError):  # another person cannot take a bound number
        _open(deps, s, 6, "13900000001")


def test_retry_keeps_registration_open_until_attempts_run_out(db: Database) -> None:
    s, deps = (
        seed(db),
        make_deps(db, policy=Policy.from_dict({"version": "r", "registration": {"max_attempts": 2}})),
    )
    o = _open(deps, s, 8, "13700000008")
    a1 = assessment(attempt=1)
    a1.evidence = type(a1.evidence)(
        liveness_passed=True, match_score=None, quality_findings=(Reason.BLURRY,), attempt=1
    )
    retry = reg.record_decision(o.registration_id, a1, deps=deps, actor="c", thresholds=THRESHOLDS)
    assert retry.outcome is Outcome.RETRY and retry.next_challenge is not None
    assert retry.next_challenge.nonce != o.challenge.nonce  # a fresh challenge for the next capture
    assert reg.registration_status(o.registration_id, deps=deps)["status"] == "RETRY"
    with db.engine.connect() as c:
        assert c.execute(select(registration.c.id_photo_enc)).scalar() is not None  # still needed
    a1.evidence = type(a1.evidence)(
        liveness_passed=True, match_score=None, quality_findings=(Reason.BLURRY,), attempt=2
    )
    assert (
        reg.record_decision(o.registration_id, a1, deps=deps, actor="c", thresholds=THRESHOLDS).outcome
        is Outcome.REJECTED
    )
    with db.engine.connect() as c:
        assert c.execute(select(registration.c.id_photo_enc)).scalar() is None


def test_submit_frames_with_duplicate_face_goes_to_review_and_supervisor_decides(
    db: Database, tmp_path: Path
) -> None:
    """Full submit path with fakes: 1:1 match vs the ID photo, 1:N hit under another ID -> REVIEW."""
    s = seed(db)
    faces, index = (
        FakeFaces(),
        NumpyIndex(ProtectedTransform.from_key(b"k" * 32, dim=128), path=tmp_path / "idx.npz"),
    )
    deps = make_deps(db, faces=faces, index=index)
    alice = unit(10)
    doc_a, doc_b = document(20, name="甲"), document(21, name="乙")
    assert doc_a.portrait is not None and doc_b.portrait is not None
    live = [unit_img(i) for i in range(3)]
    faces.learn(doc_a.portrait, alice)
    faces.learn(doc_b.portrait, near(alice, 0.93, seed=5))  # B's card carries a photo of A's face
    for img in live:
        faces.learn(img, near(alice, 0.97, seed=6))
    frames = [Frame(img, float(i)) for i, img in enumerate(live)]
    o1 = _open(deps, s, 20, "13600000020", doc=doc_a)
    r1 = reg.submit_frames(o1.registration_id, frames, deps=deps, actor="clerk:1")
    assert r1.outcome is Outcome.APPROVED and index.count() == 1
    o2 = _open(deps, s, 21, "13600000021", doc=doc_b)
    r2 = reg.submit_frames(o2.registration_id, frames, deps=deps, actor="clerk:1")
    assert r2.outcome is Outcome.REVIEW and Reason.DUPLICATE_FACE_OTHER_ID in r2.reasons
    assert len(r2.candidates) == 1 and r2.candidates[0].id_masked == o1.id_masked
    assert _count(db, phone_number, phone_number.c.number == "13600000021") == 0
    ev = reg.review_evidence(o2.registration_id, staff_id=s.supervisor_id, deps=deps)
    assert ev.id_photo is not None and len(ev.frames) == 3
    with pytest.raises(AuthError):  # a clerk cannot close a review
        reg.review(o2.registration_id, approve=True, supervisor_id=s.clerk_id, deps=deps)
    done = reg.review(
        o2.registration_id, approve=False, supervisor_id=s.supervisor_id, note="same face", deps=deps
    )
    assert done.outcome is Outcome.REJECTED and Reason.REVIEW_REJECTED in done.reasons
    with db.engine.connect() as c:
        case = c.execute(select(review_case)).one()
        actions = c.execute(select(audit_entry.c.action)).scalars().all()
    assert case.status == "closed" and case.evidence_enc is None
    assert actions.count("search.duplicates") == 2 and "review.close" in actions
    assert verify_audit(db).ok


def unit_img(i: int):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.full((120, 100, 3), 10 + i, dtype=np.uint8)


def test_review_approval_binds_and_cancel_of_last_number_removes_template(
    db: Database, tmp_path: Path
) -> None:
    s = seed(db)
    faces, index = (
        FakeFaces(),
        NumpyIndex(ProtectedTransform.from_key(b"k" * 32, dim=128), path=tmp_path / "idx.npz"),
    )
    deps = make_deps(db, faces=faces, index=index)
    doc = document(30)
    assert doc.portrait is not None
    t = unit(30)
    faces.learn(doc.portrait, t)
    img = unit_img(7)
    faces.learn(img, near(t, 0.85))  # in the review band
    o = _open(deps, s, 30, "13500000030", doc=doc)
    r = reg.submit_frames(o.registration_id, [Frame(img, 0.0)], deps=deps, actor="clerk:1")
    assert r.outcome is Outcome.REVIEW and r.reasons == (Reason.REVIEW_BAND,)
    ok = reg.review(o.registration_id, approve=True, supervisor_id=s.supervisor_id, deps=deps)
    assert ok.outcome is Outcome.APPROVED
    assert _count(db, phone_number, phone_number.c.status == "active") == 1 and index.count() == 1
    # a second number, then cancel both: the template goes with the last one
    deps2 = make_deps(db, faces=faces, index=index)
    o2 = _open(deps2, s, 30, "13500000031", doc=doc)
    reg.record_decision(
        o2.registration_id, assessment(template=t), deps=deps2, actor="c", thresholds=THRESHOLDS
    )
    assert reg.cancel_number("13500000030", staff_id=s.supervisor_id, deps=deps) is False
    assert _count(db, face_template) == 1
    assert reg.cancel_number("13500000031", staff_id=s.supervisor_id, deps=deps) is True
    assert _count(db, face_template) == 0 and index.count() == 0


def test_customer_report_and_platform_check(db: Database) -> None:
    s, deps = seed(db), make_deps(db)
    doc = document(40, name="李四")
    o = _open(deps, s, 40, "13400000040", doc=doc)
    reg.record_decision(o.registration_id, assessment(), deps=deps, actor="c", thresholds=THRESHOLDS)
    rep = reg.customer_report(doc.id_number, staff_id=s.supervisor_id, deps=deps)
    assert [(r.number, r.status, r.outlet_code) for r in rep] == [("13400000040", "active", "BJ-001")]
    assert reg.customer_report(document(41).id_number, staff_id=s.supervisor_id, deps=deps) == []
    check = dict(deps=deps, platform="shop")
    assert (
        reg.platform_check(name="李 四", id_number=doc.id_number, phone="13400000040", **check)
        == "consistent"
    )  # type: ignore[arg-type]
    assert (
        reg.platform_check(name="王五", id_number=doc.id_number, phone="13400000040", **check)
        == "inconsistent"
    )  # type: ignore[arg-type]
    assert (
        reg.platform_check(name="李四", id_number=document(41).id_number, phone="13400000040", **check)
        == "inconsistent"
    )  # type: ignore[arg-type]
    assert (
        reg.platform_check(name="李四", id_number=doc.id_number, phone="13400000099", **check) == "no_record"
    )  # type: ignore[arg-type]
    reg.cancel_number("13400000040", staff_id=s.supervisor_id, deps=deps)
    assert (
        reg.platform_check(name="李四", id_number=doc.id_number, phone="13400000040", **check) == "no_record"
    )  # type: ignore[arg-type]


def test_reverification_failure_suspends_the_number(db: Database) -> None:
    s = seed(db)
    faces = FakeFaces()
    deps = make_deps(db, faces=faces)
    t = unit(50)
    o = _open(deps, s, 50, "13300000050")
    reg.record_decision(
        o.registration_id, assessment(template=t), deps=deps, actor="c", thresholds=THRESHOLDS
    )
    rv = reg.open_reverification("13300000050", outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
    img = unit_img(3)
    faces.learn(img, unit(51))  # somebody else in front of the camera
    res = reg.submit_frames(rv.registration_id, [Frame(img, 0.0)], deps=deps, actor="clerk:1")
    assert res.outcome is Outcome.REJECTED and Reason.FACE_MISMATCH in res.reasons
    with db.engine.connect() as c:
        assert c.execute(select(phone_number.c.status)).scalar() == "suspended"
    rv2 = reg.open_reverification("13300000050", outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
    faces.learn(img, near(t, 0.96))
    assert (
        reg.submit_frames(rv2.registration_id, [Frame(img, 0.0)], deps=deps, actor="c").outcome
        is Outcome.APPROVED
    )
    with db.engine.connect() as c:
        assert c.execute(select(phone_number.c.status)).scalar() == "active"


def test_expired_challenge_is_refused_and_replaced(db: Database) -> None:
    clock = Clock()
    s = seed(db)
    faces = FakeFaces()
    deps = make_deps(db, faces=faces, clock=clock)
    o = _open(deps, s, 60, "13200000060", test_seed=3)
    clock.advance(seconds=deps.policy.challenge_ttl_seconds + 1)
    res = reg.submit_frames(o.registration_id, [Frame(unit_img(1), 0.0)], deps=deps, actor="clerk:1")
    assert res.outcome is Outcome.RETRY and res.reasons == (Reason.LIVENESS_TIMEOUT,)
    assert res.next_challenge is not None and res.next_challenge.issued_at == clock.now.timestamp()
    with db.engine.connect() as c:
        assert c.execute(select(phone_number)).first() is None


def test_review_cannot_approve_a_number_bound_meanwhile(db: Database) -> None:
    s, deps = seed(db), make_deps(db)
    a = _open(deps, s, 70, "13100000070")
    r = reg.record_decision(
        a.registration_id, assessment(score=0.85), deps=deps, actor="c", thresholds=THRESHOLDS
    )
    assert r.outcome is Outcome.REVIEW
    b = _open(deps, s, 71, "13100000070")  # the number is still free: B registers it first
    reg.record_decision(b.registration_id, assessment(), deps=deps, actor="c", thresholds=THRESHOLDS)
    with pytest.raises(ConflictError) as e:
        reg.review(a.registration_id, approve=True, supervisor_id=s.supervisor_id, deps=deps)
    assert e.value.reason is Reason.PHONE_NUMBER_TAKEN
    with db.engine.connect() as c:
        holder = c.execute(select(phone_number.c.registration_id)).scalar_one()
    assert holder == b.registration_id
    assert reg.registration_status(a.registration_id, deps=deps)["status"] == "REVIEW"


def test_a_refused_attempt_with_an_altered_card_does_not_rename_the_holder(db: Database) -> None:
    s, deps = seed(db), make_deps(db)
    real = document(80, name="李四")
    o = _open(deps, s, 80, "13000000080", doc=real)
    reg.record_decision(o.registration_id, assessment(), deps=deps, actor="c", thresholds=THRESHOLDS)
    forged = document(80, name="王五")  # same ID number, another name
    f = _open(deps, s, 80, "13000000081", doc=forged)
    reg.record_decision(f.registration_id, assessment(score=0.5), deps=deps, actor="c", thresholds=THRESHOLDS)
    check = {"deps": deps, "platform": "shop", "id_number": real.id_number, "phone": "13000000080"}
    assert reg.platform_check(name="李四", **check) == "consistent"  # type: ignore[arg-type]
    assert reg.platform_check(name="王五", **check) == "inconsistent"  # type: ignore[arg-type]
    renewed = document(80, name="李四新")  # an approved registration with a renewed card updates it
    r = _open(deps, s, 80, "13000000082", doc=renewed)
    reg.record_decision(r.registration_id, assessment(), deps=deps, actor="c", thresholds=THRESHOLDS)
    assert reg.platform_check(name="李四新", **check) == "consistent"  # type: ignore[arg-type]
