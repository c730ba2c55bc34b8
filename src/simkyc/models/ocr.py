"""Text recognition with RapidOCR (PP-OCRv4 detection + recognition on ONNX Runtime).

The three ONNX files ship inside the `rapidocr-onnxruntime` wheel and are located and
SHA-256-checked through `simkyc.models.registry` (`ppocr-v4-det`, `ppocr-v4-rec`, `ppocr-cls`).
The engine is built on first use, not at construction, so importing or creating an
`OcrEngine` is free; one recognition of a card image takes a few seconds on two cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simkyc.core.documents.ocr_fields import OcrLine
from simkyc.core.faces.types import Image
from simkyc.models.registry import locate

__all__ = ["OCR_MODELS", "OcrEngine"]

OCR_MODELS = ("ppocr-v4-det", "ppocr-v4-rec", "ppocr-cls")


class OcrEngine:
    """RGB image in, `OcrLine`s out (top to bottom as the engine sorts them).

    **Parameters:**

    * **threads** - ONNX Runtime intra-op threads per model (-1 = runtime default).
    * **use_cls** - run the 0/180 degree direction classifier (needed for upside-down photos).
    """

    def __init__(self, *, threads: int = -1, use_cls: bool = True) -> None:
        self.threads = threads
        self.use_cls = use_cls
        self._engine: Any = None

    @property
    def versions(self) -> dict[str, str]:
        """Model name -> package version, for records of which OCR read a document."""
        return {name: locate(name).version for name in OCR_MODELS}

    def _build(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR  # heavy: onnxruntime sessions

            det, rec, cls = (str(locate(name).path) for name in OCR_MODELS)
            self._engine = RapidOCR(
                det_model_path=det,
                rec_model_path=rec,
                cls_model_path=cls,
                intra_op_num_threads=self.threads,
                print_verbose=False,
            )
        return self._engine

    def read(self, image: Image, *, min_score: float = 0.3) -> list[OcrLine]:
        """Recognise every text line in `image` (RGB uint8 H x W x 3)."""
        engine = self._build()
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        result, _ = engine(bgr, use_cls=self.use_cls, text_score=min_score)
        return [_line(box, text, score) for box, text, score in (result or [])]

    def recognize(self, crop: Image) -> tuple[str, float]:
        """Recognition only, on a crop holding one line of text: (text, score); ("", 0.0) if nothing."""
        engine = self._build()
        bgr = np.ascontiguousarray(crop[:, :, ::-1])
        result, _ = engine(bgr, use_det=False, use_cls=False)
        if not result:
            return "", 0.0
        text, score = result[0][0], result[0][1]
        return str(text), float(score)


def _line(box: Sequence[Sequence[float]], text: str, score: float) -> OcrLine:
    pts = np.asarray(box, dtype=np.float32)
    return OcrLine(
        text=str(text),
        score=float(score),
        left=float(pts[:, 0].min()),
        top=float(pts[:, 1].min()),
        right=float(pts[:, 0].max()),
        bottom=float(pts[:, 1].max()),
    )
