"""`OnnxDlibEmbedder`: dlib's face descriptor network run by ONNX Runtime.

Same input as `DlibEmbedder` (the 150x150 RGB chip from `DlibAligner`, i.e. what dlib's
`compute_face_descriptor` receives), same numbers (within float rounding), several
times faster, and truly batched: `embed_batch` runs N chips in one session call.
The session, batching and L2 normalisation are the generic `OnnxEmbedder`'s; this class
only supplies the converted file and the input contract (raw RGB pixels, NCHW: dlib's
mean subtraction and 1/256 scaling are inside the graph).
"""

from __future__ import annotations

from pathlib import Path

from simkyc.models.dlib_onnx.convert import SOURCE_MODEL, convert
from simkyc.models.onnx_embedder import OnnxEmbedder

__all__ = ["OnnxDlibEmbedder"]

CHIP = 150


class OnnxDlibEmbedder(OnnxEmbedder):
    """dlib ResNet-29 face descriptor via ONNX Runtime: 150x150 RGB uint8 chip -> 128-d, L2-normalised.

    **Parameters:**

    * **model_path** - *(optional)* an ONNX file made by `convert()`; by default the cached
      conversion of the installed `.dat` (converted on first use, about a second).
    * **threads** - ONNX Runtime intra-op threads. Default 1: a descriptor is ~10 ms of work,
      a service scales by worker processes, and more threads per process only help an idle box.

    `name` equals `DlibEmbedder.name` because the templates are interchangeable (the
    equivalence test checks it); `version` is the source package's version marked `+onnx1`
    (`TEMPLATE_TAG`), so stored records show which engine made a template.
    """

    def __init__(self, *, model_path: Path | None = None, threads: int = 1) -> None:
        if model_path is None:
            converted = convert()
            model_path, version = converted.path, converted.version
        else:
            version = "onnx-custom"
        super().__init__(
            model_path,
            input_size=(CHIP, CHIP),
            color_order="RGB",
            mean=(0.0, 0.0, 0.0),
            std=(1.0, 1.0, 1.0),
            name=SOURCE_MODEL,
            version=version,
            layout="NCHW",
            chip_size=CHIP,
            num_threads=threads,
        )
        self.model_path = model_path
