"""Five-point ArcFace alignment maths: similarity fit, the vendor's three-point affine, landmark layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simkyc.core.faces.align import (
    ARCFACE_112,
    affine_from_three,
    apply_affine,
    five_from_68,
    five_from_mesh,
    mirror_five,
    similarity_transform,
)


def _similar(points: np.ndarray, *, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    r = np.array([[c, -s], [s, c]])
    return scale * points @ r.T + np.array(shift)


def test_similarity_recovers_an_exact_similarity() -> None:
    src = _similar(ARCFACE_112, angle=0.3, scale=2.5, shift=(140.0, -20.0))
    m = similarity_transform(src)
    np.testing.assert_allclose(apply_affine(m, src), ARCFACE_112, atol=1e-9)
    # rotation + uniform scale only: the 2x2 part is a scaled rotation
    a = m[:, :2]
    assert a[0, 0] == pytest.approx(a[1, 1]) and a[0, 1] == pytest.approx(-a[1, 0])


def test_similarity_is_the_least_squares_fit_and_never_mirrors() -> None:
    rng = np.random.default_rng(4)
    src = _similar(ARCFACE_112, angle=-0.2, scale=0.7, shift=(10.0, 30.0)) + rng.normal(0, 1.0, (5, 2))
    m = similarity_transform(src)
    best = np.linalg.norm(apply_affine(m, src) - ARCFACE_112)
    for eps in (1e-3, -1e-3):  # any perturbed similarity fits worse
        worse = m + eps * np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        assert np.linalg.norm(apply_affine(worse, src) - ARCFACE_112) > best
    mirrored = src * np.array([-1.0, 1.0])
    assert np.linalg.det(similarity_transform(mirrored)[:, :2]) > 0


def test_similarity_refuses_degenerate_points() -> None:
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)))
    with pytest.raises(ValueError):
        similarity_transform(np.zeros((5, 3)), np.zeros((5, 3)))


def test_three_point_affine_is_exact_on_eyes_and_nose_and_may_shear() -> None:
    src = np.array([[10.0, 10.0], [30.0, 12.0], [22.0, 40.0], [0.0, 0.0], [0.0, 0.0]])
    m = affine_from_three(src)
    np.testing.assert_allclose(apply_affine(m, src[:3]), ARCFACE_112[:3], atol=1e-9)
    with pytest.raises(ValueError):
        affine_from_three(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))


def _convert68pts5pts(landmark: list[float]) -> list[list[float]]:
    """faceplugin lib/fr_feature.js `convert68pts5pts`, transcribed on the flat [x0, y0, x1, ...] array."""
    left_eye_x = (landmark[74] + landmark[76] + landmark[80] + landmark[82]) / 4
    left_eye_y = (landmark[75] + landmark[77] + landmark[81] + landmark[83]) / 4
    right_eye_x = (landmark[86] + landmark[88] + landmark[92] + landmark[94]) / 4
    right_eye_y = (landmark[87] + landmark[89] + landmark[93] + landmark[95]) / 4
    nose_x, nose_y = landmark[60], landmark[61]
    left_mouse_x = (landmark[96] + landmark[120]) / 2
    left_mouse_y = (landmark[97] + landmark[121]) / 2
    right_mouse_x = (landmark[108] + landmark[128]) / 2
    right_mouse_y = (landmark[109] + landmark[129]) / 2
    return [
        [left_eye_x, left_eye_y],
        [right_eye_x, right_eye_y],
        [nose_x, nose_y],
        [left_mouse_x, left_mouse_y],
        [right_mouse_x, right_mouse_y],
    ]


def test_five_from_68_is_the_vendors_conversion() -> None:
    flat = np.random.default_rng(1).uniform(0, 200, 136)
    np.testing.assert_allclose(five_from_68(flat.reshape(68, 2)), _convert68pts5pts(flat.tolist()), atol=1e-4)


def test_five_from_mesh_reads_eye_contours_nose_tip_and_mouth_corners() -> None:
    mesh = np.zeros((468, 3), np.float32)
    mesh[[33, 133], :2] = [[10, 50], [30, 50]]  # image-left eye corners...
    mesh[[263, 362], :2] = [[90, 50], [70, 50]]
    for i in (7, 163, 144, 145, 153, 154, 155, 246, 161, 160, 159, 158, 157, 173):
        mesh[i, :2] = [20, 50]
    for i in (249, 390, 373, 374, 380, 381, 382, 466, 388, 387, 386, 385, 384, 398):
        mesh[i, :2] = [80, 50]
    mesh[1, :2], mesh[61, :2], mesh[291, :2] = [50, 70], [35, 90], [65, 90]
    np.testing.assert_allclose(five_from_mesh(mesh), [[20, 50], [80, 50], [50, 70], [35, 90], [65, 90]])
    with pytest.raises(ValueError):
        five_from_mesh(mesh[:100])


def test_mirror_five_swaps_sides() -> None:
    mirrored = mirror_five(ARCFACE_112, 112)
    np.testing.assert_allclose(mirror_five(mirrored, 112), ARCFACE_112, atol=1e-5)
    # the reference is nearly symmetric: its mirror lands within a pixel and a half of itself
    assert np.abs(mirrored - ARCFACE_112).max() < 1.5
