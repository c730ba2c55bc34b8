"""BlazeFace through LiteRT: anchors as MediaPipe builds them, faces found in tight crops and chip photos."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from simkyc.core.images import decode_image
from simkyc.eval.systems import degrade_to_chip
from simkyc.models.blazeface import BlazeFaceDetector, ssd_anchors


@cache
def detector() -> BlazeFaceDetector:
    return BlazeFaceDetector()


def test_anchor_counts_match_the_models() -> None:
    assert ssd_anchors(128, [8, 16, 16, 16], two_per_layer=True).shape == (896, 2)
    assert ssd_anchors(192, [4], two_per_layer=False).shape == (2304, 2)
    a = ssd_anchors(128, [8, 16, 16, 16], two_per_layer=True)
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16]) and a.min() > 0 and a.max() < 1


def _load(faces_dir: Path, rel: str) -> np.ndarray:
    return decode_image((faces_dir / rel).read_bytes())


def _centre_inside(det_box: object, image: np.ndarray) -> bool:
    b = det_box
    cx, cy = (b.left + b.right) / 2, (b.top + b.bottom) / 2  # type: ignore[attr-defined]
    return 0 < cx < image.shape[1] and 0 < cy < image.shape[0]


def test_lfw_face_box_and_keypoints(faces_dir: Path) -> None:
    img = _load(faces_dir, "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg")
    found = detector().detect(img)
    assert len(found) == 1
    d = found[0]
    # LFW crops are centred on the face: the box holds the image centre and is 60-140 px wide
    assert d.box.left < 125 < d.box.right and d.box.top < 125 < d.box.bottom
    assert 60 < d.box.width < 140 and d.score > 0.8
    assert d.keypoints.shape == (6, 2)
    eye_a, eye_b, nose = d.keypoints[0], d.keypoints[1], d.keypoints[2]
    assert eye_a[0] < nose[0] < eye_b[0] and nose[1] > max(eye_a[1], eye_b[1])


@pytest.mark.parametrize(
    "rel",
    [
        "east_asian/KpopIdolFaceClassifier_tapankarnik/Arin/1yELpfx.jpg",  # 160x160 tight crop
        "east_asian/CNN-Nogizaka46_ShozenD/Nanami_Hashimoto/橋本奈々未.0.jpg",  # 150x150 tight crop
        "east_asian/DeepNogizaka_yu8muraka3/Asuka_Saito/out_(asuka0.jpg)1.jpg",  # 224x224 crop
    ],
)
def test_tight_crops_are_found(faces_dir: Path, rel: str) -> None:
    img = _load(faces_dir, rel)
    found = detector().detect(img)
    assert found and _centre_inside(found[0].box, img)
    assert found[0].box.width > 0.35 * img.shape[1]


def test_chip_size_photos_are_found(faces_dir: Path) -> None:
    rels = [
        "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg",
        "face_recognition/examples/obama_small.jpg",
        "east_asian/AsianFaces_bigblockofice/japanese__aiko-princess-toshi/aiko-princess-toshi-1.jpg",
    ]
    for rel in rels:
        chip = decode_image(degrade_to_chip((faces_dir / rel).read_bytes()))
        assert chip.shape == (126, 102, 3)
        found = detector().detect(chip)
        assert found, rel
        assert _centre_inside(found[0].box, chip)


def test_several_faces(faces_dir: Path) -> None:
    img = _load(faces_dir, "face_recognition/examples/two_people.jpg")
    assert len(detector().detect(img)) >= 2


def test_no_face_in_a_flat_image() -> None:
    assert detector().detect(np.full((240, 320, 3), 127, np.uint8)) == []
