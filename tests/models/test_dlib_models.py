"""dlib wrappers: chips, unit templates, and agreement with the face_recognition package on the same box."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from simkyc.core.faces.types import Aligner, Detector, Embedder
from simkyc.core.images import decode_image
from simkyc.models.dlib_models import DlibAligner, DlibEmbedder, DlibHogDetector


@cache
def models() -> tuple[DlibHogDetector, DlibAligner, DlibEmbedder]:
    return DlibHogDetector(), DlibAligner(), DlibEmbedder()


def test_protocols_are_implemented() -> None:
    hog, aligner, embedder = models()
    assert isinstance(hog, Detector) and isinstance(aligner, Aligner) and isinstance(embedder, Embedder)
    assert embedder.name == "dlib-resnet-v1" and embedder.dim == 128 and embedder.chip_size == 150


def test_chip_and_template_agree_with_face_recognition(faces_dir: Path) -> None:
    face_recognition = pytest.importorskip("face_recognition")
    hog, aligner, embedder = models()
    img = decode_image((faces_dir / "face_recognition/examples/obama_small.jpg").read_bytes())
    found = hog.detect(img)
    assert len(found) == 1
    lm = aligner.landmarks(img, found[0])
    assert lm.shape == (5, 2)
    chip = aligner.chip(img, lm)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    t = embedder.embed(chip)
    assert t.shape == (128,) and np.linalg.norm(t) == pytest.approx(1.0, abs=1e-5)
    b = found[0].box
    ref = face_recognition.face_encodings(img, [(int(b.top), int(b.right), int(b.bottom), int(b.left))])[0]
    assert float(t @ (ref / np.linalg.norm(ref))) > 0.999


def test_batch_equals_single(faces_dir: Path) -> None:
    hog, aligner, embedder = models()
    img = decode_image((faces_dir / "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg").read_bytes())
    chip = aligner.chip(img, aligner.landmarks(img, hog.detect(img)[0]))
    batch = embedder.embed_batch([chip, chip[:, ::-1].copy()])
    assert batch.shape == (2, 128)
    assert np.allclose(batch[0], embedder.embed(chip), atol=1e-5)
    assert embedder.embed_batch([]).shape == (0, 128)


def test_blazeface_boxes_are_mapped_to_hog_like_boxes_for_the_landmarker() -> None:
    from simkyc.core.faces.types import Box, Detection
    from simkyc.models.dlib_models import hog_like_box

    plain = Detection(Box(10, 20, 110, 120), np.zeros((0, 2), np.float32), 0.9)
    assert hog_like_box(plain) == plain.box
    kps = np.array([[40, 60], [80, 60], [60, 80], [60, 100], [20, 70], [100, 70]], np.float32)
    mapped = hog_like_box(Detection(Box(10, 20, 110, 120), kps, 0.9))
    cy = (mapped.top + mapped.bottom) / 2
    assert 60 < cy < 100 and (mapped.left + mapped.right) / 2 == 60
    assert mapped.width == pytest.approx(99.0)
