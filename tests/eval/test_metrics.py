"""Error-rate arithmetic on scores with known answers, and the all-pairs impostor construction."""

from __future__ import annotations

import numpy as np
import pytest

from simkyc.eval.metrics import det_curve, eer, fnmr_at_fmr, rates_at
from simkyc.eval.pairs import all_cross_identity_pairs, cross_identity_scores


def test_fnmr_at_fmr_keeps_fmr_at_or_below_target() -> None:
    impostor = np.linspace(0.0, 0.999, 1000)  # 1000 distinct scores
    genuine = np.array([0.5, 0.9985, 0.9995, 1.0, -np.inf])
    r = fnmr_at_fmr(genuine, impostor, 1e-3)
    # one impostor (the top one, 0.999) may match; the threshold sits just above the second highest
    assert r.fmr == pytest.approx(1e-3)
    assert 0.998 < r.threshold <= 0.999
    assert r.fnmr == pytest.approx(2 / 5)  # 0.5 and the failure to acquire (-inf) are misses
    assert r.reliable and r.n_impostor == 1000
    assert not fnmr_at_fmr(genuine, impostor, 1e-4).reliable


def test_fnmr_at_fmr_zero_allowed_goes_above_every_impostor() -> None:
    r = fnmr_at_fmr([0.95], [0.1, 0.2, 0.9], 1e-2)
    assert r.fmr == 0.0 and r.threshold > 0.9 and r.fnmr == 0.0


def test_eer_of_separable_and_overlapping_scores() -> None:
    assert eer([0.9, 0.8, 0.95], [0.1, 0.2, 0.3])[0] == 0.0
    rng = np.random.default_rng(0)
    g, i = rng.normal(1, 1, 20000), rng.normal(-1, 1, 20000)
    # two unit normals 2 apart cross at 0: EER = Phi(-1) = 0.1587
    value, threshold = eer(g, i)
    assert value == pytest.approx(0.1587, abs=0.01) and abs(threshold) < 0.05


def test_det_curve_is_monotone() -> None:
    rng = np.random.default_rng(1)
    c = det_curve(rng.normal(1, 1, 500), rng.normal(-1, 1, 500))
    assert np.all(np.diff(c.fmr) <= 0) and np.all(np.diff(c.fnmr) >= 0)
    fmr, fnmr = rates_at(rng.normal(1, 1, 500), rng.normal(-1, 1, 500), 0.0)
    assert 0.05 < fmr < 0.3 and 0.05 < fnmr < 0.3


def test_all_cross_identity_pairs() -> None:
    ids = ["a", "a", "b", "c", "c", "c"]
    i, j = all_cross_identity_pairs(ids)
    assert len(i) == 15 - 1 - 3  # all pairs minus same-identity pairs
    assert all(ids[x] != ids[y] and x < y for x, y in zip(i, j, strict=True))


def test_cross_identity_scores_match_brute_force() -> None:
    rng = np.random.default_rng(2)
    t = rng.normal(size=(700, 16)).astype(np.float32)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    ids = [str(k % 90) for k in range(700)]
    valid = np.ones(700, bool)
    valid[::7] = False
    fast = np.sort(cross_identity_scores(t, ids, valid=valid))
    keep = np.flatnonzero(valid)
    i, j = all_cross_identity_pairs([ids[k] for k in keep])
    slow = np.sort(np.einsum("nd,nd->n", t[keep][i], t[keep][j]))
    assert fast.shape == slow.shape and np.allclose(fast, slow, atol=1e-5)
