"""`api_load.py --workers 1,2`: the same load against the deployment recipe with 1 and 2 workers.

Each worker count gets a fresh recipe (`scripts/cluster.sh`: nginx in front of `simkyc serve
--workers N` on PostgreSQL, a fresh schema, and Redis, a fresh key prefix), then:

1. a registration mix, `--reg-clients` at a time, each registration a distinct ID whose ID photo is a
   different held frame of the clip; an APPROVED number is cancelled at once (its template leaves
   every index), so the next registration of the same face is not a duplicate of it. After each
   commit (the approval, the cancellation) the client measures the **freshness lag**: the time until
   every worker's index has applied the feed up to that commit (`/readyz` `applied_seq` >= `head_seq`);
2. the platform check and `GET /healthz`, `--clients` keep-alive connections spread over the workers
   (`--via direct`, the default: connection i talks to worker i mod N, so nginx's own CPU is not
   measured) or all through nginx (`--via proxy`).

Printed: throughput and p50/p99 per phase and worker count, the scaling ratio 2 workers / 1 worker,
and the freshness lag p50/p99. Bounded by request counts and `--seconds` per phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_load import (
    REPO,
    SEED,
    Phase,
    _bearer,
    _client,
    _frames,
    _post_json,
    _request,
    one_registration,
    platform_queries,
)

PG_URL = os.environ.get("SIMKYC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SIMKYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Recipe:
    env: dict[str, str]
    proxy: str
    workers: list[str]
    accounts: dict[str, str]
    schema: str
    prefix: str


def start_recipe(home: Path, workers: int, base_port: int) -> Recipe:
    import re

    from sqlalchemy import create_engine, text

    schema = f"bench_{secrets.token_hex(4)}"
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    prefix = f"bench{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "SIMKYC_HOME": str(home),
        "SIMKYC_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
        "SIMKYC_REDIS_URL": REDIS_URL,
        "SIMKYC_REDIS_PREFIX": prefix,
        "SIMKYC_WORKERS": str(workers),
        "SIMKYC_PROXY_LISTEN": f"127.0.0.1:{base_port}",
        "SIMKYC_WORKER_PORT": str(base_port + 1),
        "SIMKYC_CHALLENGE_TEST_SEED": str(SEED),
        "SIMKYC_PLATFORM_RATE_PER_S": "1000000",
        "SIMKYC_PLATFORM_BURST": "1000000",
        "SIMKYC_CAPTURES_PER_CLERK": "64",
        "SIMKYC_CAPTURES_PER_OUTLET": "64",
        "COLUMNS": "200",
    }
    out = subprocess.run(
        [str(REPO / "scripts" / "cluster.sh"), "start"], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stdout + out.stderr)
    log = (home / "log" / "simkyc.log").read_text()
    accounts = dict(re.findall(r"^\s+(?:admin|clerk|supervisor|auditor)\s+(\S+)\s+(\S+)\s*$", log, re.M))
    return Recipe(
        env,
        f"http://127.0.0.1:{base_port}",
        [f"http://127.0.0.1:{base_port + 1 + i}" for i in range(workers)],
        accounts,
        schema,
        prefix,
    )


def stop_recipe(r: Recipe) -> None:
    from sqlalchemy import create_engine, text

    subprocess.run([str(REPO / "scripts" / "cluster.sh"), "stop"], env=r.env, capture_output=True)
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{r.schema}" CASCADE'))
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{r.prefix}:*"):
            client.delete(key)
    except Exception as exc:  # the keys expire anyway
        print(f"  (could not clean Redis: {type(exc).__name__})", file=sys.stderr)


def _ready(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


def freshness_lag(workers: list[str], t0: float, *, timeout: float = 10.0) -> float:
    """Seconds from `t0` (a commit's answer) until every worker's index applied the feed's head."""
    head = int(_ready(workers[0])["index"]["head_seq"])
    pending = list(workers)
    while pending:
        pending = [w for w in pending if int(_ready(w)["index"].get("applied_seq", -1)) < head]
        if pending and time.perf_counter() - t0 > timeout:
            return float("inf")
        if pending:
            time.sleep(0.002)
    return time.perf_counter() - t0


@dataclass
class MixResult:
    phase: Phase
    outcomes: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)


def registration_mix(
    r: Recipe,
    clerk: dict[str, str],
    supervisor: dict[str, str],
    count: int,
    clients: int,
    seconds: float,
    via: str,
) -> MixResult:
    import cv2
    import httpx

    from api_load import CLIP
    from simkyc.service.liveness import read_video

    _, frames = _frames()

    clip = read_video(CLIP)
    held = []
    for k in range(count):  # a different held frame as each customer's ID photo
        img = clip.frames[(5 + 7 * k) % len(clip.frames)]
        held.append(cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes())
    res = MixResult(Phase("registration mix", [], 0, 0.0))
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    base = 300 + int(time.time()) % 500

    def work(i: int) -> None:
        if time.monotonic() > stop:
            return
        url = r.proxy if via == "proxy" else r.workers[i % len(r.workers)]
        t = time.perf_counter()
        try:
            outcome, phone, _, _ = one_registration(url, clerk, base + i, held[i], frames)
        except Exception as exc:
            with lock:
                res.phase.errors += 1
            print(f"  registration {i}: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
            return
        lat = time.perf_counter() - t
        lags = []
        if outcome == "APPROVED":
            lags.append(freshness_lag(r.workers, time.perf_counter()))
            c = httpx.post(f"{url}/api/numbers/{phone}/cancel", headers=supervisor, timeout=60)
            t1 = time.perf_counter()
            if c.status_code == 200:
                lags.append(freshness_lag(r.workers, t1))
            else:
                print(f"  cancel {i}: HTTP {c.status_code} {c.text[:200]}", file=sys.stderr)
        with lock:
            res.phase.latencies.append(lat)
            res.outcomes.append(outcome)
            res.lags.extend(lags)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(work, range(count)))
    res.phase.seconds = time.perf_counter() - t0
    return res


