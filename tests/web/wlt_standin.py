"""A test stand-in for a reader vendor's licensed WLT decoder (the `PortraitDecoder` hook).

The real decoder turns the chip's 1,024 compressed bytes into the 102x126 portrait. The stand-in
looks the bytes up instead: `$SIMKYC_TEST_WLT_DIR/<sha256 of the bytes>.jpg` is the portrait the
simulated card stands for, so the bridge gets a real face from exactly the bytes the card sent.
Loaded by `simkyc reader serve --wlt-decoder wlt_standin:DirectoryWltDecoder` (tests/web on PYTHONPATH).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from simkyc.core.faces.types import Image
from simkyc.core.images import decode_image


class DirectoryWltDecoder:
    def __init__(self) -> None:
        self.folder = Path(os.environ["SIMKYC_TEST_WLT_DIR"])

    def decode_wlt(self, data: bytes) -> Image:
        if len(data) != 1024:
            raise ValueError(f"a WLT photo has 1024 bytes, not {len(data)}")
        return decode_image((self.folder / f"{hashlib.sha256(data).hexdigest()}.jpg").read_bytes())


def register_portrait(folder: Path, portrait_jpeg: bytes, *, seed: int = 17) -> bytes:
    """Make 1,024 'WLT' bytes standing for `portrait_jpeg` and file the portrait under their hash."""
    import random

    wlt = random.Random(seed).randbytes(1024)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{hashlib.sha256(wlt).hexdigest()}.jpg").write_bytes(portrait_jpeg)
    return wlt
