"""The npm-packaged embedders and their ArcFace alignment, on real faces.

The fixed-embedding tests compare simkyc's embedders (OpenCV DNN on a patched graph, LiteRT
with XNNPACK, vectorised preprocessing) with vectors computed once by an independent path
(`npm_reference.py`: ONNX Runtime on the unmodified file and LiteRT's reference kernels,
the vendors' preprocessing transcribed pixel by pixel).
"""

from __future__ import annotations

import json
from pathlib import Path

import dlib
import numpy as np
import pytest
from npm_reference import crop

from simkyc.core.faces.align import ARCFACE_112, apply_affine
from simkyc.core.faces.types import Box, Detection
from simkyc.core.images import decode_image
from simkyc.models.arcface import ArcFaceAligner, FrLandmarker
from simkyc.models.blazeface import BlazeFaceDetector
from simkyc.models.dlib_models import hog_like_box, to_rectangle
from simkyc.models.npm_embedders import FrFeatureEmbedder, MobileFaceNetEmbedder, fr_feature_graph
from simkyc.models.registry import locate

REFERENCE = json.loads((Path(__file__).parent / "data" / "npm_embeddings.json").read_text())
LFW = [
    "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg",
    "lfw/images/Tony_Blair/Tony_Blair_0006.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0017.jpg",
    "east_asian/AsianFaces_bigblockofice/japanese__aiko-princess-toshi/aiko-princess-toshi-1.jpg",
]


@pytest.fixture(scope="module")
def fr() -> FrFeatureEmbedder:
    return FrFeatureEmbedder()


@pytest.fixture(scope="module")
def mfn() -> MobileFaceNetEmbedder:
    return MobileFaceNetEmbedder()


def _unit(v: list[float]) -> np.ndarray:
    x = np.asarray(v, dtype=np.float64)
    return x / np.linalg.norm(x)


@pytest.mark.parametrize("name", ["fr-feature", "mobilefacenet"])
def test_embedding_of_a_fixed_crop_matches_the_independent_reference(
    name: str, faces_dir: Path, fr: FrFeatureEmbedder, mfn: MobileFaceNetEmbedder
) -> None:
    ref = REFERENCE[name]
    assert ref["sha256"] == locate(name).sha256, "reference made for another model file"
    embedder = fr if name == "fr-feature" else mfn
    got = embedder.embed(crop(faces_dir)).astype(np.float64)
    want = _unit(ref["raw"])
    assert got.shape == want.shape == (embedder.dim,)
    assert float(got @ want) > 0.99999
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_the_reference_is_sensitive_to_preprocessing(faces_dir: Path, fr: FrFeatureEmbedder) -> None:
    """Guards the test above: a swapped channel order or a 1-level offset moves the template measurably."""
    chip = crop(faces_dir)
    want = _unit(REFERENCE["fr-feature"]["raw"])
    bgr = fr.embed(np.ascontiguousarray(chip[:, :, ::-1])).astype(np.float64)
    brighter = fr.embed(np.clip(chip.astype(np.int16) + 2, 0, 255).astype(np.uint8)).astype(np.float64)
    assert np.abs(bgr - want).max() > 1e-2
    assert np.abs(brighter - want).max() > 2e-4


