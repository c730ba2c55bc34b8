"""CLI conventions: every command, given bad input, exits 2 with one `error:` line and no traceback;
piped tables are full width; third-party log lines stay out unless --verbose; admin accounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from simkyc.cli import app
from simkyc.cli._entry import NOISE, run
from simkyc.config import get_settings

EXE = Path(sys.executable).with_name("simkyc")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIMKYC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SIMKYC_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _leaves(cmd: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        return [prefix]
    return [leaf for name, sub in sorted(subs.items()) for leaf in _leaves(sub, (*prefix, name))]


def _bad_inputs(tmp: Path) -> dict[tuple[str, ...], list[str]]:
    """For every command, an input a newcomer could plausibly give that it must refuse."""
    png = tmp / "one.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))  # a PNG signature, then nothing decodable
    missing = str(tmp / "missing.jpg")
    return {
        ("admin", "create-user"): ["admin", "create-user", "bob", "--role", "wizard"],
        ("admin", "reset-password"): ["admin", "reset-password", "nobody"],
        ("audit", "checkpoint"): ["audit", "checkpoint", "extra"],
        ("audit", "verify"): ["audit", "verify", "extra"],
        ("eval", "accuracy"): ["eval", "accuracy", "--faces", str(tmp)],
        ("eval", "adapt"): ["eval", "adapt", "--faces", str(tmp)],
        ("eval", "calibrate"): ["eval", "calibrate", "--faces", str(tmp)],
        ("eval", "calibrate-model"): [
            "eval",
            "calibrate-model",
            str(png),
            "--name",
            "x",
            "--input-size",
            "112",
        ],
        ("eval", "embed-dev"): ["eval", "embed-dev", "--faces", str(tmp)],
        ("eval", "fuse"): ["eval", "fuse", "--faces", str(tmp)],
        ("eval", "run"): ["eval", str(png)],
        ("id-check",): ["id-check", "--record", str(png)],
        ("id-ocr",): ["id-ocr", str(png)],
        ("index", "check"): ["index", "check", "extra"],
        ("index", "rebuild"): ["index", "rebuild", "extra"],
        ("index", "rotate-key"): ["index", "rotate-key"],
        ("index", "stats"): ["index", "stats", "extra"],
        ("keys", "rotate"): ["keys", "rotate", "--grace", "soon"],
        ("keys", "show"): ["keys", "show", "extra"],
        ("liveness",): ["liveness", str(png)],
        ("models",): ["models", "extra"],
        ("mrz",): ["mrz", missing],
        ("reader", "read"): ["reader", "read", "--device", str(tmp / "ttyUSB9")],
        ("reader", "serve"): ["reader", "serve", "--device", "/dev/ttyUSB0", "--listen", "ftp://x"],
        ("reader", "simulate"): ["reader", "simulate", "--record", str(png)],
        ("register", "cancel"): ["register", "cancel", "123", "--as", "nobody"],
        ("register", "check"): ["register", "check", "--name", "x", "--id-number", "1", "--phone", "2"],
        ("register", "frames"): ["register", "frames", "no-such-id", str(png), "--clerk", "nobody"],
        ("register", "presence"): [
            "register",
            "presence",
            "--id-number",
            "1",
            "--name",
            "x",
            "--outlet",
            "nowhere",
            "--clerk",
            "nobody",
        ],
        ("register", "report"): ["register", "report", "123", "--as", "nobody"],
        ("register", "reverify"): ["register", "reverify", "123", "--outlet", "nowhere", "--clerk", "nobody"],
        ("register", "review"): ["register", "review", "no-such-id", "--supervisor", "nobody", "--approve"],
        ("register", "start"): [
            "register",
            "start",
            "--id-record",
            str(png),
            "--phone",
            "13800000001",
            "--outlet",
            "DEMO-001",
            "--clerk",
            "demo-clerk",
            "--consent",
        ],
        ("register", "status"): ["register", "status", "no-such-id"],
        ("retention", "run"): ["retention", "run", "extra"],
        ("serve",): ["serve", "--port", "eighty"],
        ("verify",): ["verify", str(png), missing],
    }


def test_every_command_refuses_bad_input_with_exit_2_and_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = typer.main.get_command(app)
    table = _bad_inputs(home)
    assert set(_leaves(command)) == set(table), "add the new command's bad input to this table"
    failures = []
    for path, argv in table.items():
        code = run(command, argv)
        out, err = capsys.readouterr()
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if code != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in out + err:
            failures.append(f"{' '.join(path)}: exit {code}, stderr {err!r}")
    assert not failures, "\n".join(failures)


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    command = typer.main.get_command(app)
    assert run(command, ["no-such-command"]) == 2
    assert (
        capsys.readouterr().err.strip() == "error: No such command 'no-such-command'. (see 'simkyc --help')"
    )
    assert run(command, ["verify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Missing argument" in err


def test_binary_records_are_refused_not_tracebacks(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = typer.main.get_command(app)
    png = home / "one.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    assert run(command, ["id-check", "--record", str(png)]) == 2
    assert capsys.readouterr().err.strip() == "error: ID_RECORD_INVALID: the record is not JSON"
    assert run(command, ["liveness", str(png)]) == 2
    assert "is a PNG image, not a video" in capsys.readouterr().err
    assert run(command, ["liveness", str(home)]) == 2
    assert "is a directory, not a video" in capsys.readouterr().err


def test_noise_filter_drops_library_lines_only() -> None:
    assert NOISE.match(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert NOISE.match(b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55e9156439c0] moov atom not found\n")
    assert NOISE.match(b"[ WARN:0@0.012] global cap_ffmpeg_impl.hpp (1234) open ...\n")
    assert NOISE.match(b"W0000 00:00:1733000000.123456   12345 inference_feedback_manager.cc:114] ...\n")
    assert not NOISE.match(b"error: NO_FACE: No face was found. (live image)\n")
    assert not NOISE.match(b"Traceback (most recent call last):\n")


def _simkyc(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "SIMKYC_VERBOSE")}
    env["SIMKYC_HOME"] = str(home)
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=env, timeout=300)


def test_piped_models_table_keeps_every_checksum(tmp_path: Path) -> None:
    res = _simkyc("models", home=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = json.loads(_simkyc("models", "--json", home=tmp_path).stdout)
    for row in rows:  # a piped table is as wide as its content: nothing wrapped or cut
        assert any(row["sha256"] in line and row["name"] in line for line in res.stdout.splitlines())
    assert res.stderr == ""


def test_no_third_party_noise_unless_verbose(tmp_path: Path, videos_dir: Path) -> None:
    """A real liveness run loads LiteRT (XNNPACK INFO line) and FFmpeg; only simkyc's lines remain."""
    clip = videos_dir / "liveness_pyimagesearch_demo_ZubairCracksCode" / "real.mov"  # one continuous take
    challenge = "blink,turn_right,turn_left"  # what the clip shows
    quiet = _simkyc("liveness", str(clip), "--challenge", challenge, home=tmp_path)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stderr == "", quiet.stderr
    assert "frames_with_face" in quiet.stdout and ".000" not in quiet.stdout  # counts print as integers
    loud = _simkyc(
        "--verbose", "liveness", str(clip), "--challenge", challenge, "--no-embedder", home=tmp_path
    )
    assert "XNNPACK" in loud.stderr
