"""Image caps by kind (issue 14): checked on the header before decoding; frames decoded shrunk."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from simkyc.core.images import (
    FRAME_DECODE_SIDE,
    decode_card,
    decode_frame,
    decode_portrait,
    frame_pixels,
)
from simkyc.errors import InputError, Reason


def _jpeg(w: int, h: int) -> bytes:
    rng = np.random.default_rng(w * h)
    buf = io.BytesIO()
    PILImage.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def test_a_full_hd_frame_is_decoded_shrunk() -> None:
    data = _jpeg(1920, 1080)
    img = decode_frame(data)
    assert max(img.shape[:2]) == FRAME_DECODE_SIDE and img.shape[2] == 3
    assert frame_pixels(data) == img.shape[0] * img.shape[1]


def test_a_small_frame_is_left_alone() -> None:
    assert decode_frame(_jpeg(640, 480)).shape == (480, 640, 3)


@pytest.mark.parametrize(
    ("decode", "size"),
    [
        (decode_frame, (2000, 1000)),
        (decode_frame, (1200, 1200)),
        (decode_portrait, (1300, 900)),
        (decode_card, (5000, 3000)),
    ],
)
def test_oversize_images_are_refused_from_the_header(decode: object, size: tuple[int, int]) -> None:
    with pytest.raises(InputError) as exc:
        decode(_jpeg(*size))  # type: ignore[operator]
    assert exc.value.reason is Reason.IMAGE_TOO_LARGE


def test_a_portrait_frame_in_either_orientation_fits() -> None:
    assert decode_frame(_jpeg(1080, 1920)).shape[0] == FRAME_DECODE_SIDE
    assert decode_portrait(_jpeg(1000, 1200)).shape == (1200, 1000, 3)
    assert max(decode_card(_jpeg(4000, 3000)).shape[:2]) == 2048