def test_batches_equal_single_embeddings(
    faces_dir: Path, fr: FrFeatureEmbedder, mfn: MobileFaceNetEmbedder
) -> None:
    chip = crop(faces_dir)
    chips = [chip, chip[:, ::-1].copy(), np.roll(chip, 3, axis=1)]  # odd count: MobileFaceNet pads a pair
    for embedder in (fr, mfn):
        batch = embedder.embed_batch(chips)
        single = np.stack([embedder.embed(c) for c in chips])
        np.testing.assert_allclose(batch, single, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
        assert embedder.embed_batch([]).shape == (0, embedder.dim)
    with pytest.raises(ValueError, match="112x112"):
        fr.embed_batch([np.zeros((150, 150, 3), np.uint8)])


def test_graph_patch_flushes_denormals_and_frees_the_batch() -> None:
    graph, flushed, batchable = fr_feature_graph(locate("fr-feature").path.read_bytes())
    assert batchable and flushed == 8938
    assert graph != locate("fr-feature").path.read_bytes()


def _largest(image: np.ndarray) -> Detection:
    return max(BlazeFaceDetector().detect(image), key=lambda d: d.box.width)


def test_aligned_chip_puts_the_five_points_at_the_arcface_reference(faces_dir: Path) -> None:
    aligner = ArcFaceAligner()
    for path in LFW:
        image = decode_image((faces_dir / path).read_bytes())
        five = aligner.landmarks(image, _largest(image))
        chip = aligner.chip(image, five)
        assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8
        mapped = apply_affine(aligner.transform(five), five)
        # a similarity cannot fit five points of a turned face exactly, but it comes within a few pixels
        dist = np.linalg.norm(mapped - ARCFACE_112, axis=1)
        assert dist.mean() < 4.0 and dist.max() < 10.0  # a mirrored or mis-scaled warp is 30+ px off


def test_68_points_agree_with_dlibs_predictor(faces_dir: Path) -> None:
    predictor = dlib.shape_predictor(str(locate("dlib-shape68").path))
    landmarker = FrLandmarker()
    for path in LFW:
        image = decode_image((faces_dir / path).read_bytes())
        det = _largest(image)
        ref = np.array([[p.x, p.y] for p in predictor(image, to_rectangle(hog_like_box(det))).parts()], float)
        b = det.box
        pts = landmarker.points(image, (b.left, b.top, b.right, b.bottom)).astype(float)
        iod = np.linalg.norm(ref[36:42].mean(0) - ref[42:48].mean(0))
        assert np.linalg.norm(pts - ref, axis=1).mean() / iod < 0.12


def test_a_face_cut_by_the_border_keeps_its_landmarks(faces_dir: Path) -> None:
    """A tight crop (as many ID photos): the JavaScript's box shift misplaces every point; ours does not."""
    image = decode_image((faces_dir / LFW[0]).read_bytes())
    det = _largest(image)
    b = det.box
    full = FrLandmarker().points(image, (b.left, b.top, b.right, b.bottom)).astype(float)
    # cut the image just inside the face box's left and top: the box now sticks out of the image
    x0, y0 = int(b.left + 0.15 * b.width), int(b.top + 0.15 * b.height)
    tight = np.ascontiguousarray(image[y0:, x0:])
    box = (b.left - x0, b.top - y0, b.right - x0, b.bottom - y0)
    iod = np.linalg.norm(full[36:42].mean(0) - full[42:48].mean(0))
    offset = np.array([x0, y0], float)
    ours = FrLandmarker().points(tight, box).astype(float) + offset
    js = FrLandmarker(js_box=True).points(tight, box).astype(float) + offset
    err_ours = np.linalg.norm(ours - full, axis=1).mean() / iod
    err_js = np.linalg.norm(js - full, axis=1).mean() / iod
    assert err_ours < 0.1 < err_js


def test_landmark_sources_give_the_same_eyes(faces_dir: Path) -> None:
    image = decode_image((faces_dir / LFW[1]).read_bytes())
    det = _largest(image)
    points = {s: ArcFaceAligner(s).landmarks(image, det) for s in ("fr-landmark", "facemesh", "blazeface")}  # type: ignore[arg-type]
    iod = float(np.linalg.norm(points["facemesh"][0] - points["facemesh"][1]))
    for s in ("fr-landmark", "blazeface"):
        assert np.linalg.norm(points[s][:2] - points["facemesh"][:2], axis=1).max() < 0.15 * iod


def test_fallback_detection_without_keypoints_is_aligned(faces_dir: Path) -> None:
    image = decode_image((faces_dir / LFW[2]).read_bytes())
    det = _largest(image)
    bare = Detection(
        box=Box(det.box.left, det.box.top, det.box.right, det.box.bottom),
        keypoints=np.zeros((0, 2), np.float32),
        score=0.9,
    )
    for source in ("fr-landmark", "facemesh"):
        chip = ArcFaceAligner(source).chip(image, ArcFaceAligner(source).landmarks(image, bare))  # type: ignore[arg-type]
        assert chip.shape == (112, 112, 3)
