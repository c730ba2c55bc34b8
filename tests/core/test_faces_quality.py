"""Quality findings on synthetic faces: each measurement trips its own reason code."""

from __future__ import annotations

import numpy as np
import pytest

from simkyc.core.faces.quality import QualityThresholds, assess_quality, estimate_pose, sharpness
from simkyc.core.faces.types import Box, Detection
from simkyc.errors import Reason

# dlib 5-point order: image-right eye (outer, inner), image-left eye (outer, inner), nose base
FRONTAL = np.array([[110, 60], [90, 60], [40, 60], [60, 60], [75, 95]], np.float32)


def _textured(level: float = 128.0, contrast: float = 60.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = level + contrast * rng.standard_normal((150, 150, 1))
    return np.repeat(img.clip(0, 255).astype(np.uint8), 3, axis=2)


def _det(width: float = 100.0) -> Detection:
    return Detection(Box(25, 25, 25 + width, 25 + width), np.zeros((0, 2), np.float32), 0.9)


def _assess(image: np.ndarray, **kw: object) -> tuple[Reason, ...]:
    return assess_quality(image, kw.pop("det", _det()), kw.pop("lm", FRONTAL), image, **kw).findings  # type: ignore[arg-type]


def test_good_capture_has_no_findings() -> None:
    assert _assess(_textured()) == ()


def test_flat_image_is_blurry() -> None:
    flat = np.full((150, 150, 3), 128, np.uint8)
    assert Reason.BLURRY in _assess(flat)
    assert sharpness(flat) == 0.0


def test_dark_and_bright_images_are_poorly_exposed() -> None:
    assert Reason.POOR_EXPOSURE in _assess(_textured(level=15, contrast=10))
    assert Reason.POOR_EXPOSURE in _assess(_textured(level=245, contrast=10))


def test_small_face() -> None:
    assert Reason.FACE_TOO_SMALL in _assess(_textured(), det=_det(30))
    # an ID photo may be smaller than a live capture
    assert Reason.FACE_TOO_SMALL not in _assess(
        _textured(), det=_det(50), thresholds=QualityThresholds.for_kind("id_photo")
    )


def test_second_large_face_is_multiple_faces_but_a_small_one_is_not() -> None:
    assert Reason.MULTIPLE_FACES in _assess(_textured(), others=[_det(90)])
    assert Reason.MULTIPLE_FACES not in _assess(_textured(), others=[_det(20)])


def test_pose_from_landmarks() -> None:
    yaw, roll = estimate_pose(FRONTAL)
    assert abs(yaw) < 1 and abs(roll) < 1
    turned = FRONTAL.copy()
    turned[4, 0] += 30  # nose far towards one eye: head turned
    yaw, _ = estimate_pose(turned)
    assert abs(yaw) > 35
    assert Reason.POSE_TOO_LARGE in _assess(_textured(), lm=turned)


def test_pose_from_arcface_points_reads_eye_centres_and_nose_tip() -> None:
    from simkyc.core.faces.align import ARCFACE_112

    frontal = ARCFACE_112.astype(np.float32)
    yaw, roll = estimate_pose(frontal, "arcface5")
    assert abs(yaw) < 2 and abs(roll) < 1
    # the same five points read as dlib's layout would be nonsense: the layout matters
    assert abs(estimate_pose(frontal, "dlib5")[0]) > 30
    tilted = frontal.copy()
    tilted[1, 1] += 35.0  # image-right eye far lower: rolled
    assert estimate_pose(tilted, "arcface5")[1] > 30
    turned = frontal.copy()
    turned[2, 0] += 25.0  # nose tip towards the image-right eye
    yaw, _ = estimate_pose(turned, "arcface5")
    image = _textured()
    assert (
        yaw > 35
        and Reason.POSE_TOO_LARGE in assess_quality(image, _det(), turned, image, layout="arcface5").findings
    )


def test_sharpness_of_the_tighter_arcface_chip_is_on_dlibs_scale() -> None:
    from simkyc.core.faces.align import ARCFACE_112

    image = _textured()
    plain = assess_quality(image, _det(), FRONTAL, image).sharpness
    scaled = assess_quality(image, _det(), ARCFACE_112.astype(np.float32), image, layout="arcface5").sharpness
    assert scaled == pytest.approx(plain / 2.97)
