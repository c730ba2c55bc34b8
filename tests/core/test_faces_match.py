"""Matching and calibration: pure functions, no fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from simkyc.core.faces.calibration import Calibration, OperatingPoint, fmr_key
from simkyc.core.faces.match import match, similarity
from simkyc.errors import InputError


def unit_template(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_identical_templates_match() -> None:
    t = unit_template(1)
    result = match(t, t, threshold=0.5)
    assert result.is_match and result.score == pytest.approx(1.0, abs=1e-6)


def test_random_templates_do_not_match_at_a_high_threshold() -> None:
    result = match(unit_template(1), unit_template(2), threshold=0.5)
    assert not result.is_match and abs(result.score) < 0.5


def test_threshold_is_inclusive() -> None:
    t = unit_template(3)
    score = match(t, t, threshold=0.0).score
    assert match(t, t, threshold=score).is_match


def test_similarity_against_gallery() -> None:
    gallery = np.stack([unit_template(i) for i in range(5)])
    scores = similarity(gallery, gallery[2])
    assert scores.shape == (5,) and int(np.argmax(scores)) == 2
    assert similarity(np.empty((0, 128), np.float32), gallery[0]).shape == (0,)


def _cal() -> Calibration:
    point = OperatingPoint(1e-3, 0.91, 0.0009, 0.05, 100_000, 500)
    return Calibration(embedder="e", embedder_version="1", points={"1e-3": point}, data="test data")


def test_fmr_keys() -> None:
    assert [fmr_key(x) for x in (1e-2, 0.001, 1e-4)] == ["1e-2", "1e-3", "1e-4"]


def test_calibration_threshold_by_value_or_name() -> None:
    cal = _cal()
    assert cal.threshold(0.001) == cal.threshold("1e-3") == 0.91
    with pytest.raises(InputError):
        cal.threshold(1e-5)


def test_calibration_round_trip_and_embedder_check() -> None:
    cal = _cal()
    again = Calibration.from_dict(cal.to_dict())
    assert again.points == cal.points and again.data == "test data"
    again.check_embedder("e", "1")
    with pytest.raises(InputError):
        again.check_embedder("other", "1")
    with pytest.raises(InputError):
        Calibration.from_dict({"embedder": "e"})
