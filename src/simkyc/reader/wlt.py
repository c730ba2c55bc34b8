"""The hook for the reader vendor's licensed WLT portrait decoder.

The chip's 1,024-byte photo is in a licensed compressed format only the vendor's library decodes
(usually a DLL / .so with a `unpack`-style entry point). A site wraps it in a small class with
`decode_wlt(data: bytes) -> RGB uint8 array` (`simkyc.core.documents.PortraitDecoder`) and names it in
`SIMKYC_WLT_DECODER=package.module:attribute` (or `--wlt-decoder`): the attribute is the decoder
object, a class, or a zero-argument factory. Without one, reads report PORTRAIT_UNAVAILABLE and the
clerk takes a photo of the card for the comparison instead.
"""

from __future__ import annotations

import importlib

from simkyc.core.documents.chip import PortraitDecoder
from simkyc.errors import InputError, Reason

__all__ = ["load_portrait_decoder"]


def load_portrait_decoder(spec: str | None) -> PortraitDecoder | None:
    """Import and build the decoder named by `spec` ("module:attribute"); None when `spec` is empty."""
    if not spec:
        return None
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InputError(Reason.INVALID_REQUEST, f"WLT decoder {spec!r}: use 'package.module:attribute'")
    try:
        obj: object = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(Reason.INVALID_REQUEST, f"WLT decoder {spec!r} cannot be loaded: {exc}") from None
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "decode_wlt")):
        obj = obj()
    if not isinstance(obj, PortraitDecoder):
        raise InputError(Reason.INVALID_REQUEST, f"WLT decoder {spec!r} has no decode_wlt(bytes) method")
    return obj
