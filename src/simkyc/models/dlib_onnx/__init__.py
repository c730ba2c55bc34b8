"""dlib's face descriptor network converted to ONNX and run by ONNX Runtime.

`convert()` parses the installed `dlib_face_recognition_resnet_model_v1.dat` (dlib's own
serialization, read in pure Python/numpy), builds the equivalent ONNX graph and caches it
in `Settings().model_cache` with its checksum; `OnnxDlibEmbedder` runs it.
"""

from __future__ import annotations

from simkyc.models.dlib_onnx.convert import CONVERTER_VERSION, TEMPLATE_TAG, ConvertedModel, convert
from simkyc.models.dlib_onnx.embedder import OnnxDlibEmbedder
from simkyc.models.dlib_onnx.graph import build_onnx
from simkyc.models.dlib_onnx.parser import DlibNet, anet_layout, parse_dlib_net

__all__ = [
    "CONVERTER_VERSION",
    "TEMPLATE_TAG",
    "ConvertedModel",
    "DlibNet",
    "OnnxDlibEmbedder",
    "anet_layout",
    "build_onnx",
    "convert",
    "parse_dlib_net",
]
