"""Fixtures of the service tests: real-data captures (the database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from regkit import IMPOSTOR, REAL_CLIP, MemoLiveness, chip_portrait, seed_for

from simkyc.core.faces.types import Image
from simkyc.core.images import decode_image

if TYPE_CHECKING:
    from simkyc.service import liveness as live


# --- real data, shared by the end-to-end, byte-scan and CLI tests ---


@pytest.fixture(scope="session")
def clip(videos_dir: Path) -> live.VideoClip:
    from simkyc.service.liveness import read_video

    return read_video(videos_dir / REAL_CLIP)


@pytest.fixture(scope="session")
def holder_photo(clip: live.VideoClip) -> Image:
    return chip_portrait(clip.frames[10])


@pytest.fixture(scope="session")
def impostor_photo(faces_dir: Path) -> Image:
    return chip_portrait(decode_image((faces_dir / IMPOSTOR).read_bytes()))


@pytest.fixture(scope="session")
def memo_liveness() -> MemoLiveness:
    return MemoLiveness()


@pytest.fixture(scope="session")
def clip_seed() -> int:
    return seed_for(("blink", "turn_right"))  # what the clip shows: a blink at 5.7 s, a right turn at 7.1 s


@pytest.fixture(scope="session")
def calibrated() -> None:
    """Real-data decisions need the shipped face calibration (issue 2's `simkyc eval calibrate`)."""
    from simkyc import bootstrap
    from simkyc.errors import ModelError

    try:
        bootstrap.load_calibration()
    except ModelError as exc:
        pytest.skip(f"no face calibration shipped yet: {exc.message}")
