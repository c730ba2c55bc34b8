"""Turning untrusted encoded bytes into the one image form the pipeline accepts.

Every image that enters simkyc (upload, chip record, file) goes through
`decode_image`, so the checks that protect the rest of the system live in one
place: the pixel count is read from the header *before* decoding (decompression
bombs), truncated files are refused rather than half-decoded, EXIF orientation is
applied, and every colour mode (grey, 16-bit, CMYK, palette, alpha) becomes RGB.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from simkyc.core.faces.types import Image
from simkyc.errors import InputError, Reason

__all__ = [
    "CARD_MAX_SIDE",
    "FRAME_DECODE_SIDE",
    "FRAME_MAX",
    "MIN_SIDE",
    "PORTRAIT_MAX_SIDE",
    "decode_card",
    "decode_frame",
    "decode_image",
    "decode_portrait",
    "encode_jpeg",
    "frame_pixels",
    "resize_to",
]

MIN_SIDE = 32
"""Smallest side (px) an image may have: below this no face can be measured."""


def _refuse(reason: Reason, message: str) -> InputError:
    return InputError(reason, message)


def decode_image(
    data: bytes,
    *,
    max_pixels: int = 40_000_000,
    min_side: int = MIN_SIDE,
    max_side: int | None = None,
    target_side: int | None = None,
) -> Image:
    """Decode JPEG/PNG/... bytes into an RGB uint8 array (H, W, 3), upright per EXIF.

    The header is read first: more than `max_pixels` (or a side over `max_side`) is refused before
    any pixel is decoded. With `target_side`, a larger image comes out shrunk to that longest side,
    and a JPEG is decoded at reduced scale (libjpeg's DCT scaling), so the full-size pixels never
    exist in memory.

    :raises InputError: IMAGE_UNREADABLE (not an image, truncated, corrupt),
        IMAGE_TOO_LARGE (header claims too many pixels or too long a side), IMAGE_TOO_SMALL.
    """
    if not data:
        raise _refuse(Reason.IMAGE_UNREADABLE, "empty input")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            pil = PILImage.open(io.BytesIO(data))
            width, height = pil.size
    except PILImage.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds ..."
        what = f"{claimed.group(1)} pixels" if claimed else "too many pixels"
        raise _refuse(Reason.IMAGE_TOO_LARGE, f"the header claims {what}, more than {max_pixels}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, TypeError) as exc:
        raise _refuse(Reason.IMAGE_UNREADABLE, f"not a decodable image ({type(exc).__name__})") from None
    if width * height > max_pixels:
        raise _refuse(Reason.IMAGE_TOO_LARGE, f"{width}x{height} exceeds {max_pixels} pixels")
    if max_side is not None and max(width, height) > max_side:
        raise _refuse(Reason.IMAGE_TOO_LARGE, f"{width}x{height} exceeds {max_side} px per side")
    if min(width, height) < min_side:
        raise _refuse(Reason.IMAGE_TOO_SMALL, f"{width}x{height} is below {min_side} px per side")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if target_side is not None and max(width, height) > target_side and pil.format == "JPEG":
                scale = target_side / max(width, height)
                pil.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
            pil.load()  # truncated files raise here (LOAD_TRUNCATED_IMAGES stays False)
            if target_side is not None and max(pil.size) > target_side:
                pil.thumbnail((target_side, target_side), PILImage.Resampling.BILINEAR)
            upright: PILImage.Image = ImageOps.exif_transpose(pil) or pil
            rgb = _to_rgb(upright)
    except PILImage.DecompressionBombError:
        raise _refuse(Reason.IMAGE_TOO_LARGE, "image is too large to decode") from None
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError) as exc:
        raise _refuse(Reason.IMAGE_UNREADABLE, f"image data is corrupt ({type(exc).__name__})") from None
    return rgb


# What each kind of image may be (issue 14): the cap depends on what the image is, and is checked
# on the header before decoding.
FRAME_MAX = (1920, 1080)
"""A camera frame is at most 1920x1080 (either orientation)."""
FRAME_DECODE_SIDE = 1280
"""Frames are decoded shrunk to this longest side (a 1080p frame to 720p); the page sends 640x480."""
PORTRAIT_MAX_SIDE = 1200
"""An ID portrait: 102x126 on a chip, rarely over 1,000 px a side cropped from a card photo."""
CARD_MAX_SIDE = 4096
"""A photo of an ID card (OCR): up to a 16 MP phone camera, decoded at most 2048 px long."""


def _header_size(data: bytes) -> tuple[int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            size: tuple[int, int] = PILImage.open(io.BytesIO(data)).size
            return size
    except PILImage.DecompressionBombError:
        raise _refuse(Reason.IMAGE_TOO_LARGE, "image header claims too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, TypeError) as exc:
        raise _refuse(Reason.IMAGE_UNREADABLE, f"not a decodable image ({type(exc).__name__})") from None


def frame_pixels(data: bytes) -> int:
    """How many pixels a frame will hold once decoded (header only; refuses frames over `FRAME_MAX`)."""
    if not data:
        raise _refuse(Reason.IMAGE_UNREADABLE, "empty input")
    w, h = _header_size(data)
    if max(w, h) > FRAME_MAX[0] or min(w, h) > FRAME_MAX[1]:
        raise _refuse(Reason.IMAGE_TOO_LARGE, f"a frame of {w}x{h} exceeds {FRAME_MAX[0]}x{FRAME_MAX[1]}")
    scale = min(1.0, FRAME_DECODE_SIDE / max(w, h, 1))
    return int(w * scale) * int(h * scale)


def decode_frame(data: bytes) -> Image:
    """A camera frame: at most 1920x1080, decoded at most `FRAME_DECODE_SIDE` px long."""
    frame_pixels(data)
    return decode_image(
        data, max_pixels=FRAME_MAX[0] * FRAME_MAX[1], max_side=FRAME_MAX[0], target_side=FRAME_DECODE_SIDE
    )


def decode_portrait(data: bytes) -> Image:
    """An ID portrait: at most `PORTRAIT_MAX_SIDE` px a side."""
    return decode_image(data, max_pixels=PORTRAIT_MAX_SIDE**2, max_side=PORTRAIT_MAX_SIDE)


def decode_card(data: bytes) -> Image:
    """A photo of an ID card for OCR: at most 4096 px a side and 16 MP, decoded at most 2048 px long."""
    return decode_image(data, max_pixels=16_000_000, max_side=CARD_MAX_SIDE, target_side=2048)


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
