"""Templates of two embedder generations (issue 13): like is compared with like, and customers re-enrol.

Stored templates cannot be recomputed (raw images are not kept), so after an embedder change a site
holds templates of both. A re-verification against an old template embeds the live frames the old
way and holds them to the old thresholds, then stores the new embedder's template in its place; a
new registration searches the old generation's index too, while it holds any template.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from regkit import THRESHOLDS, FakeFaces, assessment, document, make_deps, near, seed, unit
from sqlalchemy import select

from simkyc.core.liveness.types import Frame
from simkyc.core.policy import Outcome, Thresholds
from simkyc.errors import Reason
from simkyc.search import NumpyIndex, ProtectedTransform
from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.store import Database
from simkyc.store.schema import audit_entry, face_template, registration

OLD_THRESHOLDS = Thresholds(accept=0.85, review=0.75, duplicate=0.9)
NEW_DIM = 64


class NewFaces(FakeFaces):
    embedder_name = "new-embedder"
    embedder_version = "2"


class OldFaces(FakeFaces):
    embedder_name = "old-embedder"
    embedder_version = "1"


def _frame_image(i: int) -> np.ndarray:
    return np.full((120, 100, 3), 40 + 7 * i, dtype=np.uint8)


def _deps(
    db: Database, tmp_path: Path, new: NewFaces, old: OldFaces
) -> tuple[reg.RegistrationDeps, NumpyIndex]:
    new_index = NumpyIndex(ProtectedTransform.from_key(b"n" * 32, dim=NEW_DIM), path=tmp_path / "new.npz")
    old_index = NumpyIndex(ProtectedTransform.from_key(b"o" * 32, dim=128), path=tmp_path / "old.npz")
    deps = make_deps(db, faces=new, index=new_index)
    deps.older = (
        reg.FaceGeneration(
            "old-embedder", faces=lambda: old, thresholds=lambda: OLD_THRESHOLDS, index=lambda: old_index
        ),
    )
    return deps, old_index


def _enrol_with_old_embedder(
    db: Database,
    deps: reg.RegistrationDeps,
    s: object,
    n: int,
    phone: str,
    template: np.ndarray,
    old_index: NumpyIndex,
) -> str:
    """A customer registered before the embedder change: their template is the old embedder's."""
    opened = reg.open_registration(
        reg.OpenRegistration(
            document=document(n),
            phone=phone,
            outlet_id=s.outlet_id,
            clerk_id=s.clerk_id,
            consent=True,  # type: ignore[attr-defined]
        ),
        deps=deps,
    )
    old = assessment(template=template)
    old.model_name, old.model_version = "old-embedder", "1"
    res = reg.record_decision(opened.registration_id, old, deps=deps, actor="clerk:1", thresholds=THRESHOLDS)
    assert res.outcome is Outcome.APPROVED
    with db.engine.connect() as c:
        row = c.execute(select(face_template)).one()
    old_index.add(f"t{row.id}", f"i{row.identity_id}", template)
    return opened.registration_id


def _templates(db: Database) -> list[tuple[str, int]]:
    with db.engine.connect() as c:
        return [(r.model_name, r.identity_id) for r in c.execute(select(face_template))]


