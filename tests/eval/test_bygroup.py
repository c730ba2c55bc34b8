"""Per-group error rates from all pairs."""

from __future__ import annotations

import numpy as np
import pytest

from simkyc.eval.bygroup import all_pair_scores, error_rates, rates_by_group, threshold_at_fmr


def test_threshold_at_fmr_admits_exactly_the_allowed_impostors() -> None:
    imp = np.linspace(0.0, 1.0, 10_000)
    thr = threshold_at_fmr(imp, 1e-3)
    assert np.sum(imp >= thr) == 10
    assert np.sum(imp >= np.nextafter(thr, -np.inf) - 1e-4) > 10


def test_threshold_refuses_too_few_impostors() -> None:
    with pytest.raises(ValueError, match="cannot measure"):
        threshold_at_fmr(np.zeros(999), 1e-3)


def test_error_rates_count_ties_as_matches() -> None:
    assert error_rates([0.5, 0.4], [0.5, 0.1], 0.5) == (0.5, 0.5)


def _clustered(rng: np.random.Generator, people: int, per: int, spread: float, dim: int = 16) -> np.ndarray:
    centres = rng.normal(size=(people, 1, dim))
    x = (centres + spread * rng.normal(size=(people, per, dim))).reshape(-1, dim)
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def test_pairs_stay_inside_group_and_fold() -> None:
    rng = np.random.default_rng(0)
    x = _clustered(rng, 6, 3, 0.1)
    people = np.repeat([f"p{i}" for i in range(6)], 3)
    groups = ["g1"] * 9 + ["g2"] * 9
    folds = np.repeat([0, 0, 1, 0, 1, 1], 3)
    sc = all_pair_scores(x, people.tolist(), groups, folds=folds)
    # g1: people 0,1 in fold 0 (6 images), person 2 alone in fold 1 (3 images)
    assert len(sc["g1"].genuine) == 3 * 3
    assert len(sc["g1"].impostor) == 9
    assert sc["g1"].people == 3


def test_strictest_threshold_holds_every_group_at_target() -> None:
    rng = np.random.default_rng(1)
    tight = _clustered(rng, 60, 4, 0.2)  # people far apart: low impostor scores
    crowded = _clustered(rng, 60, 4, 0.2) * 0.3 + 1.0  # all near one point: high impostor scores
    crowded /= np.linalg.norm(crowded, axis=1, keepdims=True)
    x = np.vstack([tight, crowded])
    people = [f"a{i // 4}" for i in range(240)] + [f"b{i // 4}" for i in range(240)]
    groups = ["tight"] * 240 + ["crowded"] * 240
    sc = all_pair_scores(x, people, groups)
    rates = {r.group: r for r in rates_by_group(sc, target_fmr=1e-3)}
    assert rates["crowded"].own_threshold > rates["tight"].own_threshold
    assert all(r.fmr <= 1e-3 for r in rates.values())
    pooled = threshold_at_fmr(np.concatenate([s.impostor for s in sc.values()]), 1e-3)
    at_pooled = {r.group: r for r in rates_by_group(sc, target_fmr=1e-3, threshold=pooled)}
    assert at_pooled["crowded"].fmr > 1e-3  # one pooled threshold fails the crowded group
