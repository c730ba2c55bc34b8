"""The face pipeline on real photos, with the shipped calibration's default operating point (FMR 1e-3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simkyc import bootstrap
from simkyc.core.faces.pipeline import FacePipeline
from simkyc.core.images import decode_image
from simkyc.errors import FaceError, Reason
from simkyc.eval.pairs import Pair, load_pairs
from simkyc.eval.systems import degrade_to_chip


def _pipeline() -> FacePipeline:
    return bootstrap.face_pipeline()


def _img(faces_dir: Path, rel: str) -> np.ndarray:
    return decode_image((faces_dir / rel).read_bytes())


def _sample(faces_dir: Path, source: str, same: bool, n: int) -> list[Pair]:
    rows = [p for p in load_pairs(faces_dir / "pairs.csv") if p.source == source and p.same == same]
    return rows[:: max(1, len(rows) // n)][:n]


# (source, genuine pairs that must match out of 8). The dlib descriptor's FNMR at FMR 1e-3 (all
# cross-identity impostors) is about 0.2 on NUAA printed-photo-vs-live pairs and 0.4 on the
# East Asian portraits (see src/simkyc/data/calibration.json), so these floors leave room for that
# and still fail if matching breaks (random templates would match none).
@pytest.mark.parametrize(
    ("source", "floor"), [("nuaa_printphoto_vs_live", 5), ("east_asian_AsianFaces_bigblockofice", 3)]
)
def test_genuine_pairs_match_and_impostors_do_not(faces_dir: Path, source: str, floor: int) -> None:
    pipe = _pipeline()
    threshold = bootstrap.calibration().threshold(1e-3)
    genuine = _sample(faces_dir, source, True, 8)
    impostor = _sample(faces_dir, source, False, 8)
    results = [
        pipe.verify(_img(faces_dir, p.img_a), _img(faces_dir, p.img_b), threshold=threshold)
        for p in genuine + impostor
    ]
    matched = [r.is_match for r in results]
    assert sum(matched[:8]) >= floor, matched
    assert not any(matched[8:]), matched
    # genuine scores sit above impostor scores on average, whatever the threshold
    scores = [r.score for r in results]
    assert np.mean(scores[:8]) > np.mean(scores[8:])


def test_verify_reports_every_stage_and_reason(faces_dir: Path) -> None:
    a = _img(faces_dir, "face_recognition/examples/knn_examples/train/obama/obama.jpg")
    b = _img(faces_dir, "face_recognition/examples/knn_examples/train/biden/biden.jpg")
    result = _pipeline().verify(a, b, threshold=bootstrap.calibration().threshold(1e-3))
    assert not result.is_match and result.usable
    assert Reason.FACE_MISMATCH in result.reasons
    assert set(result.timings) >= {"detect", "align", "quality", "embed"}
    side = bootstrap.face_pipeline().embedder.chip_size  # 112: the default embedder's ArcFace chips
    assert result.id_face.chip.shape == (side, side, 3)
    assert np.linalg.norm(result.live_face.template) == pytest.approx(1.0, abs=1e-5)


def test_chip_photo_against_the_original(faces_dir: Path) -> None:
    rel = "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg"
    chip = decode_image(degrade_to_chip((faces_dir / rel).read_bytes()))
    face = _pipeline().analyze(chip, kind="id_photo")
    assert face.quality.face_px < 102
    assert Reason.FACE_TOO_SMALL not in face.quality.findings
    other = _pipeline().analyze(_img(faces_dir, rel))
    assert float(face.template @ other.template) > bootstrap.calibration().threshold(1e-4)


def test_no_face_raises_with_the_side(faces_dir: Path) -> None:
    flat = np.full((200, 200, 3), 120, np.uint8)
    with pytest.raises(FaceError) as info:
        _pipeline().verify(
            _img(faces_dir, "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg"), flat, threshold=0.9
        )
    assert info.value.reason == Reason.NO_FACE and info.value.detail["kind"] == "live"


def test_two_people_is_unusable(faces_dir: Path) -> None:
    two = _img(faces_dir, "face_recognition/examples/two_people.jpg")
    face = _pipeline().analyze(two)
    assert Reason.MULTIPLE_FACES in face.quality.findings and not face.quality.usable