def test_reverification_against_an_old_template_compares_like_with_like_then_re_enrols(
    db: Database, tmp_path: Path
) -> None:
    s = seed(db)
    new, old = NewFaces(), OldFaces()
    deps, old_index = _deps(db, tmp_path, new, old)
    t_old = unit(30)
    _enrol_with_old_embedder(db, deps, s, 30, "13300000030", t_old, old_index)
    assert _templates(db) == [("old-embedder", 1)]

    img = _frame_image(0)
    old.learn(img, near(t_old, 0.87))  # the old embedder: the holder (above its accept point, 0.85)
    t_new = unit(31, NEW_DIM)
    new.learn(img, t_new)  # the new embedder's template of the same frames
    rv = reg.open_reverification("13300000030", outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
    res = reg.submit_frames(rv.registration_id, [Frame(img, 0.0)], deps=deps, actor="clerk:1")
    # held to the OLD embedder's thresholds (0.87 is below the new embedder's accept point, 0.9)
    assert res.outcome is Outcome.APPROVED and res.thresholds["accept"] == OLD_THRESHOLDS.accept
    assert _templates(db) == [("new-embedder", 1)]  # re-enrolled: one generation per customer
    with db.engine.connect() as c:
        decided = c.execute(select(registration).where(registration.c.id == rv.registration_id)).one()
        actions = c.execute(select(audit_entry.c.action)).scalars().all()
    assert decided.model_name == "old-embedder"  # the comparison that decided was the old embedder's
    assert "template.reenrol" in actions
    assert verify_audit(db).ok

    # the next re-verification compares new with new (the old embedder is no longer asked)
    img2 = _frame_image(1)
    new.learn(img2, near(t_new, 0.97, seed=3))
    old.learn(img2, unit(99))  # would be a mismatch if it were used
    rv2 = reg.open_reverification("13300000030", outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
    res2 = reg.submit_frames(rv2.registration_id, [Frame(img2, 0.0)], deps=deps, actor="clerk:1")
    assert res2.outcome is Outcome.APPROVED and res2.thresholds["accept"] == THRESHOLDS.accept


def test_a_failed_old_generation_match_keeps_the_old_template(db: Database, tmp_path: Path) -> None:
    s = seed(db)
    new, old = NewFaces(), OldFaces()
    deps, old_index = _deps(db, tmp_path, new, old)
    _enrol_with_old_embedder(db, deps, s, 32, "13300000032", unit(32), old_index)
    img = _frame_image(2)
    old.learn(img, unit(33))  # someone else
    new.learn(img, unit(34, NEW_DIM))
    rv = reg.open_reverification("13300000032", outlet_id=s.outlet_id, clerk_id=s.clerk_id, deps=deps)
    res = reg.submit_frames(rv.registration_id, [Frame(img, 0.0)], deps=deps, actor="clerk:1")
    assert res.outcome is Outcome.REJECTED and Reason.FACE_MISMATCH in res.reasons
    assert _templates(db) == [("old-embedder", 1)]


def test_a_new_registration_searches_the_old_generation_too(db: Database, tmp_path: Path) -> None:
    s = seed(db)
    new, old = NewFaces(), OldFaces()
    deps, old_index = _deps(db, tmp_path, new, old)
    t_a = unit(40)
    _enrol_with_old_embedder(db, deps, s, 40, "13300000040", t_a, old_index)
    # customer A again, under another ID: the new index is empty, the old one holds A
    doc_b = document(41, name="乙")
    assert doc_b.portrait is not None
    live = [_frame_image(3), _frame_image(4)]
    b_new = unit(42, NEW_DIM)
    new.learn(doc_b.portrait, b_new)
    for img in live:
        new.learn(img, near(b_new, 0.97, seed=8))  # live face matches the card's photo
        old.learn(img, near(t_a, 0.96, seed=9))  # and, seen the old way, is customer A
    opened = reg.open_registration(
        reg.OpenRegistration(
            document=doc_b, phone="13300000041", outlet_id=s.outlet_id, clerk_id=s.clerk_id, consent=True
        ),
        deps=deps,
    )
    res = reg.submit_frames(
        opened.registration_id, [Frame(im, float(i)) for i, im in enumerate(live)], deps=deps, actor="c"
    )
    assert res.outcome is Outcome.REVIEW and Reason.DUPLICATE_FACE_OTHER_ID in res.reasons
    assert [c.identity_key for c in res.candidates] == ["i1"]


def test_a_new_number_for_an_old_customer_re_enrols_them(db: Database, tmp_path: Path) -> None:
    s = seed(db)
    new, old = NewFaces(), OldFaces()
    deps, old_index = _deps(db, tmp_path, new, old)
    t_a = unit(50)
    _enrol_with_old_embedder(db, deps, s, 50, "13300000050", t_a, old_index)
    doc = document(50)
    assert doc.portrait is not None
    a_new = unit(51, NEW_DIM)
    new.learn(doc.portrait, a_new)
    img = _frame_image(5)
    new.learn(img, near(a_new, 0.97, seed=4))
    old.learn(img, near(t_a, 0.97, seed=4))  # their own old template: not a duplicate of themselves
    opened = reg.open_registration(
        reg.OpenRegistration(
            document=doc, phone="13300000051", outlet_id=s.outlet_id, clerk_id=s.clerk_id, consent=True
        ),
        deps=deps,
    )
    res = reg.submit_frames(opened.registration_id, [Frame(img, 0.0)], deps=deps, actor="c")
    assert res.outcome is Outcome.APPROVED, res.reasons
    assert _templates(db) == [("new-embedder", 1)]
