"""Turning untrusted encoded bytes into the one image form the pipeline accepts.

Every image that enters simkyc (upload, chip record, file) goes through
`decode_image`, so the checks that protect the rest of the system live in one
place: the pixel count is read from the header *before* decoding (decompression
bombs), truncated files are refused rather than half-decoded, EXIF orientation is
applied, and every colour mode (grey, 16-bit, CMYK, palette, alpha) becomes RGB.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from simkyc.core.faces.types import Image
from simkyc.errors import InputError, Reason

__all__ = ["MIN_SIDE", "decode_image", "encode_jpeg", "resize_to"]

MIN_SIDE = 32
"""Smallest side (px) an image may have: below this no face can be measured."""


def _refuse(reason: Reason, message: str) -> InputError:
    return InputError(reason, message)


def decode_image(data: bytes, *, max_pixels: int = 40_000_000, min_side: int = MIN_SIDE) -> Image:
    """Decode JPEG/PNG/... bytes into an RGB uint8 array (H, W, 3), upright per EXIF.

    :raises InputError: IMAGE_UNREADABLE (not an image, truncated, corrupt),
        IMAGE_TOO_LARGE (header claims more than `max_pixels`), IMAGE_TOO_SMALL.
    """
    if not data:
        raise _refuse(Reason.IMAGE_UNREADABLE, "empty input")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            pil = PILImage.open(io.BytesIO(data))
            width, height = pil.size
    except PILImage.DecompressionBombError:
        raise _refuse(Reason.IMAGE_TOO_LARGE, "image header claims too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, TypeError) as exc:
        raise _refuse(Reason.IMAGE_UNREADABLE, f"not a decodable image ({type(exc).__name__})") from None
    if width * height > max_pixels:
        raise _refuse(Reason.IMAGE_TOO_LARGE, f"{width}x{height} exceeds {max_pixels} pixels")
    if min(width, height) < min_side:
        raise _refuse(Reason.IMAGE_TOO_SMALL, f"{width}x{height} is below {min_side} px per side")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pil.load()  # truncated files raise here (LOAD_TRUNCATED_IMAGES stays False)
            upright: PILImage.Image = ImageOps.exif_transpose(pil) or pil
            rgb = _to_rgb(upright)
    except PILImage.DecompressionBombError:
        raise _refuse(Reason.IMAGE_TOO_LARGE, "image is too large to decode") from None
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError) as exc:
        raise _refuse(Reason.IMAGE_UNREADABLE, f"image data is corrupt ({type(exc).__name__})") from None
    return rgb


def _to_rgb(pil: PILImage.Image) -> Image:
    """Any PIL mode to RGB uint8; transparent pixels are composited onto white (ID photos are on white)."""
    mode = pil.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(pil, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        grey = scaled.round().clip(0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P" and "transparency" in pil.info:
        pil = pil.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = pil.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        pil = PILImage.alpha_composite(background, rgba)
    out = np.asarray(pil.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(out)


def encode_jpeg(image: Image, *, quality: int = 90) -> bytes:
    """Encode an RGB array as JPEG bytes (used to simulate chip photos and in tests)."""
    buf = io.BytesIO()
    PILImage.fromarray(image, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def resize_to(image: Image, width: int, height: int) -> Image:
    """Resize with area averaging (downscale) or bicubic (upscale), RGB uint8 out."""
    pil = PILImage.fromarray(image, "RGB")
    shrinking = width * height < image.shape[0] * image.shape[1]
    resample = PILImage.Resampling.BOX if shrinking else PILImage.Resampling.BICUBIC
    return np.asarray(pil.resize((width, height), resample), dtype=np.uint8)
