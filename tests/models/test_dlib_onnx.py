"""The ONNX port of dlib's descriptor network against dlib itself, on real aligned faces.

Equivalence: >= 500 faces from ../shared/data/faces (BlazeFace boxes, dlib 5-point chips,
exactly what `DlibEmbedder` receives), the largest per-component difference and the
largest descriptor distance are reported (printed, and written to
artifacts/dlib_onnx_equivalence.json), and the decisions at every calibrated operating
point on the listed pairs must be identical. The same check must fail for a converter
that breaks one layer.

dlib costs ~130 ms a face, so its descriptors are memoised on disk under artifacts/cache,
keyed by the SHA-256 of the chip bytes, dlib's version and the model's SHA-256: a pure
function of its inputs, recomputed whenever any of them changes (SIMKYC_TEST_NO_CACHE=1
forces it).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
from PIL import Image as PILImage

from simkyc.core.faces.calibration import fmr_key
from simkyc.core.faces.types import Image
from simkyc.models.dlib_onnx import TEMPLATE_TAG, OnnxDlibEmbedder, build_onnx, convert, parse_dlib_net
from simkyc.models.dlib_onnx.graph import INPUT_NAME, OUTPUT_NAME
from simkyc.models.dlib_onnx.parser import DlibNet
from simkyc.models.registry import locate

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
N_PAIRS = 330  # -> ~600 distinct images, >= 500 aligned faces after detection
ATOL = 1e-5  # per-component tolerance on dlib's raw descriptors (norm ~1.4); float32 rounding is ~1e-7
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sample:
    chips: list[Image]
    pairs: list[tuple[int, int, bool]]  # chip indices, same person


def _sample_pairs(faces_dir: Path) -> list[tuple[str, str, bool]]:
    with (faces_dir / "pairs.csv").open(newline="") as fh:
        rows = [(r["img_a"], r["img_b"], r["same"] == "1") for r in csv.DictReader(fh)]
    rng = np.random.default_rng(8)
    picked = rng.choice(len(rows), size=N_PAIRS, replace=False)
    return [rows[i] for i in sorted(picked)]


@pytest.fixture(scope="session")
def sample(faces_dir: Path) -> Sample:
    from simkyc.models.blazeface import BlazeFaceDetector
    from simkyc.models.dlib_models import DlibAligner

    detector, aligner = BlazeFaceDetector(), DlibAligner()
    index: dict[str, int | None] = {}
    chips: list[Image] = []
    pairs: list[tuple[int, int, bool]] = []

    def chip_of(rel: str) -> int | None:
        if rel not in index:
            image = np.asarray(PILImage.open(faces_dir / rel).convert("RGB"))
            found = detector.detect(image)
            if found:
                chips.append(aligner.chip(image, aligner.landmarks(image, found[0])))
                index[rel] = len(chips) - 1
            else:
                index[rel] = None
        return index[rel]

    for a, b, same in _sample_pairs(faces_dir):
        ia, ib = chip_of(a), chip_of(b)
        if ia is not None and ib is not None:
            pairs.append((ia, ib, same))
    return Sample(chips=chips, pairs=pairs)


def _dlib_raw(chips: list[Image]) -> F32:
    """dlib's own descriptors (`compute_face_descriptor` on the chips), memoised on disk."""
    import dlib

    model = locate("dlib-resnet-v1")
    key = hashlib.sha256()
    for chip in chips:
        key.update(np.ascontiguousarray(chip).tobytes())
    key.update(f"{dlib.__version__}|{model.sha256}".encode())
    cache = ARTIFACTS / "cache" / f"dlib_descriptors_{key.hexdigest()[:24]}.npy"
    if cache.is_file() and not os.environ.get("SIMKYC_TEST_NO_CACHE"):
        cached: F32 = np.load(cache)
        return cached
    net = dlib.face_recognition_model_v1(str(model.path))
    out = np.asarray(
        [np.asarray(v) for v in net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])],
        dtype=np.float32,
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


@pytest.fixture(scope="session")
def dlib_raw(sample: Sample) -> F32:
    return _dlib_raw(sample.chips)


@pytest.fixture(scope="session")
def net() -> DlibNet:
    return parse_dlib_net(locate("dlib-resnet-v1").path.read_bytes())


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> OnnxDlibEmbedder:
    converted = convert(cache_dir=tmp_path_factory.mktemp("model_cache"))
    return OnnxDlibEmbedder(model_path=converted.path, threads=2)


def _l2(v: F32) -> F32:
    out: F32 = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return out


