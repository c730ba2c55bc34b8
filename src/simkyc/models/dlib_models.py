"""dlib models from the `face-recognition-models` package: HOG detector, 5-point aligner, ResNet embedder.

These are the same weights the `face_recognition` package uses, wrapped to the core
protocols (`Detector`, `Aligner`, `Embedder`). Model files are located and checked
by `simkyc.models.registry.locate`; nothing is loaded at import.
"""

from __future__ import annotations

import dlib
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Box, Detection, Image, Template, Templates
from simkyc.models.registry import locate

__all__ = ["DlibAligner", "DlibEmbedder", "DlibHogDetector", "hog_like_box", "to_rectangle"]


def to_rectangle(box: Box) -> dlib.rectangle:
    return dlib.rectangle(round(box.left), round(box.top), round(box.right), round(box.bottom))


class DlibHogDetector:
    """dlib's frontal HOG + linear SVM detector (the `face_recognition` default): the fallback.

    Gives boxes and a score but no keypoints (keypoints shape (0, 2)).
    """

    name = "dlib-hog"

    def __init__(self, *, upsample: int = 1) -> None:
        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()
        self.version = str(getattr(dlib, "__version__", "unknown"))

    def detect(self, image: Image) -> list[Detection]:
        rects, scores, _ = self._detector.run(np.ascontiguousarray(image), self.upsample, -0.5)
        h, w = image.shape[:2]
        out = []
        for rect, score in sorted(zip(rects, scores, strict=True), key=lambda rs: -rs[1]):
            box = Box(
                float(max(0, rect.left())),
                float(max(0, rect.top())),
                float(min(w, rect.right())),
                float(min(h, rect.bottom())),
            )
            # map the SVM margin to (0, 1); >= 0.5 is dlib's default acceptance (margin >= 0)
            prob = float(1.0 / (1.0 + np.exp(-2.0 * score)))
            if score >= 0.0:
                out.append(Detection(box=box, keypoints=np.zeros((0, 2), np.float32), score=prob))
        return out


def hog_like_box(detection: Detection) -> Box:
    """The box dlib's HOG detector would give, from a BlazeFace detection (6 keypoints).

    dlib's shape predictor was trained on HOG boxes; BlazeFace's box sits lower and
    follows head pose less, which misplaces landmarks on tilted faces. Fitted on 240 LFW
    faces found by both: the HOG box centre lies 0.377 of the way from the eye midpoint
    to the mouth, and its side is 0.99 of BlazeFace's box width. Other detections pass through.
    """
    kp = detection.keypoints
    if kp.shape[0] < 4:
        return detection.box
    eyes = (kp[0] + kp[1]) / 2
    centre = eyes + 0.377 * (kp[3] - eyes)
    half = 0.99 * detection.box.width / 2
    return Box(
        float(centre[0] - half), float(centre[1] - half), float(centre[0] + half), float(centre[1] + half)
    )


class DlibAligner:
    """dlib's 5-point landmark predictor and `get_face_chip` (150x150, padding 0.25, like face_recognition).

    `landmarks` returns (5, 2): right-eye outer, right-eye inner, left-eye outer,
    left-eye inner (dlib order, points 0-3), nose base (4).
    """

    name = "dlib-shape5"

    def __init__(self, *, chip_size: int = 150, padding: float = 0.25) -> None:
        self.model_file = locate("dlib-shape5")
        self._predictor = dlib.shape_predictor(str(self.model_file.path))
        self.chip_size = chip_size
        self.padding = padding
        self.version = self.model_file.version

    def _shape(self, image: Image, detection: Detection) -> dlib.full_object_detection:
        return self._predictor(np.ascontiguousarray(image), to_rectangle(hog_like_box(detection)))

    def landmarks(self, image: Image, detection: Detection) -> npt.NDArray[np.float32]:
        shape = self._shape(image, detection)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)

    def chip(self, image: Image, landmarks: npt.NDArray[np.float32]) -> Image:
        xs, ys = landmarks[:, 0], landmarks[:, 1]
        rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        parts = [dlib.point(round(float(x)), round(float(y))) for x, y in landmarks]
        shape = dlib.full_object_detection(rect, parts)
        chip = dlib.get_face_chip(np.ascontiguousarray(image), shape, self.chip_size, self.padding)
        return np.asarray(chip, dtype=np.uint8)


def _l2(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    out: npt.NDArray[np.float32] = (v / np.maximum(norm, 1e-12)).astype(np.float32)
    return out


class DlibEmbedder:
    """dlib's ResNet-29 metric-learning model: 150x150 RGB chip -> 128-d, L2-normalised here."""

    name = "dlib-resnet-v1"
    dim = 128
    chip_size = 150

    def __init__(self) -> None:
        self.model_file = locate("dlib-resnet-v1")
        self._net = dlib.face_recognition_model_v1(str(self.model_file.path))
        self.version = self.model_file.version

    def embed(self, chip: Image) -> Template:
        vec = np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(chip)), dtype=np.float32)
        return _l2(vec)

    def embed_batch(self, chips: list[Image]) -> Templates:
        if not chips:
            return np.empty((0, self.dim), dtype=np.float32)
        vecs = self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return _l2(np.asarray([np.asarray(v) for v in vecs], dtype=np.float32))
