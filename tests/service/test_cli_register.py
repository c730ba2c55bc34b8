"""The CLI flow without the web, in a fresh SIMKYC_HOME: start (chip record JSON) -> frames (the
real clip) -> status, audit verify, keys rotate, retention run, audit tamper -> exit 1."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from regkit import id_number, seed

from simkyc.core.documents.chip import chip_record_json
from simkyc.core.faces.types import Image
from simkyc.store import open_database
from simkyc.store.crypto import load_keyring

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("calibrated")]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIMKYC_HOME": str(home), "COLUMNS": "200"}
    env.pop("SIMKYC_DATABASE_URL", None)
    env.pop("SIMKYC_KEYS", None)
    return subprocess.run(
        [sys.executable, "-c", "from simkyc.cli import app; app()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_register_start_and_frames_from_the_command_line(
    tmp_path: Path, videos_dir: Path, holder_photo: Image, clip_seed: int
) -> None:
    home = tmp_path / "home"
    db = open_database(
        f"sqlite:///{home / 'simkyc.db'}", load_keyring(env_json=None, key_file=home / "keys.json")
    )
    seed(db)
    db.dispose()
    ok, png = cv2.imencode(".png", cv2.cvtColor(holder_photo, cv2.COLOR_RGB2BGR))
    assert ok
    number = id_number(7)
    import datetime as dt

    record = tmp_path / "card.json"
    record.write_text(
        chip_record_json(
            name="测试",
            sex="1" if int(number[16]) % 2 else "2",
            birth_date=dt.date(1990, 3, 7),
            id_number=number,
            valid_from=dt.date(2020, 1, 1),
            valid_until=None,
            portrait=("png", png.tobytes()),
        ),
        encoding="utf-8",
    )

    refused = _cli(
        home,
        "register",
        "start",
        "--id-record",
        str(record),
        "--phone",
        "13800000007",
        "--outlet",
        "BJ-001",
        "--clerk",
        "clerk1",
    )  # no --consent
    assert refused.returncode == 2 and "CONSENT_MISSING" in refused.stderr

    start = _cli(
        home,
        "register",
        "start",
        "--id-record",
        str(record),
        "--phone",
        "13800000007",
        "--outlet",
        "BJ-001",
        "--clerk",
        "clerk1",
        "--consent",
        "--test-seed",
        str(clip_seed),
    )
    assert start.returncode == 0, start.stderr
    reg_id = re.search(r"registration ([0-9a-f]{32})", start.stdout).group(1)  # type: ignore[union-attr]
    assert "blink -> turn_right" in start.stdout and number not in start.stdout

    frames = _cli(
        home,
        "register",
        "frames",
        reg_id,
        str(videos_dir / "liveness_pyimagesearch_demo_ZubairCracksCode/real.mov"),
        "--clerk",
        "clerk1",
    )
    assert frames.returncode == 0, frames.stdout + frames.stderr
    assert "decision APPROVED" in frames.stdout and "FACE_MATCH" in frames.stdout

    status = _cli(home, "register", "status", reg_id)
    assert '"APPROVED"' in status.stdout and number not in status.stdout
    report = _cli(home, "register", "report", number, "--as", "clerk1")  # no customer present: masked
    assert "138****0007" in report.stdout and "13800000007" not in report.stdout
    report = _cli(home, "register", "report", number, "--as", "super1")
    assert "13800000007" in report.stdout and "active" in report.stdout
    assert (
        _cli(
            home, "register", "check", "--name", "测试", "--id-number", number, "--phone", "13800000007"
        ).stdout.strip()
        == "consistent"
    )

    rotate = _cli(home, "keys", "rotate", "--grace", "0")
    assert rotate.returncode == 0 and "retired k-" in rotate.stdout, rotate.stdout + rotate.stderr
    assert _cli(home, "register", "report", number, "--as", "super1").returncode == 0  # still decrypts
    assert "face_templates: 0" in _cli(home, "retention", "run").stdout

    verify = _cli(home, "audit", "verify")
    assert verify.returncode == 0 and "audit log OK" in verify.stdout
    with sqlite3.connect(home / "simkyc.db") as con:  # an insider edits one entry
        con.execute("UPDATE audit_entry SET actor = 'someone-else' WHERE seq = 2")
    broken = _cli(home, "audit", "verify")
    assert broken.returncode == 1 and "AUDIT_CHAIN_BROKEN: seq 2" in broken.stderr