def _operating_points(ref_templates: F32, sample: Sample) -> dict[str, float]:
    """Thresholds from src/simkyc/data/calibration.json when present; until then, the same rule
    (just above the k-th highest impostor score for FMR 1e-2 / 1e-3 / 1e-4) on all different-image
    comparisons of this sample, which is what the calibration will hold for this data."""
    path = REPO / "src" / "simkyc" / "data" / "calibration.json"
    if path.is_file():
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {k: float(v["threshold"]) for k, v in raw["operating_points"].items()}
    scores = ref_templates @ ref_templates.T
    impostor = np.sort(scores[np.triu_indices(len(scores), k=1)].astype(np.float64))[::-1]
    return {
        fmr_key(f): float(np.nextafter(impostor[int(f * impostor.size)], np.inf)) for f in (1e-2, 1e-3, 1e-4)
    }


@dataclass(frozen=True)
class Report:
    faces: int
    pairs: int
    max_abs_component: float
    max_distance_raw: float
    max_distance_normalised: float
    max_score_difference: float
    decision_flips: dict[str, int]  # on the listed pairs
    min_margin_to_threshold: float  # of a listed pair's dlib score
    all_comparisons: int  # every pair of distinct faces in the sample
    all_decision_flips: dict[str, int]

    @property
    def equivalent(self) -> bool:
        flips = sum(self.decision_flips.values()) + sum(self.all_decision_flips.values())
        return self.max_abs_component <= ATOL and flips == 0


def _compare(ref_raw: F32, got_raw: F32, sample: Sample, points: dict[str, float]) -> Report:
    ref, got = _l2(ref_raw), _l2(got_raw)
    ia = np.array([p[0] for p in sample.pairs])
    ib = np.array([p[1] for p in sample.pairs])
    ref_s = np.einsum("ij,ij->i", ref[ia], ref[ib])
    got_s = np.einsum("ij,ij->i", got[ia], got[ib])
    flips = {k: int(np.sum((ref_s >= t) != (got_s >= t))) for k, t in points.items()}
    margin = min(float(np.min(np.abs(ref_s.astype(np.float64) - t))) for t in points.values())
    upper = np.triu_indices(len(ref), k=1)
    ref_all, got_all = (ref @ ref.T)[upper], (got @ got.T)[upper]
    all_flips = {k: int(np.sum((ref_all >= t) != (got_all >= t))) for k, t in points.items()}
    return Report(
        faces=len(ref_raw),
        pairs=len(sample.pairs),
        max_abs_component=float(np.max(np.abs(ref_raw - got_raw))),
        max_distance_raw=float(np.max(np.linalg.norm(ref_raw - got_raw, axis=1))),
        max_distance_normalised=float(np.max(np.linalg.norm(ref - got, axis=1))),
        max_score_difference=float(np.max(np.abs(ref_s - got_s))),
        decision_flips=flips,
        min_margin_to_threshold=margin,
        all_comparisons=int(ref_all.size),
        all_decision_flips=all_flips,
    )


