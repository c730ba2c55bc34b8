"""The deployment recipe on this machine, for the multi-worker tests: `scripts/cluster.sh` with two
workers behind nginx on PostgreSQL (a fresh schema) and Redis (a fresh key prefix), plus the helpers
the tests drive it with (sign-in, intake forms, streaming a clip to a chosen worker)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from simkyc.core.documents.id_number import check_character
from simkyc.store.testing import pg_reachable, pg_schema_url

REPO = Path(__file__).resolve().parents[2]
SEED = 17  # the challenge real.mov answers: turn right, then turn left
POLICY = """version = "cluster-test-1"
[quota]
per_operator = 3
new_number_window_hours = 0
"""


def redis_url() -> str:
    return os.environ.get("SIMKYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable() -> str | None:
    """Why the recipe cannot run here (for pytest.skip), or None."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed (scripts/install.sh --dev installs Debian's)"
    reason = pg_reachable()
    if reason:
        return reason
    try:
        import redis

        redis.Redis.from_url(redis_url(), socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis at {redis_url()} unreachable: {type(exc).__name__}"
    return None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> int:
    """A base port with `count` free ports from it (SIMKYC_TEST_PORT_BASE, else within 8300-8399)."""
    first = int(os.environ.get("SIMKYC_TEST_PORT_BASE", "8340"))
    for base in [*range(first, 8400 - count, count), *range(8300, first, count)]:
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free ports in 8300-8399")


@dataclass
class Cluster:
    """A running recipe: the front door, each worker, the accounts, where its state lives."""

    proxy: str
    workers: list[str]
    home: Path
    database_url: str
    redis_prefix: str
    accounts: dict[str, str]
    env: dict[str, str]

    def headers(self, name: str, via: str | None = None) -> dict[str, str]:
        r = httpx.post(
            f"{via or self.proxy}/api/auth/login", json={"username": name, "password": self.accounts[name]}
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def ready(self, worker: int) -> dict[str, Any]:
        out: dict[str, Any] = httpx.get(f"{self.workers[worker]}/readyz", timeout=5).json()
        return out

    def database(self) -> Any:
        from simkyc.store import load_keyring, open_database

        keys = load_keyring(env_json=None, key_file=self.home / "keys.json")
        return open_database(self.database_url, keys, run_migrations=False)


@contextmanager
def running_cluster(tmp: Path, *, workers: int = 2) -> Iterator[Cluster]:
    """Start the recipe (one start for the whole module), stop it and clean up afterwards."""
    base = free_ports(workers + 1)
    prefix = f"t{secrets.token_hex(6)}"
    policy = tmp / "policy.toml"
    policy.write_text(POLICY)
    with pg_schema_url(prefix="cluster") as url:
        env = {
            **os.environ,
            "SIMKYC_HOME": str(tmp / "home"),
            "SIMKYC_DATABASE_URL": url,
            "SIMKYC_REDIS_URL": redis_url(),
            "SIMKYC_REDIS_PREFIX": prefix,
            "SIMKYC_WORKERS": str(workers),
            "SIMKYC_PROXY_LISTEN": f"127.0.0.1:{base}",
            "SIMKYC_WORKER_PORT": str(base + 1),
            "SIMKYC_CHALLENGE_TEST_SEED": str(SEED),
            "SIMKYC_POLICY_FILE": str(policy),
            "SIMKYC_PLATFORM_RATE_PER_S": "100000",
            "SIMKYC_PLATFORM_BURST": "100000",
            "SIMKYC_CAPTURES_PER_CLERK": "8",  # the quota race holds several captures open at once
            "COLUMNS": "200",
        }
        script = REPO / "scripts" / "cluster.sh"
        started = subprocess.run([str(script), "start"], env=env, capture_output=True, text=True, timeout=300)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            log = (tmp / "home" / "log" / "simkyc.log").read_text()
            accounts = dict(
                re.findall(r"^\s+(?:admin|clerk|supervisor|auditor)\s+(\S+)\s+(\S+)\s*$", log, re.M)
            )
            yield Cluster(
                proxy=f"http://127.0.0.1:{base}",
                workers=[f"http://127.0.0.1:{base + 1 + i}" for i in range(workers)],
                home=tmp / "home",
                database_url=url,
                redis_prefix=prefix,
                accounts=accounts,
                env=env,
            )
        finally:
            subprocess.run([str(script), "stop"], env=env, capture_output=True, timeout=120)
            import redis

            client = redis.Redis.from_url(redis_url())
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)


_serial = iter(range(1, 1000))


def id_number() -> str:
    """A fresh valid resident ID number."""
    first17 = f"11010519900307{500 + next(_serial):03d}"
    return first17 + check_character(first17)


def intake(number: str, phone: str) -> dict[str, str]:
    fields = {
        "name": "张三",
        "id_number": number,
        "sex": "M" if int(number[16]) % 2 else "F",
        "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
        "valid_from": "2020-01-01",
        "valid_until": None,
        "phone_number": phone,
        "document_source": "chip",
        "consent": True,
    }
    return {"fields": json.dumps(fields)}


def open_registration(
    url: str, headers: dict[str, str], portrait: bytes, number: str, phone: str
) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/api/registrations",
        headers=headers,
        data=intake(number, phone),
        files={"portrait": ("p.jpg", portrait, "image/jpeg")},
        timeout=120,
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def batches(
    frames: list[tuple[bytes, float]], issued_at: float, size: int = 10
) -> list[list[tuple[bytes, float]]]:
    """The clip as the page sends it: batches of `size`, timed just after the challenge was issued."""
    t0 = issued_at + 0.3
    timed = [(jpg, t0 + off) for jpg, off in frames]
    return [timed[k : k + size] for k in range(0, len(timed), size)]


def send(
    url: str, headers: dict[str, str], reg_id: str, batch: list[tuple[bytes, float]], seq: int
) -> httpx.Response:
    return httpx.post(
        f"{url}/api/registrations/{reg_id}/frames",
        headers=headers,
        data={"timestamps": json.dumps([t for _, t in batch]), "seq": str(seq)},
        files=[("frames", (f"{j}.jpg", jpg, "image/jpeg")) for j, (jpg, _) in enumerate(batch)],
        timeout=120,
    )


def finish(url: str, headers: dict[str, str], reg_id: str) -> httpx.Response:
    return httpx.post(f"{url}/api/registrations/{reg_id}/finish", headers=headers, timeout=120)
