"""`simkyc serve --workers N`: several workers need Redis for what they share; without it the command
refuses with one line (exit 2) instead of starting workers that would disagree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_workers_without_redis_are_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMKYC_")}
    env["SIMKYC_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", "from simkyc.cli import app; app()", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "SIMKYC_REDIS_URL" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "simkyc.db").exists()  # refused before creating anything