def _run(model_bytes: bytes, chips: list[Image]) -> F32:
    """Raw (un-normalised) descriptors from an ONNX graph: RGB pixels as float NCHW in."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    x = np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2)
    return np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: x})[0], dtype=np.float32)


# --- tests ----------------------------------------------------------------------------------------


def test_parser_reads_the_whole_file_as_anet_type(net: DlibNet) -> None:
    kinds = [op.kind for op, _ in net.ops]
    assert net.input.kind == "input_rgb_image_sized" and (net.input.rows, net.input.cols) == (150, 150)
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    assert net.ops[-1][1] is not None and net.ops[-1][1].arrays["weights"].shape == (256, 128)
    assert 0 < net.margin < net.distance_threshold  # loss_metric's margin and 0.6 distance threshold


def test_onnx_matches_dlib_on_real_faces(
    sample: Sample, dlib_raw: F32, embedder: OnnxDlibEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(sample.chips) >= 500
    got_raw = _run(embedder.model_path.read_bytes(), sample.chips)
    points = _operating_points(_l2(dlib_raw), sample)
    report = _compare(dlib_raw, got_raw, sample, points)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dlib_onnx_equivalence.json").write_text(
        json.dumps({**report.__dict__, "operating_points": points}, indent=2) + "\n", encoding="utf-8"
    )
    with capsys.disabled():
        print(f"\n[dlib vs ONNX] {report}")
    assert report.max_abs_component <= ATOL
    assert report.decision_flips == dict.fromkeys(points, 0)
    assert report.all_decision_flips == dict.fromkeys(points, 0)
    # the templates the pipeline stores: normalised, as DlibEmbedder makes them, through the embedder
    templates = embedder.embed_batch(sample.chips)
    assert float(np.max(np.abs(templates - _l2(dlib_raw)))) <= ATOL
    np.testing.assert_allclose(embedder.embed(sample.chips[0]), _l2(dlib_raw[:1])[0], atol=ATOL)


def test_batched_equals_one_by_one(sample: Sample, embedder: OnnxDlibEmbedder) -> None:
    chips = sample.chips[:20]
    one_by_one = np.stack([embedder.embed(c) for c in chips])
    np.testing.assert_allclose(embedder.embed_batch(chips), one_by_one, atol=1e-6)
    assert embedder.embed_batch([]).shape == (0, 128)


def _perturbed(net: DlibNet, how: str) -> DlibNet:
    ops = list(net.ops)
    convs = [i for i, (op, _) in enumerate(ops) if op.kind == "con"]
    if how == "one_conv_weights_off_by_0.5%":
        i = convs[len(convs) // 2]
        layer = ops[i][1]
        assert layer is not None
        layer = type(layer)(layer.kind, dict(layer.params), dict(layer.arrays))
        layer.arrays["filters"] = layer.arrays["filters"] * np.float32(1.005)
        ops[i] = (ops[i][0], layer)
    elif how == "one_relu_skipped":
        relus = [i for i, (op, _) in enumerate(ops) if op.kind == "relu"]
        del ops[relus[len(relus) // 2]]
    elif how == "kernels_flipped":  # convolution instead of dlib's cross-correlation, first layer
        layer = ops[convs[0]][1]
        assert layer is not None
        layer = type(layer)(layer.kind, dict(layer.params), dict(layer.arrays))
        layer.arrays["filters"] = np.ascontiguousarray(layer.arrays["filters"][:, :, ::-1, ::-1])
        ops[convs[0]] = (ops[convs[0]][0], layer)
    return DlibNet(net.input, ops, net.loss, net.margin, net.distance_threshold)


@dataclass(frozen=True)
class Small:
    sample: Sample
    ref: F32
    points: dict[str, float]


@pytest.fixture(scope="module")
def small(net: DlibNet, sample: Sample, dlib_raw: F32) -> Small:
    """64 faces on which the unmodified graph, run the same way as the broken ones, is equivalent."""
    n = 64
    sub = Sample(chips=sample.chips[:n], pairs=[p for p in sample.pairs if p[0] < n and p[1] < n])
    case = Small(sub, dlib_raw[:n], _operating_points(_l2(dlib_raw[:n]), sub))
    good = _compare(case.ref, _run(build_onnx(net).SerializeToString(), sub.chips), sub, case.points)
    assert good.equivalent
    return case


@pytest.mark.parametrize("how", ["one_conv_weights_off_by_0.5%", "one_relu_skipped", "kernels_flipped"])
def test_a_broken_layer_is_detected(how: str, net: DlibNet, small: Small) -> None:
    broken = _run(build_onnx(_perturbed(net, how)).SerializeToString(), small.sample.chips)
    bad = _compare(small.ref, broken, small.sample, small.points)
    assert not bad.equivalent
    assert bad.max_abs_component > 10 * ATOL


def test_convert_caches_and_rebuilds(tmp_path: Path) -> None:
    first = convert(cache_dir=tmp_path)
    assert first.converted and first.path.is_file()
    record = json.loads((tmp_path / (first.path.name + ".json")).read_text())
    assert record["onnx_sha256"] == first.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert record["source_sha256"] == locate("dlib-resnet-v1").sha256
    again = convert(cache_dir=tmp_path)
    assert not again.converted and again.sha256 == first.sha256
    # a corrupted cache file or a record for another source file is rebuilt, not used
    first.path.write_bytes(b"not a model")
    assert convert(cache_dir=tmp_path).converted
    record["source_sha256"] = "0" * 64
    (tmp_path / (first.path.name + ".json")).write_text(json.dumps(record))
    rebuilt = convert(cache_dir=tmp_path)
    assert rebuilt.converted and rebuilt.sha256 == first.sha256  # deterministic conversion
    assert not list(tmp_path.glob("*.tmp"))


def test_embedder_contract(embedder: OnnxDlibEmbedder, sample: Sample) -> None:
    from simkyc.core.faces.types import Embedder
    from simkyc.models.dlib_models import DlibEmbedder

    assert isinstance(embedder, Embedder)
    assert embedder.name == DlibEmbedder.name and (embedder.dim, embedder.chip_size) == (128, 150)
    t = embedder.embed(sample.chips[0])
    assert t.dtype == np.float32 and abs(float(np.linalg.norm(t)) - 1.0) < 1e-5


def test_bootstrap_base_embedder_is_the_onnx_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simkyc import bootstrap

    monkeypatch.setenv("SIMKYC_CACHE_DIR", str(tmp_path))
    embedder = bootstrap.base_embedder()
    assert isinstance(embedder, OnnxDlibEmbedder)
    assert embedder.model_path.parent == tmp_path and embedder.version.endswith(f"+{TEMPLATE_TAG}")
