"""Passive screen and print cues from one frame: moire, glare, straight borders, colour.

Hand-made features of the face region and its surroundings, combined by one
logistic score (> 0 means "looks like an attack"), split into the share the
screen features and the paper features carry, which names the reason.
They are weak evidence: the weights and the threshold come from
`benchmarks/liveness_eval.py --fit-passive` on ../shared/data/spoof, whose APCER
and BPCER are reported there as measured. The session takes the median over
the frames it sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image

__all__ = ["FEATURES", "PassiveCues", "passive_cues", "passive_features"]

FloatArray = npt.NDArray[np.float32]

FEATURES = ("hf_ratio", "spectral_peak", "glare", "border", "saturation", "blue_shift", "grey_contrast")

# A logistic regression on the 1,062 labelled frames of ../shared/data/spoof_labels.csv (live against
# print, replay and unspecified spoofs), refitted by `benchmarks/liveness_eval.py --fit-passive`.
_MEAN = np.array([-2.0517, 2.8412, 0.0188, 1.7056, 0.2929, -0.1205, 0.1729])
_STD = np.array([0.2264, 0.4726, 0.0711, 2.2966, 0.1324, 0.107, 0.0508])
_WEIGHTS = np.array([-0.556, 0.425, -0.892, 0.361, -1.397, 0.908, -0.582])
_BIAS = 0.092
# which features speak for a screen (moire, colour cast, no skin glare), which for paper (edges, dull colour)
_SCREEN_FEATURES = np.array([1, 1, 1, 0, 0, 1, 0], dtype=bool)


@dataclass(frozen=True, slots=True)
class PassiveCues:
    """Per-frame passive score (log-odds; > 0 leans to attack), its screen and paper shares, raw features."""

    score: float
    screen: float  # the part of `score` carried by screen features
    printed: float  # the part carried by paper features
    features: tuple[float, ...]


def _face_box(landmarks: FloatArray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    xy = landmarks[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    h, w = shape[:2]
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1) + 1), min(h, int(y1) + 1)


def passive_features(image: Image, landmarks: FloatArray | None = None) -> FloatArray:
    """The feature vector named by FEATURES; without landmarks the central 60% of the image is the face."""
    h, w = image.shape[:2]
    if landmarks is None:
        x0, y0, x1, y1 = int(w * 0.2), int(h * 0.2), int(w * 0.8), int(h * 0.8)
    else:
        x0, y0, x1, y1 = _face_box(landmarks, image.shape)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return np.zeros(len(FEATURES), dtype=np.float32)
    face = np.ascontiguousarray(image[y0:y1, x0:x1])
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    g = cv2.resize(grey, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    # moire and screen pixels: high-frequency energy and how peaky the high band is
    spec = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean())))
    yy, xx = np.mgrid[-64:64, -64:64]
    r = np.hypot(yy, xx)
    mid = spec[(r > 8) & (r <= 24)].mean() + 1e-6
    high_band = spec[(r > 32) & (r <= 62)]
    hf_ratio = float(np.log(high_band.mean() / mid + 1e-9))
    spectral_peak = float(np.log(high_band.max() / (np.median(high_band) + 1e-6) + 1e-9))
    # glare: share of near-white pixels on the face
    glare = float((grey >= 245).mean())
    # borders: long straight edges in a ring around the face (screen or paper edges)
    fw, fh = x1 - x0, y1 - y0
    rx0, ry0 = max(0, x0 - fw), max(0, y0 - fh)
    rx1, ry1 = min(w, x1 + fw), min(h, y1 + fh)
    region = cv2.cvtColor(np.ascontiguousarray(image[ry0:ry1, rx0:rx1]), cv2.COLOR_RGB2GRAY)
    scale = 256.0 / max(region.shape)
    region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    edges = cv2.Canny(region, 60, 150)
    fx0, fy0 = int((x0 - rx0) * scale), int((y0 - ry0) * scale)
    fx1, fy1 = int((x1 - rx0) * scale), int((y1 - ry0) * scale)
    edges[fy0:fy1, fx0:fx1] = 0
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 180, threshold=60, minLineLength=int(0.6 * max(fw, fh) * scale), maxLineGap=4
    )
    border = float(0 if lines is None else min(len(lines), 20))
    hsv = cv2.cvtColor(face, cv2.COLOR_RGB2HSV)
    saturation = float(hsv[..., 1].mean() / 255.0)
    f32 = face.astype(np.float32)
    blue_shift = float((f32[..., 2].mean() - f32[..., 0].mean()) / 255.0)
    grey_contrast = float(grey.std() / 255.0)
    return np.array(
        [hf_ratio, spectral_peak, glare, border, saturation, blue_shift, grey_contrast], dtype=np.float32
    )


def passive_cues(image: Image, landmarks: FloatArray | None = None) -> PassiveCues:
    """Features and the two linear scores for one frame."""
    f = passive_features(image, landmarks).astype(np.float64)
    contrib = (f - _MEAN) / _STD * _WEIGHTS
    return PassiveCues(
        score=float(contrib.sum() + _BIAS),
        screen=float(contrib[_SCREEN_FEATURES].sum()),
        printed=float(contrib[~_SCREEN_FEATURES].sum()),
        features=tuple(float(v) for v in f),
    )
