"""Any ONNX face-embedding model behind the core `Embedder` protocol.

Preprocessing is declared, not guessed from the file: input size, colour order,
per-channel mean and std, and layout. The model is expected to take one image
tensor and return one (N, D) descriptor; outputs are L2-normalised here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image, Template, Templates
from simkyc.errors import ModelError, Reason

__all__ = ["OnnxEmbedder"]


class OnnxEmbedder:
    """Run an ONNX embedder on aligned RGB chips.

    :param input_size: (width, height) the model takes; chips are resized to it.
    :param color_order: "RGB" or "BGR" channel order the model was trained on.
    :param mean, std: per-channel (in `color_order`) normalisation: (pixel - mean) / std.
    :param layout: "NCHW" (PyTorch exports) or "NHWC" (TensorFlow exports).
    :param chip_size: the aligned chip side the aligner should produce (default: input width).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        input_size: tuple[int, int],
        color_order: Literal["RGB", "BGR"] = "RGB",
        mean: Sequence[float] = (127.5, 127.5, 127.5),
        std: Sequence[float] = (127.5, 127.5, 127.5),
        name: str,
        version: str,
        layout: Literal["NCHW", "NHWC"] = "NCHW",
        chip_size: int | None = None,
        num_threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(Reason.MODEL_MISSING, f"ONNX embedder {name!r} not found at {self.path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(
                Reason.MODEL_CORRUPT, f"ONNX embedder {name!r} cannot be loaded: {exc}"
            ) from None
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._batchable = not isinstance(inp.shape[0], int) or inp.shape[0] != 1
        self.input_size = input_size
        self.color_order = color_order
        self.layout = layout
        self._mean = np.asarray(mean, dtype=np.float32).reshape(1, 1, 3)
        self._std = np.asarray(std, dtype=np.float32).reshape(1, 1, 3)
        self.name = name
        self.version = version
        self.chip_size = chip_size or input_size[0]
        out_shape = self._session.get_outputs()[0].shape
        self.dim = int(out_shape[-1]) if isinstance(out_shape[-1], int) else 0

    def _prepare(self, chip: Image) -> npt.NDArray[np.float32]:
        w, h = self.input_size
        img = chip if chip.shape[1] == w and chip.shape[0] == h else cv2.resize(chip, (w, h))
        if self.color_order == "BGR":
            img = img[:, :, ::-1]
        x = (img.astype(np.float32) - self._mean) / self._std
        return np.ascontiguousarray(x.transpose(2, 0, 1) if self.layout == "NCHW" else x)

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = self._session.run(None, {self._input_name: batch})[0]
        vecs = np.asarray(out, dtype=np.float32).reshape(batch.shape[0], -1)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        normed: npt.NDArray[np.float32] = (vecs / np.maximum(norms, 1e-12)).astype(np.float32)
        return normed

    def embed(self, chip: Image) -> Template:
        one: Template = self._run(self._prepare(chip)[None])[0]
        return one

    def embed_batch(self, chips: list[Image]) -> Templates:
        if not chips:
            return np.empty((0, self.dim), dtype=np.float32)
        batch = np.stack([self._prepare(c) for c in chips])
        if self._batchable:
            return self._run(batch)
        stacked: Templates = np.concatenate([self._run(b[None]) for b in batch]).astype(np.float32)
        return stacked
