"""`simkyc serve --workers N`: N worker processes on consecutive ports, supervised.

The parent does the once-only work first (key ring, migrations, demo accounts, the search key), so
N workers starting together never race to create them; then it starts worker i on `port + i` with
`SIMKYC_WORKER_NAME=w<i>` (its own index directory, its name in /readyz) and keeps them running: a
worker that dies is started again (a second later, backing off to 30 s while it keeps dying), and
SIGTERM or Ctrl-C stops them all (SIGTERM, then SIGKILL after `grace_s`).

The workers share everything that matters through PostgreSQL (or SQLite on one host) and Redis,
so a reverse proxy may send any request to any of them (`deploy/README.md`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from simkyc.cli._common import console

__all__ = ["Supervisor", "worker_command"]


def worker_command(host: str, port: int) -> list[str]:
    """The command of one worker: this interpreter running `simkyc serve` on one port."""
    return [
        sys.executable,
        "-c",
        "from simkyc.cli import app; app()",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
    ]


@dataclass
class _Worker:
    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    restarts: int = 0


@dataclass
class Supervisor:
    """Start, watch and stop N workers (see the module docstring)."""

    host: str
    port: int
    workers: int
    grace_s: float = 20.0
    _pool: list[_Worker] = field(default_factory=list)
    _stopping: bool = False

    def _spawn(self, w: _Worker) -> None:
        env = {
            **os.environ,
            "SIMKYC_WORKER_NAME": w.name,
            "SIMKYC_HOST": self.host,
            "SIMKYC_PORT": str(w.port),
        }
        w.proc = subprocess.Popen(worker_command(self.host, w.port), env=env)
        w.started = time.monotonic()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self._pool = [_Worker(f"w{i}", self.port + i) for i in range(self.workers)]
        for w in self._pool:
            self._spawn(w)
            console.print(
                f"worker {w.name}: http://{self.host}:{w.port}/ (pid {w.proc.pid if w.proc else '-'})"
            )
        sys.stdout.flush()
        try:
            while not self._stopping:
                self._watch()
                time.sleep(0.25)
        finally:
            self._stop_all()
        return 0

    def _watch(self) -> None:
        now = time.monotonic()
        for w in self._pool:
            if w.proc is not None and w.proc.poll() is not None:
                code = w.proc.returncode
                lived = now - w.started
                w.backoff = 1.0 if lived > 60 else min(30.0, w.backoff * 2)
                w.restart_at = now + w.backoff
                w.proc = None
                console.print(
                    f"worker {w.name} exited ({code}); restarting in {w.backoff:.0f} s", highlight=False
                )
                sys.stdout.flush()
            if w.proc is None and now >= w.restart_at:
                w.restarts += 1
                self._spawn(w)

    def _stop_all(self) -> None:
        live = [w.proc for w in self._pool if w.proc is not None and w.proc.poll() is None]
        for p in live:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
