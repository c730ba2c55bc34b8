"""Load on a running `simkyc serve` over loopback: the platform check and whole registrations.

    .venv/bin/python benchmarks/api_load.py                      # starts its own server on a temp home
    .venv/bin/python benchmarks/api_load.py --workers 1,2        # the recipe (nginx, PostgreSQL, Redis)
    .venv/bin/python benchmarks/api_load.py --checks 20000 --clients 32 --registrations 6

What it does, all against one fresh server process started exactly as a newcomer would
(`simkyc serve` on an empty SIMKYC_HOME, first-run passwords read from its output):

1. whole registrations, `--reg-clients` at a time: sign in as the demo clerk, open a registration
   (chip record with a portrait taken from the live clip), stream the clip's frames as JPEGs with
   capture timestamps in batches of 10 as the page does, finish, read the decision; p50/p99 seconds
   and registrations per second;
2. the platform check with `--clients` concurrent keep-alive connections on a minimal asyncio HTTP/1.1
   client (so the client costs little of the two cores): requests per second, p50/p99 latency, and
   errors (anything but HTTP 200); half the queries hit numbers bound in step 1;
3. the baseline, measured in the same run with the same client: `GET /healthz`, the cheapest
   request the server answers. The ratio platform/healthz is the cost of the check itself.

Bounded: each phase stops at its request count or `--seconds`, whichever comes first.
Target (issue 7): platform check >= 1,000 requests/s with p99 < 50 ms, zero errors.

With `--workers 1,2` the same phases run against the deployment recipe once per worker count, and the
scaling ratio and the duplicate-search freshness lag are printed (`benchmarks/cluster_load.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = (
    REPO.parent / "shared" / "data" / "videos" / "liveness_pyimagesearch_demo_ZubairCracksCode" / "real.mov"
)
SEED = 17  # challenge: turn right, then turn left (what real.mov shows)


@dataclass
class Phase:
    name: str
    latencies: list[float]
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))]


# --- server ------------------------------------------------------------------------------------


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _audited_checks(home: Path) -> int:
    """Platform checks recorded in the audit log (each answer is audited before it leaves, issue 14)."""
    import sqlite3

    with sqlite3.connect(f"file:{home / 'simkyc.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT details FROM audit_entry WHERE action = 'platform.check'").fetchall()
    return sum(int(json.loads(d)["count"]) for (d,) in rows)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    port = _free_port()
    env = {
        **os.environ,
        "SIMKYC_HOME": str(home),
        "SIMKYC_PORT": str(port),
        "SIMKYC_CHALLENGE_TEST_SEED": str(SEED),
        "SIMKYC_PLATFORM_RATE_PER_S": "1000000",
        "SIMKYC_PLATFORM_BURST": "1000000",
        "COLUMNS": "200",
    }
    log = (home / "serve.log").open("w")
    exe = Path(sys.executable).with_name("simkyc")
    proc = subprocess.Popen([str(exe), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit((home / "serve.log").read_text()) from None
            time.sleep(0.3)
    text = (home / "serve.log").read_text()
    accounts = dict(re.findall(r"^\s+(?:admin|clerk|supervisor|auditor)\s+(\S+)\s+(\S+)\s*$", text, re.M))
    return proc, url, accounts


def _post_json(url: str, body: object, headers: dict[str, str] | None = None) -> dict[str, object]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        out: dict[str, object] = json.loads(r.read())
        return out


def _bearer(url: str, username: str, password: str) -> dict[str, str]:
    out = _post_json(url + "/api/auth/login", {"username": username, "password": password})
    return {"Authorization": f"Bearer {out['token']}"}


# --- whole registrations (httpx, like the page's fetch calls) ------------------------------------


def _id_number(i: int) -> str:
    from simkyc.core.documents.id_number import check_character

    first17 = f"110105198{i % 10}0312{i % 1000:03d}"
    return first17 + check_character(first17)


def _frames() -> tuple[bytes, list[tuple[bytes, float]]]:
    import cv2

    from simkyc.service.liveness import read_video

    clip = read_video(CLIP)
    encoded = []
    for img, off in zip(clip.frames, clip.offsets, strict=True):
        _, jpg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        encoded.append((jpg.tobytes(), off))
    _, portrait = cv2.imencode(".jpg", cv2.cvtColor(clip.frames[5], cv2.COLOR_RGB2BGR))
    return portrait.tobytes(), encoded


def one_registration(
    url: str, headers: dict[str, str], i: int, portrait: bytes, frames: list[tuple[bytes, float]]
) -> tuple[str, str, str, str]:
    """Open, stream, finish; returns (outcome, phone, id number, name)."""
    import httpx

    number, phone, name = _id_number(i), f"1370000{i:04d}", "张三"
    fields = {
        "name": name,
        "id_number": number,
        "sex": "M" if int(number[16]) % 2 else "F",
        "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
        "valid_from": "2020-01-01",
        "valid_until": None,
        "phone_number": phone,
        "document_source": "chip",
        "consent": True,
    }
    with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
        r = c.post(
            "/api/registrations", data={"fields": json.dumps(fields)}, files={"portrait": ("p.jpg", portrait)}
        )
        r.raise_for_status()
        opened = r.json()
        t0 = float(opened["challenge"]["issued_at"]) + 0.3
        for k in range(0, len(frames), 10):
            batch = frames[k : k + 10]
            r = c.post(
                f"/api/registrations/{opened['id']}/frames",
                data={"timestamps": json.dumps([t0 + off for _, off in batch])},
                files=[("frames", (f"{j}.jpg", jpg, "image/jpeg")) for j, (jpg, _) in enumerate(batch)],
            )
            r.raise_for_status()
            if r.json()["finished"]:
                break
        r = c.post(f"/api/registrations/{opened['id']}/finish")
        r.raise_for_status()
        return str(r.json()["status"]), phone, number, name


def registrations(
    url: str, headers: dict[str, str], count: int, clients: int, seconds: float
) -> tuple[Phase, list[tuple[str, str, str, str]]]:
    portrait, frames = _frames()
    latencies: list[float] = []
    done: list[tuple[str, str, str, str]] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        nonlocal errors
        if time.monotonic() > stop:
            return
        t = time.perf_counter()
        try:
            out = one_registration(url, headers, i, portrait, frames)
        except Exception as exc:  # counted and reported, the run goes on
            with lock:
                errors += 1
            print(f"  registration {i}: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
            return
        with lock:
            latencies.append(time.perf_counter() - t)
            done.append(out)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(work, range(1, count + 1)))
    return Phase("registration", latencies, errors, time.perf_counter() - t0), done


# --- the platform check (raw asyncio HTTP/1.1 keep-alive client) --------------------------------


async def _client(
    host: str, port: int, requests: list[bytes], out: list[float], errs: list[int], stop: float
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for req in requests:
            if time.monotonic() > stop:
                return
            t = time.perf_counter()
            writer.write(req)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            out.append(time.perf_counter() - t)
            if b" 200 " not in status_line:
                errs.append(1)
    finally:
        writer.close()


def hammer(url: str, make: list[bytes], clients: int, count: int, seconds: float, name: str) -> Phase:
    host, port = url.removeprefix("http://").split(":")
    per = [make[i::clients][: max(1, count // clients)] for i in range(clients)]
    lat: list[float] = []
    errs: list[int] = []

    async def run() -> float:
        stop = time.monotonic() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(host, int(port), reqs, lat, errs, stop) for reqs in per))
        return time.perf_counter() - t0

    elapsed = asyncio.run(run())
    return Phase(name, lat, len(errs), elapsed)


def _request(
    method: str, path: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def platform_queries(
    n: int, host: str, key: str, bound: Sequence[tuple[object, str, str, str]] = ()
) -> list[bytes]:
    """`n` platform-check requests: half about numbers bound by the registrations (`bound`), half unknown."""
    queries = []
    for i in range(n):
        if bound and i % 2 == 0:
            _, phone, number, name = bound[i % len(bound)]
            body = {"name": name if i % 4 == 0 else "李四", "id_number": number, "phone": phone}
        else:
            phone = f"1350000{i % 10_000:04d}"
            body = {"name": "王五", "id_number": _id_number(900 + i % 50), "phone": phone}
        queries.append(
            _request("POST", "/api/platform/check", host, json.dumps(body).encode(), {"X-API-Key": key})
        )
    return queries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=20_000, help="platform checks (and healthz requests)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent connections for the checks")
    ap.add_argument("--registrations", type=int, default=4)
    ap.add_argument("--reg-clients", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0, help="time limit per phase")
    ap.add_argument("--workers", default="", help="e.g. 1,2: the recipe (nginx, PostgreSQL, Redis) per count")
    ap.add_argument("--via", choices=("direct", "proxy"), default="direct", help="--workers: connect to")
    ap.add_argument("--base-port", type=int, default=8360, help="--workers: nginx's port; workers follow it")
    args = ap.parse_args()
    if args.workers:
        from cluster_load import run_scaling

        run_scaling(args)
        return

    with tempfile.TemporaryDirectory(prefix="simkyc-load-") as tmp:
        proc, url, accounts = start_server(Path(tmp))
        try:
            host = url.removeprefix("http://")
            admin, clerk = (_bearer(url, name, accounts[name]) for name in ("admin", "demo-clerk"))
            key = str(_post_json(url + "/api/admin/keys", {"platform": "load-test"}, admin)["token"])

            reg, bound = registrations(url, clerk, args.registrations, args.reg_clients, args.seconds * 4)
            outcomes = [o for o, *_ in bound]

            queries = platform_queries(args.checks, host, key, bound)
            base = [_request("GET", "/healthz", host)] * args.checks
            hammer(url, base[:2000], args.clients, 2000, args.seconds, "warm-up")
            cpu0 = _server_cpu(proc.pid)
            healthz = hammer(url, base, args.clients, args.checks, args.seconds, "healthz (baseline)")
            cpu1 = _server_cpu(proc.pid)
            checks = hammer(url, queries, args.clients, args.checks, args.seconds, "platform check")
            cpu2 = _server_cpu(proc.pid)
            audited = _audited_checks(Path(tmp))  # read while the server still runs: durable, not flushed
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(
        f"\nsimkyc API load on loopback, {os.cpu_count()} CPUs, one server process, "
        f"{args.clients} connections\n"
    )
    # server CPU per request: what the box's other load cannot inflate (unlike req/s and latency)
    cpu = {healthz.name: cpu1 - cpu0, checks.name: cpu2 - cpu1}
    head = f"{'phase':<22}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
    print(head + f"{'CPU ms/req':>12}")
    for ph in (healthz, checks):
        print(
            f"{ph.name:<22}{len(ph.latencies):>10}{ph.errors:>8}{ph.rate:>10.0f}"
            f"{ph.pct(0.5) * 1e3:>10.1f}{ph.pct(0.99) * 1e3:>10.1f}"
            f"{cpu[ph.name] / max(1, len(ph.latencies)) * 1e3:>12.3f}"
        )
    print(
        f"\nplatform check / healthz throughput ratio: {checks.rate / healthz.rate:.2f}"
        if healthz.rate
        else ""
    )
    ok = checks.rate >= 1000 and checks.pct(0.99) < 0.050 and checks.errors == 0
    print(f"target >= 1000 req/s, p99 < 50 ms, 0 errors: {'MET' if ok else 'NOT MET'}")
    answered = len(checks.latencies) - checks.errors
    print(f"platform checks in the audit log while the server ran: {audited} of {answered} answered")
    print(f"\n{'registrations':<22}{'done':>10}{'errors':>8}{'reg/s':>10}{'p50 s':>10}{'p99 s':>10}")
    print(
        f"{'open+stream+finish':<22}{len(reg.latencies):>10}{reg.errors:>8}{reg.rate:>10.3f}{reg.pct(0.5):>10.2f}{reg.pct(0.99):>10.2f}"
    )
    if outcomes:
        print("outcomes: " + ", ".join(f"{o} x{outcomes.count(o)}" for o in sorted(set(outcomes))))
    if checks.errors or reg.errors or healthz.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
