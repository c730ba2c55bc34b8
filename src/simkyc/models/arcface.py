"""ArcFace-style 112x112 alignment: five points from a landmark model, then one warp.

The 112x112 embedders (`simkyc.models.npm_embedders`) were trained on crops whose eye
centres, nose tip and mouth corners sit at `simkyc.core.faces.align.ARCFACE_112`.
`ArcFaceAligner` finds those five points with one of:

- ``"fr-landmark"``: faceplugin's 68-point model (`fr_landmark.onnx`, the package the
  embedder comes from), run as its `lib/fr_landmark.js` does: the detection box cropped,
  resized to 64x64 grey (OpenCV.js's BGR2GRAY on RGBA pixels, so R and B weights are
  swapped), /256, outputs scaled by the box; then `convert68pts5pts`;
- ``"facemesh"``: MediaPipe FaceMesh (468 points) on the detection's ROI, eye contours
  averaged (`five_from_mesh`);
- ``"blazeface"``: the detector's own eye, nose and mouth-centre keypoints with the mouth
  corners guessed (the crude screening of issue 13; kept for comparison).

and warps with a least-squares similarity over the five points (``"similarity"``, as
insightface) or faceplugin's exact affine through eyes and nose (``"affine3"``).
`simkyc eval accuracy` measured which pair aligns best (README, Accuracy).

`landmarks()` returns the five points (layout `FIVE_POINT_LAYOUT`), which quality's pose
estimate reads through `landmark_layout`.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.align import (
    ARCFACE_112,
    FIVE_POINT_LAYOUT,
    affine_from_three,
    five_from_68,
    five_from_mesh,
    similarity_transform,
)
from simkyc.core.faces.types import Detection, Image
from simkyc.errors import FaceError, Reason
from simkyc.models.registry import locate

__all__ = ["ArcFaceAligner", "FrLandmarker", "LandmarkSource", "WarpKind"]

F32 = npt.NDArray[np.float32]
LandmarkSource = Literal["fr-landmark", "facemesh", "blazeface"]
WarpKind = Literal["similarity", "affine3"]

_LM_INPUT = 64


class FrLandmarker:
    """faceplugin's 68-point landmark model (`fr_landmark.onnx`) on a face box, as its JavaScript runs it.

    Run by OpenCV's DNN module (one small CNN, under a millisecond). Not thread-safe.
    """

    name = "fr-landmark"

    def __init__(self, *, js_box: bool = False) -> None:
        model = locate("fr-landmark")
        self.version = model.version
        self.js_box = js_box
        self._net = cv2.dnn.readNetFromONNX(str(model.path))

    def crop(self, image: Image, box: tuple[float, float, float, float]) -> npt.NDArray[np.float32]:
        """The (1, 1, 64, 64) input: the box, grey with R/B weights swapped, /256.

        The JavaScript moves a box that sticks out of the image inside it, yet scales the
        outputs by the box it was given, which misplaces every point of a face cut by the
        image border (tight ID crops). Here such a box is cut as it is, the outside black;
        a box inside the image gives the JavaScript's crop. `js_box` keeps the JavaScript's
        behaviour for every box (measured in `simkyc eval accuracy --alignments`).
        """
        h, w = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in box)
        if self.js_box:
            x1, y1, x2, y2 = _js_moved_box(x1, y1, x2, y2, w, h)
        elif x1 < 0 or y1 < 0 or x2 > w - 1 or y2 > h - 1:
            sx, sy = _LM_INPUT / max(x2 - x1, 1.0), _LM_INPUT / max(y2 - y1, 1.0)
            # cv2.resize's pixel-centre convention: dst + 0.5 = (src + 0.5 - origin) * scale
            m = np.array([[sx, 0.0, (0.5 - x1) * sx - 0.5], [0.0, sy, (0.5 - y1) * sy - 0.5]])
            small = cv2.warpAffine(
                np.ascontiguousarray(image),
                m,
                (_LM_INPUT, _LM_INPUT),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
            ).astype(np.float32)
            return _grey_input(small)
        x0, y0 = int(x1), int(y1)  # the JavaScript's cv.Rect of parseInt'ed corners
        face = image[y0 : y0 + max(int(y2 - y1), 1), x0 : x0 + max(int(x2 - x1), 1)]
        if face.size == 0:
            raise FaceError(Reason.NO_FACE, detail={"landmarks": "empty face box"})
        small = cv2.resize(face, (_LM_INPUT, _LM_INPUT), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        return _grey_input(small)

    def points(self, image: Image, box: tuple[float, float, float, float]) -> F32:
        """68 (x, y) points in image pixels: the model's outputs in [0, 1] scaled by the box."""
        x1, y1, x2, y2 = (float(v) for v in box)
        self._net.setInput(self.crop(image, box))
        raw = np.asarray(self._net.forward(), dtype=np.float64).reshape(68, 2)
        out: F32 = (raw * np.array([x2 - x1, y2 - y1]) + np.array([x1, y1])).astype(np.float32)
        return out


