"""Synthetic FaceMesh-shaped landmarks for core liveness tests: a generic face posed by a known rotation."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.liveness import signals

W, H = 640, 480
_RNG_CLOUD = np.random.default_rng(0).uniform(-1, 1, size=(468, 3))


def face_landmarks(
    *, yaw: float = 0.0, pitch: float = 0.0, ear: float = 0.3, scale: float = 0.25
) -> npt.NDArray[np.float32]:
    """468 points: the six pose points projected from the generic model rotated by yaw/pitch (degrees,
    yaw > 0 = the customer's own left), eyelids opened to `ear`, the rest a cloud around the face."""
    rvec = np.array([math.radians(-pitch), math.radians(-yaw), 0.0])
    tvec = np.array([0.0, 0.0, W / scale])
    cam = np.array([[W, 0, W / 2], [0, W, H / 2], [0, 0, 1]], dtype=np.float64)
    model = signals._MODEL_3D
    proj, _ = cv2.projectPoints(model, rvec, tvec, cam, None)
    pts = np.zeros((468, 3), dtype=np.float32)
    centre = np.array([W / 2, H / 2])
    pts[:, :2] = centre + _RNG_CLOUD[:, :2] * np.array([90, 120]) * scale / 0.25
    for idx, p in zip(signals._PNP_IDS, proj.reshape(-1, 2), strict=True):
        pts[idx, :2] = p
    for eye, (outer, inner) in ((signals.RIGHT_EYE, (0, 3)), (signals.LEFT_EYE, (0, 3))):
        p1 = pts[eye[outer], :2]
        width = 0.35 * float(np.hypot(*(pts[signals.LEFT_EYE_OUTER, :2] - pts[signals.RIGHT_EYE_OUTER, :2])))
        direction = 1.0 if eye is signals.RIGHT_EYE else -1.0
        p4 = p1 + np.array([direction * width, 0.0])
        half = ear * width / 2
        a, b = p1 + (p4 - p1) / 3, p1 + 2 * (p4 - p1) / 3
        pts[eye[inner], :2] = p4
        up = np.array([0.0, half])
        pts[eye[1], :2] = a - up
        pts[eye[2], :2] = b - up
        pts[eye[5], :2] = a + up
        pts[eye[4], :2] = b + up
    return pts


def noise_image(seed: int) -> npt.NDArray[np.uint8]:
    """A frame nobody could mistake for another one."""
    return np.random.default_rng(seed).integers(0, 256, size=(H, W, 3), dtype=np.uint8)