def hammer_many(
    urls: list[str], make: list[bytes], clients: int, count: int, seconds: float, name: str
) -> Phase:
    """`count` requests on `clients` keep-alive connections; connection i talks to urls[i % len]."""
    per = [make[i::clients][: max(1, count // clients)] for i in range(clients)]
    lat: list[float] = []
    errs: list[int] = []

    async def run() -> float:
        stop = time.monotonic() + seconds
        t0 = time.perf_counter()
        tasks = []
        for i, reqs in enumerate(per):
            host, port = urls[i % len(urls)].removeprefix("http://").split(":")
            tasks.append(_client(host, int(port), reqs, lat, errs, stop))
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0

    return Phase(name, lat, len(errs), asyncio.run(run()))


def run_scaling(args: Any) -> None:
    counts = [int(w) for w in str(args.workers).split(",")]
    results: dict[int, dict[str, Any]] = {}
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="simkyc-scale-") as tmp:
            print(f"starting the recipe with {n} worker(s) ...", file=sys.stderr)
            r = start_recipe(Path(tmp) / "home", n, args.base_port)
            try:
                names = ("admin", "demo-clerk", "demo-supervisor")
                admin, clerk, supervisor = (_bearer(r.proxy, name, r.accounts[name]) for name in names)
                key = str(_post_json(r.proxy + "/api/admin/keys", {"platform": "load-test"}, admin)["token"])
                mix = registration_mix(
                    r, clerk, supervisor, args.registrations, args.reg_clients, args.seconds * 8, args.via
                )
                host = r.proxy.removeprefix("http://")
                queries = platform_queries(args.checks, host, key)
                base = [_request("GET", "/healthz", host)] * args.checks
                targets = [r.proxy] if args.via == "proxy" else r.workers
                hammer_many(targets, base[:2000], args.clients, 2000, args.seconds, "warm-up")
                healthz = hammer_many(targets, base, args.clients, args.checks, args.seconds, "healthz")
                hammer_many(targets, queries[:2000], args.clients, 2000, args.seconds, "warm-up")
                checks = hammer_many(
                    targets, queries, args.clients, args.checks, args.seconds, "platform check"
                )
                results[n] = {"mix": mix, "healthz": healthz, "checks": checks}
            finally:
                stop_recipe(r)
    _report(results, args)


def _report(results: dict[int, dict[str, Any]], args: Any) -> None:
    print(
        f"\nsimkyc recipe on loopback: nginx + N workers, PostgreSQL + Redis, {os.cpu_count()} CPUs, "
        f"{args.clients} connections ({args.via})\n"
    )
    print(f"{'workers':>7} {'phase':<18}{'requests':>9}{'errors':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for n, res in results.items():
        for ph in (res["healthz"], res["checks"]):
            print(
                f"{n:>7} {ph.name:<18}{len(ph.latencies):>9}{ph.errors:>7}{ph.rate:>9.0f}"
                f"{ph.pct(0.5) * 1e3:>9.1f}{ph.pct(0.99) * 1e3:>9.1f}"
            )
        mix = res["mix"]
        ph = mix.phase
        print(
            f"{n:>7} {'registrations':<18}{len(ph.latencies):>9}{ph.errors:>7}{ph.rate:>9.3f}"
            f"{ph.pct(0.5) * 1e3:>9.0f}{ph.pct(0.99) * 1e3:>9.0f}   "
            + ", ".join(f"{o} x{mix.outcomes.count(o)}" for o in sorted(set(mix.outcomes)))
        )
    if 1 in results and len(results) > 1:
        top = max(results)
        for label, key in (("platform check", "checks"), ("healthz", "healthz")):
            ratio = results[top][key].rate / max(results[1][key].rate, 1e-9)
            print(
                f"\nscaling {label} 1 -> {top} workers: {ratio:.2f}x"
                + (" (target >= 1.6x)" if key == "checks" else "")
            )
        reg_ratio = results[top]["mix"].phase.rate / max(results[1]["mix"].phase.rate, 1e-9)
        print(f"scaling registrations 1 -> {top} workers: {reg_ratio:.2f}x")
    for n, res in results.items():
        lags = sorted(res["mix"].lags)
        if lags:
            p50, p99 = lags[len(lags) // 2], lags[min(len(lags) - 1, int(0.99 * len(lags)))]
            print(
                f"freshness lag, {n} worker(s): commit answered -> every worker's index has it, "
                f"{len(lags)} commits: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms (target p99 < 1 s)"
            )
    bad = any(
        res["checks"].errors or res["healthz"].errors or res["mix"].phase.errors for res in results.values()
    )
    if bad:
        sys.exit(1)
