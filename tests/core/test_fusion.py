"""Template averaging and score fusion over several live frames."""

from __future__ import annotations

import numpy as np
import pytest

from simkyc.core.faces.fusion import fuse_scores, fuse_templates, fused_score


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_fused_template_is_the_normalised_mean() -> None:
    t = fuse_templates(np.stack([_unit([1, 0]), _unit([0, 1])]))
    assert np.allclose(t, _unit([1, 1]))
    assert np.allclose(fuse_templates(_unit([3, 4])[None, :]), _unit([3, 4]))
    with pytest.raises(ValueError):
        fuse_templates(np.empty((0, 2), np.float32))


def test_score_rules() -> None:
    assert fuse_scores([0.2, 0.6]) == pytest.approx(0.4)
    assert fuse_scores([0.2, 0.6], "max") == pytest.approx(0.6)
    with pytest.raises(ValueError):
        fuse_scores([])


def test_one_bad_frame_hurts_averaging_less_than_it_hurts_that_frame() -> None:
    ref = _unit([1, 0, 0])
    frames = np.stack([_unit([1, 0.1, 0]), _unit([1, -0.1, 0.05]), _unit([0.2, 1, 0])])  # last frame: off
    worst = float((frames @ ref).min())
    assert fused_score(ref, frames) > worst
    assert fused_score(ref, frames, how="max") >= fused_score(ref, frames, how="mean")
