"""decode_image: every bad input gets its reason code (no traceback), every colour mode becomes RGB."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from simkyc.core.images import decode_image, encode_jpeg
from simkyc.errors import InputError, Reason


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` but carries almost no data (a decompression bomb)."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _encode(img: PILImage.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(w: int = 64, h: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) % 256], axis=2).astype(np.uint8)


def _reason(data: bytes, **kw: int) -> Reason:
    with pytest.raises(InputError) as info:
        decode_image(data, **kw)
    return info.value.reason


def test_bytes_that_are_not_an_image() -> None:
    assert _reason(b"%PDF-1.4 this is not an image at all") == Reason.IMAGE_UNREADABLE
    assert _reason(b"") == Reason.IMAGE_UNREADABLE


def test_truncated_jpeg(faces_dir: Path) -> None:
    data = (faces_dir / "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg").read_bytes()
    assert decode_image(data).shape == (250, 250, 3)
    assert _reason(data[: len(data) // 2]) == Reason.IMAGE_UNREADABLE


def test_one_pixel_image() -> None:
    one = _encode(PILImage.new("RGB", (1, 1), (200, 100, 50)), "PNG")
    assert _reason(one) == Reason.IMAGE_TOO_SMALL


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    assert _reason(_png_header_only(30000, 30000)) == Reason.IMAGE_TOO_LARGE
    # below Pillow's own bomb limit, our max_pixels still applies
    assert _reason(_png_header_only(5000, 5000), max_pixels=10_000_000) == Reason.IMAGE_TOO_LARGE


def test_grayscale_becomes_three_equal_channels() -> None:
    grey = PILImage.fromarray(_gradient()[:, :, 0], "L")
    out = decode_image(_encode(grey, "PNG"))
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], out[:, :, 2])
    assert np.array_equal(out[:, :, 0], np.asarray(grey))


def test_sixteen_bit_grayscale_is_scaled() -> None:
    arr = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).astype(np.uint16)
    out = decode_image(_encode(PILImage.fromarray(arr), "PNG"))
    assert out.shape == (48, 64, 3)
    assert out.min() == 0 and out.max() == 255


def test_cmyk_jpeg_becomes_rgb() -> None:
    rgb = PILImage.fromarray(_gradient(), "RGB")
    out = decode_image(_encode(rgb.convert("CMYK"), "JPEG", quality=95))
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - _gradient().astype(int)).mean() < 12


def test_png_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[:, :32] = (255, 0, 0, 255)  # opaque red left half, transparent right half
    out = decode_image(_encode(PILImage.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(out[10, 5]) == (255, 0, 0)
    assert tuple(out[10, 60]) == (255, 255, 255)


def test_exif_rotated_photo_is_turned_upright(faces_dir: Path) -> None:
    upright = decode_image((faces_dir / "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg").read_bytes())
    upright = upright[:, :200]  # non-square so a rotation shows in the shape
    stored = PILImage.fromarray(upright).transpose(PILImage.Transpose.ROTATE_90)  # as a sideways camera saves
    exif = PILImage.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = decode_image(_encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape == upright.shape
    assert np.abs(out.astype(int) - upright.astype(int)).mean() < 6


def test_real_rgba_png_from_the_data(faces_dir: Path) -> None:
    out = decode_image((faces_dir / "face_recognition/tests/test_images/32bit.png").read_bytes())
    assert out.shape == (1200, 626, 3)  # (H, W, 3): PIL sizes are (W, H)


def test_jpeg_round_trip_keeps_size() -> None:
    assert decode_image(encode_jpeg(_gradient(), quality=80)).shape == (48, 64, 3)
