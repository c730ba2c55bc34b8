"""End to end on real data: a frame of a real clip, shrunk to chip size, is the ID photo; the clip
is the live capture. The holder registers; an impostor's ID photo is refused; the holder's face on
a second ID goes to REVIEW as a duplicate. On SQLite and on PostgreSQL.

The liveness session is the real one (BlazeFace + FaceMesh) and runs once: every registration
here gets the same challenge (fixed clock and test seed), so its result is re-used.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from regkit import (
    Clock,
    MemoLiveness,
    document,
    real_deps,
    seed,
)

from simkyc import bootstrap
from simkyc.core.faces.types import Image
from simkyc.core.policy import Outcome
from simkyc.errors import Reason
from simkyc.search import NumpyIndex, ProtectedTransform
from simkyc.service import liveness as live
from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.store import Database

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("calibrated")]


def _register(
    deps: reg.RegistrationDeps, s, n: int, phone: str, photo: Image, clip: live.VideoClip, seed_: int
):  # type: ignore[no-untyped-def]
    doc = document(n, name="测试", photo=photo)
    opened = reg.open_registration(
        reg.OpenRegistration(
            document=doc,
            phone=phone,
            outlet_id=s.outlet_id,
            clerk_id=s.clerk_id,
            consent=True,
            test_seed=seed_,
        ),
        deps=deps,
    )
    frames = live.anchor_frames(clip, opened.challenge)
    return opened, reg.submit_frames(opened.registration_id, frames, deps=deps, actor=f"clerk:{s.clerk_id}")


def test_holder_registers_impostor_refused_duplicate_reviewed(
    db: Database,
    tmp_path: Path,
    clip: live.VideoClip,
    holder_photo: Image,
    impostor_photo: Image,
    memo_liveness: MemoLiveness,
    clip_seed: int,
) -> None:
    assert holder_photo.shape == (126, 102, 3)
    s = seed(db)
    index = NumpyIndex(
        ProtectedTransform.from_key(
            b"e2e-index-key-32-bytes-long!!!!!", dim=bootstrap.current_generation()[1]
        ),
        path=tmp_path / "i.npz",
    )
    deps = real_deps(db, clock=Clock(), liveness=memo_liveness, index=index)
    th = deps.thresholds()

    opened, ok = _register(deps, s, 1, "13800000001", holder_photo, clip, clip_seed)
    assert ok.outcome is Outcome.APPROVED, ok
    assert ok.reasons == (Reason.FACE_MATCH,)
    assert ok.scores["match"] >= th.accept
    status = reg.registration_status(opened.registration_id, deps=deps)
    assert (
        status["test_seed"] == clip_seed
        and status["model"]
        and status["policy_version"] == deps.policy.version
    )

    _, bad = _register(deps, s, 2, "13800000002", impostor_photo, clip, clip_seed)
    assert bad.outcome is Outcome.REJECTED, bad
    assert Reason.FACE_MISMATCH in bad.reasons and bad.scores["match"] < th.review

    _, dup = _register(deps, s, 3, "13800000003", holder_photo, clip, clip_seed)
    assert dup.outcome is Outcome.REVIEW, dup
    assert Reason.DUPLICATE_FACE_OTHER_ID in dup.reasons
    assert [c.id_masked for c in dup.candidates] == [opened.id_masked]

    assert (
        reg.platform_check(
            name="测试", id_number=document(1).id_number, phone="13800000001", platform="t", deps=deps
        )
        == "consistent"
    )
    assert (
        reg.platform_check(
            name="测试", id_number=document(2).id_number, phone="13800000002", platform="t", deps=deps
        )
        == "no_record"
    )
    assert verify_audit(db).ok
    print(
        f"\nend to end [{db.dialect}]: holder {ok.scores['match']:.3f} APPROVED, "
        f"impostor {bad.scores['match']:.3f} REJECTED, same face under a 2nd ID {dup.scores['match']:.3f} "
        f"REVIEW (accept {th.accept:.3f}, review {th.review:.3f}, duplicate {th.duplicate:.3f})"
    )
