"""Browser test kit: `simkyc serve` started as a newcomer would (fresh home, first-run accounts parsed
from its output), Debian's Chromium driven by Playwright with a fake camera fed from a real clip
converted to y4m. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import base64
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SIMKYC_CHROMIUM", "/usr/bin/chromium"))
SHOTS = REPO / "artifacts" / "screenshots"
CLIPS = "liveness_pyimagesearch_demo_ZubairCracksCode"
CHALLENGE_SEED = 17  # turn right, then turn left: what real.mov shows


@dataclass(frozen=True)
class Server:
    url: str
    accounts: dict[str, str]  # user name -> one-time password
    home: Path
    log: Path


def free_port() -> int:
    """A free loopback port; from SIMKYC_TEST_PORTS ("8500-8599") when set, so concurrent runs share none."""
    span = os.environ.get("SIMKYC_TEST_PORTS")
    candidates = [0]
    if span:
        lo, hi = (int(x) for x in span.split("-"))
        candidates = random.sample(range(lo, hi + 1), hi - lo + 1)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in {span}")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, timeout=300)


@pytest.fixture(scope="session")
def browser_tools() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (scripts/install.sh --dev installs it)")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed (scripts/install.sh --dev installs it)")
    pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def clips(browser_tools: None, videos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """real.mov and fake.mp4 as 640x360 y4m for Chromium's fake camera, plus a portrait frame of real.mov."""
    out = tmp_path_factory.mktemp("clips")
    src = videos_dir / CLIPS
    clips = {}
    for name, file in (("real", "real.mov"), ("fake", "fake.mp4")):
        clips[name] = out / f"{name}.y4m"
        _ffmpeg(
            "-i",
            str(src / file),
            "-vf",
            "scale=640:360",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "yuv4mpegpipe",
            str(clips[name]),
        )
    clips["portrait"] = out / "portrait.jpg"
    _ffmpeg(
        "-ss",
        "0.4",
        "-i",
        str(src / "real.mov"),
        "-frames:v",
        "1",
        "-vf",
        "crop=420:520:270:10",
        str(clips["portrait"]),
    )
    return clips


def chip_record(path: Path, *, id_number: str, portrait: Path) -> Path:
    """A card reader's JSON record (simkyc-chip-record/1) with the given number and portrait."""
    import json

    record = {
        "format": "simkyc-chip-record/1",
        "name": "张伟",
        "sex": "1" if int(id_number[16]) % 2 else "2",
        "ethnicity": "01",
        "birth_date": id_number[6:14],
        "address": "北京市朝阳区建国路1号",
        "id_number": id_number,
        "issuer": "北京市公安局朝阳分局",
        "valid_from": "20200101",
        "valid_until": "长期",
        "portrait": {"format": "jpeg", "data": base64.b64encode(portrait.read_bytes()).decode()},
    }
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def server(browser_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`simkyc serve` on a fresh home, as a newcomer runs it; first-run passwords read from its output."""
    with run_server(tmp_path_factory.mktemp("simkyc-home")) as running:
        yield running


@contextmanager
def run_server(home: Path, **extra_env: str) -> Iterator[Server]:
    """Start `simkyc serve` on `home` (extra SIMKYC_* settings in `extra_env`); stop it afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "SIMKYC_HOME": str(home),
        "SIMKYC_PORT": str(port),
        "SIMKYC_CHALLENGE_TEST_SEED": str(CHALLENGE_SEED),
        "COLUMNS": "200",
        **extra_env,
    }
    env.pop("SIMKYC_DATABASE_URL", None)
    log = home / "serve.log"
    exe = Path(sys.executable).with_name("simkyc")
    with log.open("w") as fh:
        proc = subprocess.Popen([str(exe), "serve"], env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"simkyc serve did not start:\n{log.read_text()}")
            time.sleep(0.3)
        text = log.read_text()
        accounts = dict(re.findall(r"^\s+(?:admin|clerk|supervisor|auditor)\s+(\S+)\s+(\S+)\s*$", text, re.M))
        assert set(accounts) == {"admin", "demo-clerk", "demo-supervisor", "demo-auditor"}, text
        assert url in text
        yield Server(url, accounts, home, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def sign_in(page: Any, server: Server, user: str, password: str | None = None) -> None:
    """Fill and send the login form (the page must show it); the account's first-run password by default."""
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", password or server.accounts[user])
    page.click("#login-form button[type=submit]")


def launch(playwright: object, camera: Path) -> object:
    """Headless Debian Chromium with the fake camera playing `camera` (a y4m file) in a loop."""
    return playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=str(CHROMIUM),
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ],
    )


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
