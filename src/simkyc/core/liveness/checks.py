"""Checks that a live, three-dimensional person is in front of the camera.

- `planar_residual`: a photo, however it is moved or tilted, maps its landmarks
  between two frames by one homography; a real head turning shows parallax (the
  nose moves against the cheeks) that a homography cannot absorb.
- `FrameFreshness`: capture timestamps must increase at plausible intervals inside
  the challenge window, and no frame may repeat an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image
from simkyc.core.liveness.signals import inter_ocular

__all__ = ["RIGID_POINTS", "FrameFreshness", "PlanarFlow", "planar_residual"]

FloatArray = npt.NDArray[np.float32]

# face oval, brows, nose ridge and tip, cheek points: rigid parts (eyelids and lips move on their own)
RIGID_POINTS: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358,
    50, 280, 116, 345, 123, 352, 147, 376, 187, 411, 205, 425, 36, 266,
)  # fmt: skip


def planar_residual(frontal: FloatArray, turned: FloatArray) -> float:
    """RMS error of the best homography from `frontal` to `turned` landmarks, over the inter-ocular distance.

    Near 0 for a flat picture under any perspective; a few percent for a real head turned 15 degrees or more.
    """
    idx = list(RIGID_POINTS)
    src = frontal[idx, :2].astype(np.float64)
    dst = turned[idx, :2].astype(np.float64)
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None:
        return float("inf")
    ones = np.ones((len(src), 1))
    hom = np.hstack([src, ones]) @ h.T
    proj = hom[:, :2] / hom[:, 2:3]
    rms = float(np.sqrt(np.mean(np.sum((proj - dst) ** 2, axis=1))))
    scale = max(inter_ocular(frontal), 1e-6)
    return rms / scale


@dataclass(slots=True)
class FrameFreshness:
    """Online check of capture timestamps and repeated frames.

    `check(timestamp, thumb)` returns a short problem string or None. Thumbnails
    are 32x24 grey frames (`signals.frame_thumbnail`); a frame is a repeat when its
    mean absolute difference to any earlier frame is below `repeat_mad` grey levels
    (a live camera never delivers the same frame twice: sensor noise alone moves it),
    and out of order when it sits apart from both neighbours that agree with each other. The
    order test compares thumbnails with their mean grey level removed: an exposure step of the
    camera next to a flash of the light challenge changes a frame's brightness, not its order.
    """

    issued_at: float
    deadline: float
    min_interval_s: float = 0.008
    max_interval_s: float = 1.5
    repeat_mad: float = 0.05
    order_floor: float = 2.0  # grey levels: below this, flicker and noise, not motion
    order_ratio: float = 0.5
    last_ts: float | None = None
    last_change: float = 0.0  # mean grey difference to the previous accepted frame (a cut is large)
    _last_shape_change: float = 0.0  # the same with each thumbnail's mean removed
    _thumbs: FloatArray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float32))
    _count: int = 0

    def check(self, timestamp: float, thumb: FloatArray) -> str | None:
        if not np.isfinite(timestamp):
            return "timestamp_not_finite"
        if timestamp < self.issued_at:
            return "before_challenge"
        if self.last_ts is not None:
            dt = timestamp - self.last_ts
            if dt <= 0:
                return "timestamp_not_increasing"
            if dt < self.min_interval_s:
                return "interval_too_short"
            if dt > self.max_interval_s:
                return "interval_too_long"
        if self._count:
            mad = np.abs(self._thumbs[: self._count] - thumb[None, :]).mean(axis=1)
            if float(mad.min()) < self.repeat_mad:
                return "repeated_frame"
            change = float(mad[self._count - 1])
            c = thumb - thumb.mean()
            b = self._thumbs[self._count - 1] - self._thumbs[self._count - 1].mean()
            shape_change = float(np.abs(c - b).mean())
            if self._count >= 2:
                # frames a, b, c in a row: if b differs from both neighbours while a and c agree,
                # b does not lie between them in time (a reordered run); natural clips never did this
                a = self._thumbs[self._count - 2] - self._thumbs[self._count - 2].mean()
                step = min(self._last_shape_change, shape_change)
                if step > self.order_floor and float(np.abs(c - a).mean()) < self.order_ratio * step:
                    return "frame_out_of_order"
            self.last_change = change
            self._last_shape_change = shape_change
        if self._count == len(self._thumbs):  # grow by doubling
            grown = np.empty((max(64, 2 * self._count), thumb.size), dtype=np.float32)
            if self._count:
                grown[: self._count] = self._thumbs[: self._count]
            self._thumbs = grown
        self._thumbs[self._count] = thumb
        self._count += 1
        self.last_ts = timestamp
        return None


_LK = {
    "winSize": (21, 21),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
}


@dataclass(slots=True)
class PlanarFlow:
    """Parallax from image motion, not from landmarks: corners on the face tracked by optical flow.

    FaceMesh regresses a face-shaped mesh even on a tilted photo, so its landmarks
    bend a little where the picture does not; pixels do not. While the head is
    near its frontal pose the last frame is kept; when it turns away, corners
    found on that frontal frame's face are followed frame to frame (pyramidal
    Lucas-Kanade with a forward-backward check), and at each turned frame one
    homography is fitted from the frontal to the current positions. `update`
    returns the fit's RMS error over the inter-ocular distance: a picture stays
    under about 1%, a real head's nose and cheeks do not agree with one plane.
    """

    reset_deg: float = 6.0
    min_points: int = 12
    _frontal: tuple[Image, FloatArray] | None = None
    _anchor: FloatArray | None = None
    _points: FloatArray | None = None
    _prev: npt.NDArray[np.uint8] | None = None
    _iod: float = 1.0

    def update(self, image: Image, landmarks: FloatArray, deviation: float) -> float | None:
        """Feed one RGB frame, its landmarks and its pose deviation from the session baseline (degrees)."""
        if deviation < self.reset_deg:
            self._frontal = (image, landmarks)  # kept by reference; grey only when a turn starts
            self._anchor = self._points = self._prev = None
            return None
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        if self._anchor is None:
            if self._frontal is None:
                return None
            f_img, f_lm = self._frontal
            f_grey = np.asarray(cv2.cvtColor(f_img, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
            self._frontal = None
            anchor = _face_corners(f_grey, f_lm)
            if anchor is None:
                return None
            self._iod = max(inter_ocular(f_lm), 1.0)
            self._anchor, self._points, self._prev = anchor, anchor.copy(), f_grey
        assert self._points is not None and self._prev is not None and self._anchor is not None
        moved, ok = _track(self._prev, grey, self._points, margin=self._iod)
        self._anchor, self._points, self._prev = self._anchor[ok], moved[ok], grey
        if len(self._points) < self.min_points:
            self._anchor = self._points = None
            return None
        h, _ = cv2.findHomography(self._anchor.astype(np.float64), self._points.astype(np.float64), 0)
        if h is None:
            return None
        src = np.hstack([self._anchor.astype(np.float64), np.ones((len(self._anchor), 1))]) @ h.T
        err = np.hypot(*(src[:, :2] / src[:, 2:3] - self._points).T)
        kept = np.sort(err)[: max(self.min_points, int(0.9 * len(err)))]  # drop the worst 10%: flow slips
        return float(np.sqrt(np.mean(kept**2))) / self._iod


def _face_corners(grey: npt.NDArray[np.uint8], landmarks: FloatArray) -> FloatArray | None:
    """Good features to track inside the face outline, shrunk so picture edges and background stay out."""
    hull = cv2.convexHull(landmarks[:, :2].astype(np.float32))
    centre = landmarks[:, :2].mean(axis=0)
    hull = (hull - centre) * 0.9 + centre
    mask = np.zeros(grey.shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull.astype(np.int32), 255)
    iod = max(inter_ocular(landmarks), 1.0)
    pts = cv2.goodFeaturesToTrack(
        grey, maxCorners=80, qualityLevel=0.01, minDistance=max(3.0, iod / 12), mask=mask
    )
    if pts is None or len(pts) < 12:
        return None
    out: FloatArray = pts.reshape(-1, 2).astype(np.float32)
    return out


def _track(
    prev: npt.NDArray[np.uint8], cur: npt.NDArray[np.uint8], pts: FloatArray, *, margin: float
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Lucas-Kanade forward and back around the points; a point survives if it comes back within 0.5 px."""
    h, w = prev.shape[:2]
    x0, y0 = np.maximum(np.floor(pts.min(axis=0) - margin), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0) + margin), [w, h]).astype(int)
    prev = np.ascontiguousarray(prev[y0:y1, x0:x1])
    cur = np.ascontiguousarray(cur[y0:y1, x0:x1])
    offset = np.array([x0, y0], dtype=np.float32)
    p0 = (pts - offset).reshape(-1, 1, 2)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **_LK)  # type: ignore[call-overload]
    p0b, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **_LK)  # type: ignore[call-overload]
    fb = np.hypot(*(p0b - p0).reshape(-1, 2).T)
    ok = (st1.reshape(-1) == 1) & (st2.reshape(-1) == 1) & (fb < 0.5)
    moved: FloatArray = (p1.reshape(-1, 2) + offset).astype(np.float32)
    return moved, ok