def _js_moved_box(
    x1: float, y1: float, x2: float, y2: float, w: int, h: int
) -> tuple[float, float, float, float]:
    """`alignLandmarkImage`'s shift of a box that sticks out of the image back inside it."""
    if x1 < 0:
        x2, x1 = x2 - x1, 0.0
    if y1 < 0:
        y2, y1 = y2 - y1, 0.0
    if x2 > w - 1:
        x1, x2 = x1 - (x2 - w + 1), w - 1.0
    if y2 > h - 1:
        y1, y2 = y1 - (y2 - h + 1), h - 1.0
    return max(x1, 0.0), max(y1, 0.0), x2, y2


def _grey_input(small: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    # OpenCV.js reads canvases as RGBA; COLOR_BGR2GRAY then weighs channel 0 (R) as blue
    grey = np.round(0.114 * small[..., 0] + 0.587 * small[..., 1] + 0.299 * small[..., 2])
    out: npt.NDArray[np.float32] = (grey / 256.0).astype(np.float32)[None, None]
    return out


def _blazeface_five(detection: Detection) -> F32:
    """Eyes, nose tip and mouth centre of BlazeFace; the corners put 0.37 eye distances either side."""
    kp = detection.keypoints.astype(np.float64)
    left_eye, right_eye, nose, mouth = kp[0], kp[1], kp[2], kp[3]
    along = right_eye - left_eye
    half = 0.37 * along
    return np.stack([left_eye, right_eye, nose, mouth - half, mouth + half]).astype(np.float32)


class ArcFaceAligner:
    """Five landmarks from `source`, then the 112x112 ArcFace crop by `warp` (see the module docstring).

    `chip_size` may be larger than 112 (the reference points are scaled), for embedders that
    take a bigger crop of the same alignment. Not thread-safe (one landmark model).
    """

    landmark_layout = FIVE_POINT_LAYOUT

    def __init__(
        self,
        source: LandmarkSource = "fr-landmark",
        warp: WarpKind = "similarity",
        *,
        chip_size: int = 112,
        js_box: bool = False,
    ) -> None:
        self.source = source
        self.warp = warp
        self.chip_size = chip_size
        self.name = f"arcface5-{source}{'-js' if js_box else ''}-{warp}"
        self._fr: FrLandmarker | None = None
        self._mesh: object | None = None
        if source == "fr-landmark":
            self._fr = FrLandmarker(js_box=js_box)
            self.version = self._fr.version
        elif source == "facemesh":
            from simkyc.models.facemesh import FaceMeshLandmarker

            mesh = FaceMeshLandmarker()
            self._mesh = mesh
            self.version = mesh.version
        else:
            self.version = "1"
        self._reference = ARCFACE_112 * (chip_size / 112.0)

    def landmarks(self, image: Image, detection: Detection) -> F32:
        """The five ArcFace points of the detected face, in image pixels."""
        b = detection.box
        if self._fr is not None:
            return five_from_68(self._fr.points(image, (b.left, b.top, b.right, b.bottom)))
        if self._mesh is not None:
            from simkyc.models.facemesh import FaceMeshLandmarker, Roi, roi_from_detection

            assert isinstance(self._mesh, FaceMeshLandmarker)
            if detection.keypoints.shape[0] >= 2:
                roi = roi_from_detection(detection)
            else:  # a fallback detector's box without keypoints: an upright ROI
                roi = Roi((b.left + b.right) / 2, (b.top + b.bottom) / 2, max(b.width, b.height) * 1.5, 0.0)
            return five_from_mesh(self._mesh.landmarks(image, roi).points)
        if detection.keypoints.shape[0] < 4:
            raise FaceError(Reason.NO_FACE, detail={"landmarks": "detection has no keypoints"})
        return _blazeface_five(detection)

    def transform(self, landmarks: F32) -> npt.NDArray[np.float64]:
        """The 2x3 map from image pixels to the chip."""
        if self.warp == "affine3":
            return affine_from_three(landmarks, self._reference)
        return similarity_transform(landmarks, self._reference)

    def chip(self, image: Image, landmarks: F32) -> Image:
        """The aligned `chip_size` crop (bilinear, black outside the image, as OpenCV.js's warpAffine)."""
        try:
            m = self.transform(landmarks)
        except ValueError:
            raise FaceError(Reason.NO_FACE, detail={"landmarks": "degenerate"}) from None
        size = (self.chip_size, self.chip_size)
        out = cv2.warpAffine(
            np.ascontiguousarray(image), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        return np.asarray(out, dtype=np.uint8)
