"""Two workers behind nginx on PostgreSQL and Redis behave as one service (the deployment recipe).

One start of `scripts/cluster.sh` for the module, then, on the real clip (real.mov: turn right, then
left) and the real engines:
- a registration whose requests alternate between the workers is APPROVED, with the same progress
  events as a capture that stays on one worker;
- that face, approved through one worker, is found as a duplicate through the other (REVIEW);
- a sign-out on one worker is refused by the other;
- a worker SIGKILLed in the middle of a capture costs one retry: the finish on the other worker
  decides RETRY (never APPROVED on half a capture), the audit chain verifies, no row is half-written,
  and the customer's retry is APPROVED;
- registrations of one ID racing for its last quota slot, decided at once on both workers: 0 violations.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clusterkit import (
    Cluster,
    batches,
    finish,
    id_number,
    open_registration,
    running_cluster,
    send,
    unavailable,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
from test_crash import check_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.cluster]

_phones = iter(range(1000, 9999))


def phone() -> str:
    return f"1370099{next(_phones):04d}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    why = unavailable()
    if why:
        pytest.skip(why)
    with running_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def clip(videos_dir: Path) -> tuple[bytes, list[tuple[bytes, float]]]:
    """real.mov as JPEG frames with offsets, and one early frame as the ID portrait."""
    import io

    from PIL import Image as PILImage

    from simkyc.service.liveness import read_video

    def jpeg(img: Any, quality: int = 90) -> bytes:
        buf = io.BytesIO()
        PILImage.fromarray(img).save(buf, format="JPEG", quality=quality)
        return buf.getvalue()

    video = read_video(videos_dir / "liveness_pyimagesearch_demo_ZubairCracksCode" / "real.mov")
    frames = [(jpeg(img, 85), off) for img, off in zip(video.frames, video.offsets, strict=True)]
    return jpeg(video.frames[5]), frames


@pytest.fixture(scope="module")
def clerk(cluster: Cluster) -> dict[str, str]:
    return cluster.headers("demo-clerk")


@pytest.fixture(scope="module")
def holder() -> str:
    return id_number()


def _capture(
    cluster: Cluster, clerk: dict[str, str], clip: Any, number: str, *, route: list[int] | None
) -> tuple[str, list[tuple[str, str | None]]]:
    """Open through the proxy, stream the whole clip to workers `route[i % len]` (None: the proxy),
    return the registration id and the (kind, action) of every progress event."""
    portrait, frames = clip
    opened = open_registration(cluster.proxy, clerk, portrait, number, phone())
    events = [(e["kind"], e["action"]) for e in opened["events"]]
    for seq, batch in enumerate(batches(frames, opened["challenge"]["issued_at"])):
        url = cluster.proxy if route is None else cluster.workers[route[seq % len(route)]]
        r = send(url, clerk, opened["id"], batch, seq)
        assert r.status_code == 200, r.text
        events += [(e["kind"], e["action"]) for e in r.json()["events"]]
        if r.json()["finished"]:
            break
    return opened["id"], events


def test_registration_alternating_between_workers_is_approved(
    cluster: Cluster, clerk: dict[str, str], clip: Any, holder: str
) -> None:
    reg_id, events = _capture(cluster, clerk, clip, holder, route=[0, 1])
    r = finish(cluster.workers[0], clerk, reg_id)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "APPROVED", out
    assert [x["code"] for x in out["reasons"]] == ["FACE_MATCH"]
    assert events == [
        ("waiting_for", "turn_right"),
        ("action_done", "turn_right"),
        ("waiting_for", "turn_left"),
        ("action_done", "turn_left"),
    ]
    again = finish(cluster.workers[1], clerk, reg_id)  # a repeated finish answers with the decision
    assert again.status_code == 200 and again.json()["status"] == "APPROVED"
    # the platform check on PostgreSQL (its prepared fast path), on each worker
    admin = cluster.headers("admin")
    key = httpx.post(f"{cluster.proxy}/api/admin/keys", json={"platform": "t"}, headers=admin).json()["token"]
    number = out["phone_number"]
    for url in cluster.workers:
        answers = [
            httpx.post(
                f"{url}/api/platform/check",
                json={"name": name, "id_number": holder, "phone": phone_},
                headers={"X-API-Key": key},
            ).json()["result"]
            for name, phone_ in (("张三", number), ("李四", number), ("张三", "13900000000"))
        ]
        assert answers == ["consistent", "inconsistent", "no_record"]
    assert httpx.get(f"{cluster.proxy}/readyz").json()["index"]["templates"] >= 1


def test_duplicate_approved_through_one_worker_is_found_through_the_other(
    cluster: Cluster, clerk: dict[str, str], clip: Any
) -> None:
    reg_id, events = _capture(cluster, clerk, clip, id_number(), route=[1])  # only worker 1
    assert ("action_done", "turn_left") in events  # the same events as on one worker
    out = finish(cluster.workers[1], clerk, reg_id).json()
    assert out["status"] == "REVIEW", out
    assert "DUPLICATE_FACE_OTHER_ID" in [x["code"] for x in out["reasons"]]


def test_sign_out_on_one_worker_is_refused_by_the_other(cluster: Cluster) -> None:
    from simkyc.service.sessions import SessionStore

    headers = cluster.headers("demo-supervisor", via=cluster.workers[0])
    assert httpx.get(f"{cluster.workers[1]}/api/auth/me", headers=headers).status_code == 200  # cached there
    assert httpx.post(f"{cluster.workers[0]}/api/auth/logout", headers=headers).status_code == 204
    time.sleep(SessionStore.cache_s + 0.5)  # the stated bound on another worker's cached check
    r = httpx.get(f"{cluster.workers[1]}/api/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["reason"] == "NOT_AUTHENTICATED"
    assert httpx.get(f"{cluster.workers[0]}/api/auth/me", headers=headers).status_code == 401


def test_worker_killed_mid_capture_costs_one_retry(
    cluster: Cluster, clerk: dict[str, str], clip: Any, holder: str
) -> None:
    portrait, frames = clip
    opened = open_registration(cluster.proxy, clerk, portrait, holder, phone())
    parts = batches(frames, opened["challenge"]["issued_at"])
    victim = cluster.ready(0)["pid"]
    for seq in range(4):  # the first seconds of the clip: no turn yet
        assert send(cluster.workers[0], clerk, opened["id"], parts[seq], seq).status_code == 200
    failed: list[BaseException] = []

    def in_flight() -> None:
        try:
            send(cluster.workers[0], clerk, opened["id"], parts[4], 4)
        except httpx.HTTPError as exc:
            failed.append(exc)

    t = threading.Thread(target=in_flight)
    t.start()
    time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=60)
    assert failed, "the batch in flight should have died with its worker"
    # the page gives up streaming and finishes; the proxy sends it to the live worker
    r = finish(cluster.proxy, clerk, opened["id"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "RETRY", (out["status"], out.get("reasons"))
    assert "LIVENESS_ACTION_MISSING" in [x["code"] for x in out["reasons"]]
    db = cluster.database()
    try:
        from simkyc.service.audit import verify_audit

        assert check_invariants(db) == []
        assert verify_audit(db).ok
    finally:
        db.dispose()
    # the one retry: the same customer again, on the worker that lived
    reg_id, _ = _capture(cluster, clerk, clip, holder, route=None)
    assert finish(cluster.proxy, clerk, reg_id).json()["status"] == "APPROVED"
    deadline = time.monotonic() + 120  # the supervisor brings the killed worker back
    while True:
        try:
            if cluster.ready(0)["pid"] != victim:
                break
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        assert time.monotonic() < deadline, "the killed worker was not restarted"
        time.sleep(0.5)


def test_quota_race_across_workers_has_no_violation(
    cluster: Cluster, clerk: dict[str, str], clip: Any, holder: str
) -> None:
    db = cluster.database()
    try:
        from sqlalchemy import func, select

        from simkyc.store.schema import identity, phone_number

        def held() -> int:
            with db.engine.connect() as c:
                return int(
                    c.execute(
                        select(func.count())
                        .select_from(phone_number)
                        .join(identity, identity.c.id == phone_number.c.identity_id)
                        .where(
                            phone_number.c.status == "active",
                            identity.c.id_hash == db.keys.lookup_hash(holder),
                        )
                    ).scalar_one()
                )

        before = held()
        assert before == 2  # approved above (alternating, then the retry); the quota is 3
        racers = [_capture(cluster, clerk, clip, holder, route=[i % 2])[0] for i in range(3)]
        outs: dict[str, dict[str, Any]] = {}
        go = threading.Barrier(len(racers))

        def decide(i: int, reg_id: str) -> None:
            go.wait()
            outs[reg_id] = finish(cluster.workers[i % 2], clerk, reg_id).json()

        threads = [threading.Thread(target=decide, args=(i, r)) for i, r in enumerate(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        statuses = sorted(o["status"] for o in outs.values())
        violations = int(held() > 3) + int(statuses.count("APPROVED") != 3 - before)
        assert statuses == ["APPROVED", "REJECTED", "REJECTED"], outs
        assert all(
            "QUOTA_EXCEEDED" in [x["code"] for x in o["reasons"]]
            for o in outs.values()
            if o["status"] == "REJECTED"
        )
        assert held() == 3 and violations == 0
        print(f"\nquota race across 2 workers: {len(racers)} concurrent decisions, {violations} violations")
    finally:
        db.dispose()
