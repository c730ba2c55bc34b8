"""Fusion trials and error-versus-reject maths, on synthetic scores with a known answer."""

from __future__ import annotations

import numpy as np

from simkyc.eval.abstain import error_versus_reject, flip_consistency, quality_score, rates_with_abstention
from simkyc.eval.fusion import draw_trials, fusion_scores


def _people(rng: np.random.Generator, n: int, per: int, noise: float, dim: int = 32) -> np.ndarray:
    c = rng.normal(size=(n, 1, dim))
    x = (c + noise * rng.normal(size=(n, per, dim))).reshape(-1, dim)
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def test_trials_use_id_like_images_as_references_and_never_reuse_the_reference() -> None:
    people = ["a"] * 8 + ["b"] * 3
    id_like = [True, True] + [False] * 6 + [False] * 3
    trials = draw_trials(people, ["g"] * 11, max_k=5, per_person=20, seed=1, id_like=id_like)
    assert {t.person for t in trials} == {"a"}  # b has too few images for K = 5
    assert all(t.reference in (0, 1) and t.reference not in t.frames for t in trials)
    assert all(len(set(t.frames)) == 5 and all(f >= 2 for f in t.frames) for t in trials)


def test_more_frames_separate_genuine_from_impostor_better() -> None:
    rng = np.random.default_rng(0)
    x = _people(rng, 40, 8, noise=1.2)
    people = np.repeat([f"p{i}" for i in range(40)], 8).tolist()
    trials = draw_trials(people, ["g"] * len(people), max_k=5, per_person=5, seed=0)

    def gap(k: int, rule: str) -> float:
        s = fusion_scores(x, trials, k=k, rule=rule)["g"]  # type: ignore[arg-type]
        return float((s.genuine.mean() - s.impostor.mean()) / s.impostor.std())

    assert gap(5, "template") > gap(3, "template") > gap(1, "template")
    s = fusion_scores(x, trials, k=3, rule="max")["g"]
    assert len(s.genuine) == len(trials) and len(s.impostor) == len(trials) * (len(trials) - 5)


def test_quality_score_is_the_worst_factor() -> None:
    q = quality_score(
        face_px=[150, 30, 150], sharpness=[100, 100, 100], brightness=[128, 128, 128], yaw_deg=[0, 0, 45]
    )
    assert q[0] == 1.0 and q[1] == 0.0 and q[2] == 0.0


def test_rejecting_low_quality_removes_errors_when_quality_predicts_them() -> None:
    rng = np.random.default_rng(2)
    gq = rng.uniform(size=5000)
    genuine = 0.5 + 0.4 * gq + 0.1 * rng.normal(size=5000)  # poor captures score low
    impostor = rng.normal(0.0, 0.1, size=50_000)
    iq = rng.uniform(size=50_000)
    curve = error_versus_reject(genuine, gq, impostor, iq, threshold=0.6, fractions=[0.0, 0.1, 0.3])
    assert curve.fnmr[0] > curve.fnmr[1] > curve.fnmr[2]
    assert np.allclose(curve.rejected, [0.0, 0.1, 0.3], atol=0.01)
    # a quality unrelated to the score leaves FNMR roughly where it was
    flat = error_versus_reject(
        genuine, rng.uniform(size=5000), impostor, iq, threshold=0.6, fractions=[0.0, 0.3]
    )
    assert abs(flat.fnmr[1] - flat.fnmr[0]) < 0.5 * (curve.fnmr[0] - curve.fnmr[2])
    rates = rates_with_abstention(genuine, gq < 0.1, impostor, iq < 0.1, threshold=0.6)
    assert rates["fnmr"] < curve.fnmr[0] and 0.05 < rates["retry_genuine"] < 0.15


def test_flip_consistency_is_the_cosine_of_each_pair() -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert np.allclose(flip_consistency(a, b), [1.0, 0.0])
