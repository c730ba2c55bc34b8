"""The accuracy paths on real faces: dev embeddings and their cache, fusion, adaptation, abstention,
and the one-command calibration of a site's own ONNX embedder (a tiny model the test builds).

A mini dev set of about 40 real images (East Asian and other people, NUAA printed photos
against live frames) is linked into a temporary folder with its own `identities.csv`, so
the commands run end to end in seconds and never touch the user's cache.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from simkyc.core.faces.adapt import Adaptation, adapt
from simkyc.core.faces.fusion import fused_score
from simkyc.core.faces.quality import QualityReport
from simkyc.core.liveness.session import LivenessConfig
from simkyc.eval.abstain import quality_score
from simkyc.eval.adapt_train import train_adaptation
from simkyc.eval.devset import DevEmbeddings, compute_dev_embeddings
from simkyc.eval.fusion import draw_trials, fusion_scores

PICK = {  # identity -> how many images
    "DeepNogizaka:Asuka_Saito": 6,
    "DeepNogizaka:Erika_Ikuta": 6,
    "KpopIdolFaceClassifier:Chorong": 6,
    "nuaa_0001": 6,
    "nuaa_0004": 4,
    "angelina_jolie": 6,
    "Donald_Rumsfeld": 6,
    "John_Bolton": 6,
    "Jennifer_Lopez": 4,
    "John_Snow": 4,
    "Paul_Wolfowitz": 4,
}


@pytest.fixture(scope="session")
def mini_faces(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mini_faces")
    with (faces_dir / "identities.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    taken: Counter[str] = Counter()
    chosen = []
    for row in sorted(rows, key=lambda r: (r["source"] != "nuaa_spoof_print", r["path"])):
        want = PICK.get(row["identity"], 0)
        printed = row["source"] == "nuaa_spoof_print"
        if taken[row["identity"]] < want and (not printed or taken[row["identity"]] < 2):
            taken[row["identity"]] += 1
            chosen.append(row)
    for row in chosen:
        link = root / row["path"]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(faces_dir / row["path"])
    with (root / "identities.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "identity", "source"])
        w.writeheader()
        w.writerows(chosen)
    return root


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simkyc_home")


@pytest.fixture(scope="session")
def mini_dev(mini_faces: Path, home: Path) -> DevEmbeddings:
    from simkyc import bootstrap

    return compute_dev_embeddings(
        mini_faces, bootstrap.base_face_pipeline(), cache_dir=home / "cache" / "eval", views="flip"
    )


def test_dev_embeddings_are_complete_normalised_and_cached(
    mini_faces: Path, home: Path, mini_dev: DevEmbeddings
) -> None:
    assert mini_dev.ok.mean() > 0.9
    x = mini_dev.plain[mini_dev.ok]
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    flip = mini_dev.views["flip_plain"][mini_dev.ok]
    assert np.all(np.einsum("nd,nd->n", x, flip) > 0.85)  # a mirrored face is still the same face
    assert set(mini_dev.quality) >= {"face_px", "sharpness", "brightness", "yaw_deg"}

    class Exploding:
        def __getattr__(self, name: str) -> object:
            from simkyc import bootstrap

            if name in ("embedder_name", "embedder_version", "detector", "fallback_detector", "aligner"):
                return getattr(bootstrap.base_face_pipeline(), name)
            raise AssertionError(f"cache miss: pipeline.{name} called")

    again = compute_dev_embeddings(mini_faces, Exploding(), cache_dir=home / "cache" / "eval", views="flip")  # type: ignore[arg-type]
    assert np.array_equal(again.plain, mini_dev.plain) and np.array_equal(again.ok, mini_dev.ok)


def test_fusion_on_real_faces_printed_photo_against_live_frames(mini_dev: DevEmbeddings) -> None:
    d = mini_dev.subset(mini_dev.ok)
    people = [im.person for im in d.images]
    id_like = [im.source == "nuaa_spoof_print" for im in d.images]
    trials = draw_trials(
        people, [im.group.value for im in d.images], max_k=3, per_person=3, seed=0, id_like=id_like
    )
    nuaa = [t for t in trials if t.person == "0001_nuaa"]
    assert nuaa and all(d.images[t.reference].source == "nuaa_spoof_print" for t in nuaa)
    for rule in ("template", "mean"):
        s = fusion_scores(d.plain, trials, k=3, rule=rule)["east_asian"]
        assert len(s.impostor) > 0 and s.genuine.mean() > s.impostor.mean()
    t = trials[0]
    single = [float(d.plain[f] @ d.plain[t.reference]) for f in t.frames]
    assert min(single) <= fused_score(d.plain[t.reference], d.plain[list(t.frames)]) <= 1.0


def test_adaptation_trained_on_some_people_keeps_others_apart(mini_dev: DevEmbeddings) -> None:
    d = mini_dev.subset(mini_dev.ok)
    people = np.array([im.person for im in d.images])
    names = sorted(set(people.tolist()))
    train = np.isin(people, names[::2])
    ad = train_adaptation(
        d.plain[train], people[train], embedder=d.embedder, embedder_version=d.embedder_version, shrinkage=0.5
    )
    y = adapt(ad, d.plain[~train])
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-5)
    s = y @ y.T
    same = people[~train][:, None] == people[~train][None, :]
    off = ~np.eye(len(y), dtype=bool)
    assert s[same & off].mean() > s[~same].mean() + 0.1


def test_low_quality_capture_scores_lower_quality(faces_dir: Path) -> None:
    import cv2

    from simkyc import bootstrap
    from simkyc.core.images import decode_image

    pipe = bootstrap.base_face_pipeline()
    image = decode_image((faces_dir / "lfw/images/John_Bolton/John_Bolton_0003.jpg").read_bytes())
    small = cv2.resize(cv2.GaussianBlur(image, (0, 0), 2.0), (90, 90))
    good, bad = pipe.locate(image).quality, pipe.locate(np.ascontiguousarray(small)).quality

    def q(r: QualityReport) -> float:
        return float(
            quality_score(
                face_px=[r.face_px], sharpness=[r.sharpness], brightness=[r.brightness], yaw_deg=[r.yaw_deg]
            )[0]
        )

    assert q(bad) < q(good)


def _tiny_onnx(path: Path) -> None:
    """A 32x32 RGB -> 16-d 'embedder': flatten and a fixed random projection (seeded)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(3 * 32 * 32, 16)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 16])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_calibrate_your_own_onnx_model_in_one_command(
    mini_faces: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simkyc.cli import app
    from simkyc.config import get_settings

    model = tmp_path / "tiny.onnx"
    _tiny_onnx(model)
    out = tmp_path / "cal.json"
    monkeypatch.setenv("SIMKYC_HOME", str(home))
    get_settings.cache_clear()
    args = ["eval", "calibrate-model", str(model), "--name", "tiny", "--input-size", "32"]
    result = CliRunner().invoke(app, [*args, "--faces", str(mini_faces), "--output", str(out)])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    cal = json.loads(out.read_text())
    assert cal["embedder"] == "tiny" and len(cal["embedder_version"]) == 12
    point = cal["operating_points"]["1e-2"]
    assert -1.0 <= point["threshold"] <= 1.0 and point["impostor_comparisons"] >= 100
    assert set(cal["per_group"]["1e-2"]) == {"east_asian", "other"}
    assert all(g["fmr"] <= 1e-2 for g in cal["per_group"]["1e-2"].values())
    bad = CliRunner().invoke(app, ["eval", "calibrate-model", str(tmp_path / "none.onnx"), "--name", "x"])
    assert bad.exit_code == 2 and "MODEL_MISSING" in bad.output


def _eval_command(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """`simkyc eval ARGS` with the test's home (its dev-embedding cache); must exit 0."""
    from simkyc.cli import app
    from simkyc.config import get_settings

    monkeypatch.setenv("SIMKYC_HOME", str(home))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["eval", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result


def test_adapt_command_writes_a_loadable_versioned_artefact(
    mini_faces: Path, home: Path, mini_dev: DevEmbeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "adaptation.json"
    result = _eval_command(home, monkeypatch, "adapt", "--faces", str(mini_faces), "--output", str(out))
    ad = Adaptation.from_dict(json.loads(out.read_text()))
    ad.check_embedder(mini_dev.embedder, mini_dev.embedder_version)
    assert ad.version in result.output and "simkyc eval calibrate" in result.output


def test_eval_calibrate_holds_every_group_at_the_target_with_the_adaptation_out_of_fold(
    mini_faces: Path, home: Path, mini_dev: DevEmbeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simkyc import bootstrap

    out = tmp_path / "calibration.json"
    args = ["--faces", str(mini_faces), "--output", str(out), "--folds", "2"]  # the mini set has 11 people
    _eval_command(home, monkeypatch, "calibrate", "--legacy", *args)
    cal = json.loads(out.read_text())
    pipe = bootstrap.legacy_face_pipeline()
    assert (cal["embedder"], cal["embedder_version"]) == (pipe.embedder_name, pipe.embedder_version)
    assert "refitted on the other 1 of 2" in cal["data"] and cal["tta"] == "flip"
    assert cal["per_group"] and set(cal["per_group"]) <= set(cal["operating_points"])
    for key, groups in cal["per_group"].items():
        assert set(groups) == {"east_asian", "other"}
        assert all(g["fmr"] <= float(key) for g in groups.values())
        assert cal["operating_points"][key]["threshold"] == max(g["own_threshold"] for g in groups.values())
    # the registration's comparison (ID photo vs the session's best frames averaged) has its own points
    assert cal["fused_frames"] == LivenessConfig().best_frames and cal["fused_operating_points"]
    for key, groups in cal["per_group_fused"].items():
        assert all(g["fmr"] <= float(key) for g in groups.values())


def test_calibrate_of_the_fused_default_refits_its_maps_out_of_fold(
    mini_faces: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simkyc import bootstrap

    out = tmp_path / "calibration.json"
    _eval_command(
        home, monkeypatch, "calibrate", "--faces", str(mini_faces), "--output", str(out), "--folds", "2"
    )
    cal = json.loads(out.read_text())
    pipe = bootstrap.face_pipeline()
    assert (cal["embedder"], cal["embedder_version"]) == (pipe.embedder_name, pipe.embedder_version)
    assert "refitted on the other 1 of 2" in cal["data"] and len(cal["per_fold"]) == 2
    for points, per_group in (
        ("operating_points", "per_group"),
        ("fused_operating_points", "per_group_fused"),
    ):
        for key, groups in cal[per_group].items():
            assert all(g["fmr"] <= float(key) for g in groups.values())
            assert cal[points][key]["threshold"] == max(g["own_threshold"] for g in groups.values())


def test_shipped_default_files_fit_together() -> None:
    """fusion.json, the adaptations and calibration.json agree: else re-run `eval fuse`, `eval calibrate`."""
    from simkyc import bootstrap

    fusion = bootstrap.fusion_spec()
    for member in fusion["members"]:
        ad = bootstrap.face_adaptation(bootstrap.member_embedder(member["embedder"]))
        assert ad is not None and ad.version == member["adaptation"]["version"] and ad.matrix is None
    cal = bootstrap.calibration()  # raises when it was made for another embedder than the default one
    assert cal.embedder == fusion["name"] == bootstrap.face_pipeline().embedder_name
    assert bootstrap.current_generation() == (fusion["name"], bootstrap.face_pipeline().embedder.dim)
    for key in ("1e-2", "1e-3", "1e-4"):
        assert all(g["fmr"] <= float(key) for g in cal.extra["per_group"][key].values())
        assert all(g["fmr"] <= float(key) for g in cal.extra["per_group_fused"][key].values())


def test_legacy_adaptation_fits_the_legacy_embedder_and_spreads_east_asian_faces(
    mini_dev: DevEmbeddings,
) -> None:
    """If this fails after a dlib change, re-run `simkyc eval adapt` and `simkyc eval calibrate --legacy`."""
    from simkyc import bootstrap

    ad = bootstrap.face_adaptation(bootstrap.base_embedder())
    assert ad is not None and ad.name == "nap"
    cal = bootstrap.legacy_calibration()  # raises when it was made for another embedder
    assert cal.embedder == "dlib-resnet-v1+nap+flip" and cal.embedder_version.endswith(ad.version)
    for key in ("1e-3", "1e-4"):
        assert all(g["fmr"] <= float(key) for g in cal.extra["per_group"][key].values())
    d = mini_dev.subset(mini_dev.ok & np.array([im.group.value == "east_asian" for im in mini_dev.images]))
    people = np.array([im.person for im in d.images])
    same = people[:, None] == people[None, :]
    off = ~np.eye(len(people), dtype=bool)

    def separation(x: np.ndarray) -> float:
        s = x @ x.T
        return float((s[same & off].mean() - s[~same].mean()) / s[~same].std())

    assert separation(adapt(ad, d.plain)) > separation(d.plain)
