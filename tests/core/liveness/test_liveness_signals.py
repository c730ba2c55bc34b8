"""Per-frame signals and the frame checks, on synthetic landmarks with known pose, eyes and geometry."""

from __future__ import annotations

import numpy as np
import pytest
from liveness_builders import H, W, face_landmarks, noise_image

from simkyc.core.liveness import FrameFreshness, eye_aspect_ratio, head_pose, planar_residual
from simkyc.core.liveness.checks import PlanarFlow
from simkyc.core.liveness.signals import frame_thumbnail


@pytest.mark.parametrize("ear", [0.08, 0.2, 0.35])
def test_eye_aspect_ratio_reads_back_the_lid_opening(ear: float) -> None:
    right, left = eye_aspect_ratio(face_landmarks(ear=ear))
    assert right == pytest.approx(ear, abs=1e-3)
    assert left == pytest.approx(ear, abs=1e-3)


@pytest.mark.parametrize(("yaw", "pitch"), [(0, 0), (25, 0), (-25, 0), (0, 15), (0, -15), (20, 10)])
def test_head_pose_recovers_yaw_and_pitch_with_their_signs(yaw: float, pitch: float) -> None:
    pose = head_pose(face_landmarks(yaw=yaw, pitch=pitch), (H, W))
    assert pose.yaw == pytest.approx(yaw, abs=2.0)
    assert pose.pitch == pytest.approx(pitch, abs=2.0)
    assert abs(pose.roll) < 2.0


def test_turn_to_own_left_moves_the_nose_to_image_right_of_the_eyes() -> None:
    def nose_offset(lm: np.ndarray) -> float:
        return float(lm[1, 0] - (lm[33, 0] + lm[263, 0]) / 2)  # nose tip against the eye-corner midpoint

    assert nose_offset(face_landmarks(yaw=30)) > nose_offset(face_landmarks()) + 5
    assert head_pose(face_landmarks(yaw=30), (H, W)).yaw > 0


def test_planar_residual_is_zero_for_a_picture_and_not_for_depth() -> None:
    lm = face_landmarks()
    hom = np.array([[0.9, 0.1, 30.0], [-0.05, 1.1, -10.0], [2e-4, -1e-4, 1.0]])
    xy1 = np.hstack([lm[:, :2], np.ones((468, 1))]) @ hom.T
    picture = lm.copy()
    picture[:, :2] = xy1[:, :2] / xy1[:, 2:3]
    assert planar_residual(lm, picture) < 1e-4
    bumped = picture.copy()
    rng = np.random.default_rng(1)
    bumped[:, :2] += rng.normal(0, 3.0, size=(468, 2))  # parallax of points off the plane
    assert planar_residual(lm, bumped) > 0.01


def test_freshness_accepts_a_live_stream() -> None:
    fresh = FrameFreshness(issued_at=100.0, deadline=130.0)
    assert all(fresh.check(100.5 + i / 15, frame_thumbnail(noise_image(i))) is None for i in range(30))


@pytest.mark.parametrize(
    ("times", "problem"),
    [
        ([101.0, 101.1, 101.1], "timestamp_not_increasing"),
        ([101.0, 101.1, 101.05], "timestamp_not_increasing"),
        ([99.0], "before_challenge"),
        ([101.0, 101.001], "interval_too_short"),
        ([101.0, 103.0], "interval_too_long"),
    ],
)
def test_freshness_refuses_bad_timestamps(times: list[float], problem: str) -> None:
    fresh = FrameFreshness(issued_at=100.0, deadline=130.0)
    results = [fresh.check(t, frame_thumbnail(noise_image(i))) for i, t in enumerate(times)]
    assert results[-1] == problem
    assert all(r is None for r in results[:-1])


def test_freshness_refuses_a_repeated_frame_even_much_later() -> None:
    fresh = FrameFreshness(issued_at=0.0, deadline=60.0)
    for i in range(10):
        assert fresh.check(1 + i / 15, frame_thumbnail(noise_image(i))) is None
    assert fresh.check(2.0, frame_thumbnail(noise_image(3))) == "repeated_frame"


def _pan(i: int) -> np.ndarray:
    """A textured scene panning sideways, 12 px a frame (content moves, brightness does not)."""
    import cv2

    big = cv2.resize(noise_image(0)[:30, :40], (W * 2, H), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(big[:, 12 * i : 12 * i + W])


def test_freshness_refuses_a_frame_out_of_its_place() -> None:
    # a smooth pan, then one frame from further along spliced between neighbours that agree
    frames = [_pan(i) for i in range(12)]
    fresh = FrameFreshness(issued_at=0.0, deadline=60.0)
    order = [0, 1, 2, 3, 9, 4, 5]
    results = [fresh.check(1 + k / 15, frame_thumbnail(frames[i])) for k, i in enumerate(order)]
    assert results[:5] == [None] * 5
    assert results[5] == "frame_out_of_order"


def test_freshness_takes_a_flash_of_brightness_for_no_reordering() -> None:
    """One frame brighter than both neighbours (a camera's exposure step next to a flash): in order."""
    base = noise_image(0).astype(np.int16)
    levels = [0, 0, 0, 12, 0, 0]
    fresh = FrameFreshness(issued_at=0.0, deadline=60.0)
    results = [
        fresh.check(1 + k / 15, frame_thumbnail(np.clip(base + lv + k, 0, 255).astype(np.uint8)))
        for k, lv in enumerate(levels)
    ]
    assert results == [None] * len(levels)


def test_planar_flow_finds_a_tilted_picture_flat() -> None:
    rng = np.random.default_rng(3)
    texture = (rng.integers(0, 256, size=(60, 80)) > 128).astype(np.uint8) * 200 + 20
    import cv2

    picture = cv2.resize(texture, (320, 240), interpolation=cv2.INTER_NEAREST)
    picture = cv2.GaussianBlur(picture, (0, 0), 1.5)
    lm = face_landmarks()
    flow = PlanarFlow()
    out = []
    for k in range(8):
        a = k * 0.015
        hom = np.array([[1 - a, 0, 160 + 300 * a], [0, 1, 120], [-a / 400, 0, 1]])
        frame = cv2.warpPerspective(picture, hom, (W, H))
        rgb = np.dstack([frame] * 3)
        lm_k = lm.copy()
        xy1 = np.hstack([lm[:, :2] - [160, 120], np.ones((468, 1))]) @ hom.T
        lm_k[:, :2] = xy1[:, :2] / xy1[:, 2:3]
        residual = flow.update(rgb, lm_k, deviation=0.0 if k == 0 else 15.0)
        if residual is not None:
            out.append(residual)
    assert len(out) >= 5
    assert max(out) < 0.01
