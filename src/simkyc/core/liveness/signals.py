"""Per-frame signals from FaceMesh landmarks: eye aspect ratio, head pose, sharpness, exposure.

OpenCV is used here only as maths on arrays (solvePnP, Laplacian, warps), never for I/O.
Landmark indices are MediaPipe FaceMesh's; "right"/"left" are the customer's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image

__all__ = [
    "HeadPose",
    "eye_aspect_ratio",
    "face_aspect",
    "face_chip",
    "face_crop_grey",
    "frame_thumbnail",
    "head_pose",
    "inter_ocular",
    "sharpness_exposure",
]

FloatArray = npt.NDArray[np.float32]

# p1..p6 of Soukupova and Cech's EAR: outer corner, two upper lid points, inner corner, two lower lid points
RIGHT_EYE = (33, 160, 158, 133, 153, 144)
LEFT_EYE = (263, 387, 385, 362, 380, 373)
NOSE_TIP = 1
CHIN = 152
MOUTH_RIGHT = 61
MOUTH_LEFT = 291
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263
_PNP_IDS = (NOSE_TIP, CHIN, RIGHT_EYE_OUTER, LEFT_EYE_OUTER, MOUTH_RIGHT, MOUTH_LEFT)
# a generic 3-D face (mm-ish units) in OpenCV's camera axes: x right, y down, z away from the camera
_MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, 330.0, 65.0),  # chin
        (-225.0, -170.0, 135.0),  # right eye outer corner (image left)
        (225.0, -170.0, 135.0),  # left eye outer corner
        (-150.0, 150.0, 125.0),  # right mouth corner
        (150.0, 150.0, 125.0),  # left mouth corner
    ],
    dtype=np.float64,
)
# where eye centres, nose tip and mouth corners fall in a dlib-style 150x150 face chip
# (padding 0.25), measured by running FaceMesh on dlib chips of 132 LFW faces
_CHIP_SIZE = 150
_CHIP_TEMPLATE = np.array(
    [(45.4, 45.6), (100.7, 45.6), (72.9, 80.5), (49.6, 103.0), (97.9, 103.0)], dtype=np.float32
)
_RIGHT_EYE_RING = (33, 133, 159, 145)
_LEFT_EYE_RING = (263, 362, 386, 374)


def _dist(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    return float(np.hypot(a[0] - b[0], a[1] - b[1]))


def _ear_one(pts: FloatArray, ids: tuple[int, ...]) -> float:
    p1, p2, p3, p4, p5, p6 = (pts[i] for i in ids)
    width = _dist(p1, p4)
    if width <= 1e-6:
        return 0.0
    return (_dist(p2, p6) + _dist(p3, p5)) / (2.0 * width)


def eye_aspect_ratio(landmarks: FloatArray) -> tuple[float, float]:
    """EAR of the customer's right and left eye: lid opening over eye width, about 0.3 open, < 0.15 shut."""
    return _ear_one(landmarks, RIGHT_EYE), _ear_one(landmarks, LEFT_EYE)


def inter_ocular(landmarks: FloatArray) -> float:
    """Distance between the outer eye corners, in pixels: the face's scale."""
    return _dist(landmarks[RIGHT_EYE_OUTER], landmarks[LEFT_EYE_OUTER])


def face_aspect(landmarks: FloatArray) -> float:
    """Eye-line-to-mouth height over inter-ocular width: a blink leaves it alone, tilting a photo does not."""
    eyes = (landmarks[RIGHT_EYE_OUTER, :2] + landmarks[LEFT_EYE_OUTER, :2]) / 2
    mouth = (landmarks[MOUTH_RIGHT, :2] + landmarks[MOUTH_LEFT, :2]) / 2
    iod = inter_ocular(landmarks)
    return _dist(eyes, mouth) / iod if iod > 1e-6 else 0.0


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Degrees. yaw > 0: turned to the customer's own left; pitch > 0: chin up; roll > 0: tilted clockwise."""

    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks: FloatArray, frame_size: tuple[int, int]) -> HeadPose:
    """Head pose by solvePnP of six landmarks against a generic 3-D face, focal length = frame width.

    `frame_size` is (height, width). The frame is taken as unmirrored (as a camera delivers it).
    """
    h, w = frame_size
    focal = float(w)
    camera = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], dtype=np.float64)
    image_pts = landmarks[list(_PNP_IDS), :2].astype(np.float64)
    ok, rvec, _tvec = cv2.solvePnP(_MODEL_3D, image_pts, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return HeadPose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(rvec)
    # x-y-z Euler angles of the head in camera axes
    sy = math.hypot(rot[0, 0], rot[1, 0])
    ax = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    ay = math.degrees(math.atan2(-rot[2, 0], sy))
    az = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    # the nose (pointing to -z) swings to +x (the customer's left in an unmirrored frame) for ay < 0
    return HeadPose(yaw=-ay, pitch=-ax, roll=az)


def face_crop_grey(image: Image, landmarks: FloatArray, *, size: int = 96) -> npt.NDArray[np.uint8]:
    """The face's landmark box, grey, resized to size x size (for sharpness, exposure, passive cues)."""
    xy = landmarks[:, :2]
    x0, y0 = np.floor(xy.min(axis=0)).astype(int)
    x1, y1 = np.ceil(xy.max(axis=0)).astype(int)
    h, w = image.shape[:2]
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(w, int(x1)), min(h, int(y1))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return np.zeros((size, size), dtype=np.uint8)
    crop = image[y0:y1, x0:x1]
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def sharpness_exposure(grey_face: npt.NDArray[np.uint8]) -> tuple[float, float]:
    """Variance of the Laplacian (focus) and mean grey level (exposure) of a face crop."""
    lap = cv2.Laplacian(grey_face, cv2.CV_32F)
    return float(lap.var()), float(grey_face.mean())


def frame_thumbnail(image: Image) -> FloatArray:
    """The whole frame, grey, 32x24: frames whose thumbnails agree to a tiny mean difference are one frame."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 24), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32).reshape(-1)


def face_chip(image: Image, landmarks: FloatArray, *, size: int = _CHIP_SIZE) -> Image:
    """A dlib-style aligned chip: a similarity transform on eye centres, nose tip and mouth corners."""
    src = np.stack(
        [
            landmarks[list(_RIGHT_EYE_RING), :2].mean(axis=0),
            landmarks[list(_LEFT_EYE_RING), :2].mean(axis=0),
            landmarks[NOSE_TIP, :2],
            landmarks[MOUTH_RIGHT, :2],
            landmarks[MOUTH_LEFT, :2],
        ]
    ).astype(np.float32)
    dst = _CHIP_TEMPLATE * np.float32(size / _CHIP_SIZE)
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if m is None:
        m = cv2.getAffineTransform(src[:3], dst[:3])
    chip = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(chip, dtype=np.uint8)
