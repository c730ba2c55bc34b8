"""`simkyc id-check`, `id-ocr` and `mrz`: exit codes, masked output, JSON."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from simkyc.cli import app
from simkyc.core.documents import chip_record_json
from simkyc.errors import InputError
from simkyc.eval.cards import LEVELS, degrade, find_cjk_font, random_fields, render_back, render_front

runner = CliRunner()


def test_id_check_valid_number_is_masked() -> None:
    result = runner.invoke(app, ["id-check", "11010519491231002X", "--today", "2026-11-22"])
    assert result.exit_code == 0, result.output
    assert "110105********002X" in result.output and "11010519491231002X" not in result.output
    assert "朝阳区" in result.output


def test_id_check_json_and_retired_region() -> None:
    result = runner.invoke(app, ["id-check", "110103491231002", "--json", "--today", "2026-11-22"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["converted_from_15"] and data["region_retired"] and data["sex"] == "F"


def test_id_check_bad_checksum_exit_1() -> None:
    result = runner.invoke(app, ["id-check", "110105194912310021", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["reasons"] == ["ID_NUMBER_CHECKSUM"]


def test_id_check_needs_number_or_record() -> None:
    assert runner.invoke(app, ["id-check"]).exit_code == 2


def test_id_check_record(tmp_path: Path) -> None:
    path = tmp_path / "chip.json"
    path.write_text(
        chip_record_json(
            name="张三", sex="1", birth_date=dt.date(1949, 12, 31), id_number="11010519491231002X",
            valid_from=dt.date(2015, 1, 1), valid_until=dt.date(2035, 1, 1),
        ),
        encoding="utf-8",
    )  # fmt: skip
    result = runner.invoke(app, ["id-check", "--record", str(path), "--json", "--today", "2026-11-22"])
    assert result.exit_code == 1  # sex "1" (male) disagrees with the number's even sequence
    assert json.loads(result.output)["reasons"] == ["ID_FIELDS_INCONSISTENT"]
    path.write_text("{broken", encoding="utf-8")
    result = runner.invoke(app, ["id-check", "--record", str(path)])
    assert result.exit_code == 2 and "ID_RECORD_INVALID" in result.output


@pytest.mark.slow
def test_id_ocr_on_a_rendered_card(tmp_path: Path, faces_dir: Path) -> None:
    try:
        find_cjk_font()
    except InputError:
        pytest.skip("no Noto CJK font: apt-get install fonts-noto-cjk")
    face_path = sorted((faces_dir / "asian_celeb_nz0001na" / "sample_images").rglob("*.jpg"))[0]
    face = np.asarray(PILImage.open(face_path).convert("RGB"), dtype=np.uint8)
    fields = random_fields(random.Random(7), today=dt.date(2026, 11, 22))
    front, back = tmp_path / "front.jpg", tmp_path / "back.jpg"
    PILImage.fromarray(degrade(render_front(fields, face), LEVELS[1], seed=1)).save(front)
    PILImage.fromarray(degrade(render_back(fields), LEVELS[1], seed=2)).save(back)
    portrait = tmp_path / "portrait.png"
    args = [
        "id-ocr",
        str(front),
        str(back),
        "--json",
        "--today",
        "2026-11-22",
        "--portrait-out",
        str(portrait),
    ]
    result = runner.invoke(app, args)
    data = json.loads(result.output)
    assert (
        data["name"] == fields.name
        and data["id_number"] == fields.id_number[:6] + "*" * 8 + fields.id_number[-4:]
    )
    assert data["valid_from"] == fields.valid_from.isoformat()
    assert result.exit_code == (1 if data["age"] < 16 else 0)
    assert portrait.is_file() and PILImage.open(portrait).size[0] > 100


def test_mrz_unreadable_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not an image")
    result = runner.invoke(app, ["mrz", str(bad)])
    assert result.exit_code == 2 and "IMAGE_UNREADABLE" in result.output
