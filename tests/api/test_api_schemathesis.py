"""Schemathesis against a live `simkyc serve`: the coverage, fuzzing and stateful phases, with a clerk's
and an admin's session, must find 0 server errors, 0 response-schema violations and 0 undocumented
status codes (issue 14). Bounded: at most `MAX_EXAMPLES` generated cases per operation in the
fuzzing phase (the coverage phase adds its own boundary cases) and `MAX_TIME` seconds per run.
The counts of each run are printed (`pytest -s`).

Sign-out is left out of the sessions' runs (it would end the session under test: it is covered by
tests/api/test_api_findings.py), and the admin's account changes run last, on their own.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

MAX_EXAMPLES = 10
MAX_TIME = 240  # a hard bound per run (the runs take ~30 s each on the 2-core box)
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

pytestmark = pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed (dev extra)")


def _free_port() -> int:
    for port in range(8200, 8240):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 8200-8239")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A fresh `simkyc serve`: (base URL, first-run passwords by user name, its log file)."""
    home = tmp_path_factory.mktemp("schemathesis-home")
    log_path = home / "serve.log"
    port = _free_port()
    env = {
        **os.environ,
        "SIMKYC_HOME": str(home),
        "SIMKYC_PORT": str(port),
        "SIMKYC_CAPTURES_PER_CLERK": "1000",  # let the fuzzer reach the capture routes
        "SIMKYC_CAPTURES_PER_OUTLET": "1000",
        "COLUMNS": "200",
    }
    for name in ("SIMKYC_DATABASE_URL", "SIMKYC_REDIS_URL", "SIMKYC_KEYS"):
        env.pop(name, None)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from simkyc.cli import app; app()", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("simkyc serve did not start: " + log_path.read_text())
        text = log_path.read_text()
        accounts = dict(re.findall(r"^\s+(?:admin|clerk|supervisor|auditor)\s+(\S+)\s+(\S+)\s*$", text, re.M))
        yield base, accounts, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _token(base: str, username: str, password: str) -> str:
    r = httpx.post(base + "/api/auth/login", json={"username": username, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _schemathesis(
    base: str, tmp: Path, name: str, headers: dict[str, str], *filters: str
) -> dict[str, object]:
    report = tmp / f"{name}.json"
    argv = [
        str(SCHEMATHESIS),
        "run",
        base + "/api/openapi.json",
        "--phases",
        "coverage,fuzzing,stateful",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--seed",
        "14",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *filters,
    ]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=MAX_TIME)
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, object] = json.loads(report.read_text())
    ops, cases = result["operations"], result["test_cases"]
    assert isinstance(ops, dict) and isinstance(cases, dict)
    phases = result["phases"]
    assert isinstance(phases, dict)
    ran = sorted(k for k, v in phases.items() if v["status"] == "success")
    print(
        f"schemathesis {name}: {ops['tested']} operations tested, {cases['generated']} test cases, "
        f"{cases['with_failures']} with failures, phases {ran}"
    )
    assert result["failures"] == [] and result["errors"] == [], done.stdout[-6000:]
    assert done.returncode == 0, done.stdout[-6000:]
    return result


def test_schemathesis_finds_no_server_error_schema_violation_or_undocumented_status(
    served: tuple[str, dict[str, str], Path], tmp_path: Path
) -> None:
    base, accounts, log_path = served
    admin = _token(base, "admin", accounts["admin"])
    key = httpx.post(
        base + "/api/admin/keys",
        headers={"Authorization": f"Bearer {admin}"},
        json={"platform": "fuzz"},
        timeout=30,
    ).json()["token"]
    clerk = _token(base, "demo-clerk", accounts["demo-clerk"])
    runs = [
        _schemathesis(
            base,
            tmp_path,
            "clerk",
            {"Authorization": f"Bearer {clerk}", "X-API-Key": key},
            "--exclude-path",
            "/api/auth/logout",
        ),
        _schemathesis(
            base,
            tmp_path,
            "admin",
            {"Authorization": f"Bearer {admin}"},
            "--exclude-path",
            "/api/auth/logout",
            "--exclude-path",
            "/api/admin/users/{user_id}",
        ),
        _schemathesis(
            base,
            tmp_path,
            "admin-account-changes",
            {"Authorization": f"Bearer {admin}"},
            "--include-path",
            "/api/admin/users/{user_id}",
        ),
    ]
    total = sum(int(r["test_cases"]["generated"]) for r in runs)  # type: ignore[index]
    assert total > 1000
    assert "unhandled error" not in log_path.read_text()  # no 500 reached the log either
