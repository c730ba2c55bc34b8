"""`simkyc verify` and `simkyc eval` end to end through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simkyc.cli import app

runner = CliRunner()

OBAMA = "face_recognition/examples/knn_examples/train/obama/obama.jpg"
OBAMA2 = "face_recognition/examples/knn_examples/train/obama/obama2.jpg"
BIDEN = "face_recognition/examples/knn_examples/train/biden/biden.jpg"


def test_same_person_exits_0(faces_dir: Path) -> None:
    result = runner.invoke(app, ["verify", str(faces_dir / OBAMA), str(faces_dir / OBAMA2)])
    assert result.exit_code == 0, result.output
    assert "MATCH" in result.output and "threshold" in result.output and "embed" in result.output


def test_different_people_exit_1_with_json(faces_dir: Path) -> None:
    result = runner.invoke(
        app, ["verify", str(faces_dir / OBAMA), str(faces_dir / BIDEN), "--json", "--fmr", "1e-2"]
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    assert payload["decision"] == "NO MATCH" and payload["score"] < payload["threshold"]
    assert payload["reasons"] == ["FACE_MISMATCH"]
    assert payload["operating_point"]["fmr"] == 0.01
    assert {"detect", "align", "embed", "decode"} <= set(payload["timings_ms"])


def test_not_an_image_exits_2_with_one_line(tmp_path: Path, faces_dir: Path) -> None:
    junk = tmp_path / "id.jpg"
    junk.write_bytes(b"definitely not a jpeg")
    result = runner.invoke(app, ["verify", str(junk), str(faces_dir / OBAMA)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())  # rich wraps long lines at the runner's 80 columns
    assert "IMAGE_UNREADABLE" in out and "ID image" in out
    assert "Traceback" not in out


def test_no_face_exits_2(tmp_path: Path, faces_dir: Path) -> None:
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (120, 120, 120)).save(blank)
    result = runner.invoke(app, ["verify", str(faces_dir / OBAMA), str(blank)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "NO_FACE" in out and "live image" in out


def test_unknown_operating_point_exits_2(faces_dir: Path) -> None:
    result = runner.invoke(app, ["verify", str(faces_dir / OBAMA), str(faces_dir / OBAMA2), "--fmr", "0.3"])
    assert result.exit_code == 2 and "operating point" in " ".join(result.output.split())


@pytest.fixture()
def tiny_pairs(tmp_path: Path) -> Path:
    csv = tmp_path / "pairs.csv"
    csv.write_text(
        f"img_a,img_b,same,source\n{OBAMA},{OBAMA2},1,fr\n{OBAMA},{BIDEN},0,fr\n{OBAMA2},{BIDEN},0,fr\n"
    )
    return csv


def test_eval_writes_report_and_det(tiny_pairs: Path, tmp_path: Path, faces_dir: Path) -> None:
    out = tmp_path / "out"
    args = [
        "eval",
        str(tiny_pairs),
        "--root",
        str(faces_dir),
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "c.db"),
    ]
    result = runner.invoke(app, [*args, "--condition", "chip"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rep = report["systems"]["simkyc"]
    assert report["condition"] == "chip"
    assert rep["n_genuine"] == 1 and rep["n_impostor"] == 2 and "eer" in rep
    assert rep["operating_points"]["1e-3"]["impostor_comparisons"] == 2
    assert not rep["operating_points"]["1e-3"]["reliable"]
    assert set(rep["by_source"]) == {"fr"}
    assert (out / "det.png").stat().st_size > 1000
    again = runner.invoke(
        app, ["eval", "run", *args[1:], "--condition", "chip"]
    )  # explicit subcommand, cached
    assert again.exit_code == 0, again.output


def test_eval_bad_pairs_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2 and "missing columns" in " ".join(result.output.split())
