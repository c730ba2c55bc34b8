"""Quality findings for one face: is this capture good enough to decide on?

Each finding is a `Reason` (FACE_TOO_SMALL, BLURRY, POOR_EXPOSURE, POSE_TOO_LARGE,
MULTIPLE_FACES); NO_FACE is raised by the pipeline since there is nothing to
assess. Measurements are kept in the report so a reviewer sees *why*. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Detection, Image
from simkyc.errors import Reason

__all__ = [
    "BLOCKING",
    "LAYOUTS",
    "QualityReport",
    "QualityThresholds",
    "assess_quality",
    "estimate_pose",
    "sharpness",
]

LAYOUTS = ("dlib5", "arcface5")
"""Landmark layouts the pose estimate reads: dlib's 5 points (eye corners, nose base) and the ArcFace
five (eye centres, nose tip, mouth corners; `simkyc.core.faces.align`)."""

# The ArcFace 112x112 chip is tighter than dlib's 150x150 one, so its Laplacian variance runs
# about 3x higher (median ratio 2.97 on 400 dev faces, log-correlation 0.95): scaled back so one
# set of thresholds serves both chips. The nose tip stands ~0.80 eye distances in front of the
# eye line (fitted against dlib's nose-base estimate on the same faces, r = 0.93).
_SHARPNESS_SCALE = {"dlib5": 1.0, "arcface5": 1.0 / 2.97}
_NOSE_DEPTH = {"dlib5": 0.6, "arcface5": 0.80}

BLOCKING: frozenset[Reason] = frozenset({Reason.NO_FACE, Reason.MULTIPLE_FACES, Reason.FACE_TOO_SMALL})
"""Findings that make an image unusable for a decision (CLI exit 2); the rest are advisory."""


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Limits per capture kind. ID photos may be small (chip portraits are 102x126) and soft."""

    min_face_px: float = 60.0  # face box width
    min_sharpness: float = 12.0  # variance of the Laplacian on the grey 150x150 chip
    min_brightness: float = 50.0  # mean grey level of the face region, 0-255
    max_brightness: float = 215.0
    max_clipped: float = 0.35  # share of face pixels at 0-5 or 250-255
    max_yaw_deg: float = 35.0
    max_roll_deg: float = 30.0
    second_face_ratio: float = 0.6  # another face at least this wide (vs the main one) -> MULTIPLE_FACES

    @classmethod
    def for_kind(cls, kind: str) -> QualityThresholds:
        if kind == "id_photo":
            return cls(min_face_px=40.0, min_sharpness=4.0, max_yaw_deg=25.0)
        return cls()


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Findings (reason codes, empty when fine) and the measurements behind them."""

    findings: tuple[Reason, ...]
    sharpness: float
    brightness: float
    clipped: float
    face_px: float
    yaw_deg: float
    roll_deg: float
    faces_found: int

    @property
    def usable(self) -> bool:
        return not any(f in BLOCKING for f in self.findings)


def _grey(image: Image) -> npt.NDArray[np.float32]:
    rgb = image.astype(np.float32)
    return np.asarray(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2], dtype=np.float32)


def sharpness(chip: Image) -> float:
    """Variance of the 4-neighbour Laplacian on the grey chip's centre (hair and background left out)."""
    g = _grey(chip)
    h, w = g.shape
    g = g[h // 6 : h - h // 6, w // 6 : w - w // 6]
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def estimate_pose(landmarks: npt.NDArray[np.float32], layout: str = "dlib5") -> tuple[float, float]:
    """(yaw, roll) in degrees from 5 points: nose offset from the eye midline, and the eye line's tilt.

    A rough geometric estimate (no 3-D model): good enough to flag a head turned far away.
    `layout` names the points (`LAYOUTS`).
    """
    if landmarks.shape[0] < 5:
        return 0.0, 0.0
    if layout == "arcface5":  # image-left eye, image-right eye, nose tip, mouth corners
        left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    else:  # dlib's points 0-1 are the eye on the image's right, 2-3 the one on its left
        right_eye = landmarks[0:2].mean(axis=0)
        left_eye = landmarks[2:4].mean(axis=0)
        nose = landmarks[4]
    eye_vec = right_eye - left_eye
    iod = float(np.hypot(*eye_vec))
    if iod < 1e-6:
        return 0.0, 0.0
    roll = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    # signed distance of the nose from the perpendicular bisector of the eyes, relative to the eye distance
    mid = (left_eye + right_eye) / 2
    offset = float(np.dot(nose - mid, eye_vec / iod)) / iod
    # the nose base sits ~0.6 eye distances in front of the eye plane: sin(yaw) ~ offset / 0.6
    depth = _NOSE_DEPTH.get(layout, 0.6)
    yaw = float(np.degrees(np.arcsin(np.clip(offset / depth, -1.0, 1.0))))
    return yaw, roll


def assess_quality(
    image: Image,
    detection: Detection,
    landmarks: npt.NDArray[np.float32],
    chip: Image,
    *,
    others: list[Detection] | None = None,
    thresholds: QualityThresholds | None = None,
    layout: str = "dlib5",
) -> QualityReport:
    """Measure the chosen face and list what is wrong with it (empty findings = good capture).

    `layout` names the landmarks and the chip they cut (`LAYOUTS`); measurements are on dlib's scale.
    """
    t = thresholds or QualityThresholds()
    findings: list[Reason] = []
    face_px = detection.box.width
    others = others or []
    if any(o.box.width >= t.second_face_ratio * face_px for o in others):
        findings.append(Reason.MULTIPLE_FACES)
    if face_px < t.min_face_px:
        findings.append(Reason.FACE_TOO_SMALL)
    sharp = sharpness(chip) * _SHARPNESS_SCALE.get(layout, 1.0)
    if sharp < t.min_sharpness:
        findings.append(Reason.BLURRY)
    h, w = image.shape[:2]
    b = detection.box
    x0, x1 = int(max(0, b.left)), int(min(w, b.right))
    y0, y1 = int(max(0, b.top)), int(min(h, b.bottom))
    region = _grey(image[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else _grey(chip)
    brightness = float(region.mean())
    clipped = float(((region <= 5) | (region >= 250)).mean())
    if not t.min_brightness <= brightness <= t.max_brightness or clipped > t.max_clipped:
        findings.append(Reason.POOR_EXPOSURE)
    yaw, roll = estimate_pose(landmarks, layout)
    if abs(yaw) > t.max_yaw_deg or abs(roll) > t.max_roll_deg:
        findings.append(Reason.POSE_TOO_LARGE)
    return QualityReport(
        findings=tuple(findings),
        sharpness=sharp,
        brightness=brightness,
        clipped=clipped,
        face_px=face_px,
        yaw_deg=yaw,
        roll_deg=roll,
        faces_found=1 + len(others),
    )
