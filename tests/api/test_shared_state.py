"""The small shared state of several workers: capture stores (in-process and Redis) and the Redis
platform rate limit. Two store or limiter objects on one Redis prefix stand for two workers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from simkyc.api.capture_store import (
    CaptureMeta,
    MemoryCaptureStore,
    RedisCaptureStore,
    decode_batch,
    encode_batch,
)
from simkyc.errors import PolicyError, Reason, SimkycError
from simkyc.store import KeyRing

REDIS_URL = os.environ.get("SIMKYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[tuple[Any, str]]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {type(exc).__name__}")
    prefix = f"t{secrets.token_hex(6)}"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def _meta(rid: str, clerk: int = 7) -> CaptureMeta:
    return CaptureMeta(rid, "tok", clerk, 1, "13800000000", "110105********002X", deadline=2_000_000_000.0)


def _stores(kind: str, redis_prefix: Any) -> tuple[Any, Any]:
    """Two workers' views of one store."""
    if kind == "memory":
        one = MemoryCaptureStore()
        return one, one
    client, prefix = redis_prefix
    keys = KeyRing.generate()
    return (
        RedisCaptureStore(client, prefix=prefix, keys=keys),
        RedisCaptureStore(client, prefix=prefix, keys=keys),
    )


FRAMES = [(b"\xff\xd8jpeg-one", 1.5), (b"\xff\xd8jpeg-two", 1.6)]
OTHER = [(b"\xff\xd8jpeg-three", 1.7)]


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_capture_store_semantics(kind: str, request: pytest.FixtureRequest) -> None:
    a, b = _stores(kind, request.getfixturevalue("redis_prefix") if kind == "redis" else None)
    now = 1_900_000_000.0
    assert a.open(_meta("r1"), max_open=2, now=now)
    assert b.open(_meta("r2"), max_open=2, now=now)
    assert not a.open(_meta("r3"), max_open=2, now=now)  # the slots are shared
    assert b.meta("r1") == _meta("r1")
    assert a.append("r1", FRAMES, seq=0).status == "added"
    assert b.append("r1", FRAMES, seq=0).status == "duplicate"  # a resend, recognised on the other worker
    assert b.append("r1", OTHER, seq=0).status == "conflict"  # not the same batch
    assert b.append("r1", OTHER, seq=5).status == "conflict"  # a gap
    placed = b.append("r1", OTHER, seq=None)
    assert (placed.status, placed.index, placed.length) == ("added", 1, 2)
    assert a.length("r1") == 2
    if a.keeps_frames:
        assert b.batches("r1", 0, 2) == [FRAMES, OTHER]
    assert a.claim("r1") and not b.claim("r1")  # exactly one finish decides
    assert b.append("r1", OTHER, seq=None).status == "closed"
    assert a.open(_meta("r3"), max_open=2, now=now)  # the claim freed the slot
    b.unclaim("r1")  # its decision failed before committing: the page may finish again
    assert b.claim("r1")
    a.drop("r1")
    assert a.meta("r1") is None and not b.claim("r1")


def test_redis_capture_frames_are_encrypted(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    store = RedisCaptureStore(client, prefix=prefix, keys=KeyRing.generate())
    assert store.open(_meta("r9"), max_open=5, now=1_900_000_000.0)
    store.append("r9", FRAMES, seq=0)
    raw = b"".join(client.lrange(f"{prefix}:cap:r9:log", 0, -1)) + client.get(f"{prefix}:cap:r9:meta")
    assert b"jpeg-one" not in raw and b"13800000000" not in raw
    other_ring = RedisCaptureStore(client, prefix=prefix, keys=KeyRing.generate())
    with pytest.raises(SimkycError, match=r"authenticate|key"):
        other_ring.batches("r9", 0, 1)  # another key ring cannot read (or forge) the log


def test_batch_encoding_round_trips() -> None:
    rng = np.random.default_rng(1)
    frames = [
        (rng.bytes(int(n)), float(t)) for n, t in zip(rng.integers(0, 5000, 7), rng.random(7), strict=True)
    ]
    assert decode_batch(encode_batch(frames)) == frames


def test_redis_rate_limit_is_one_bucket_for_all_workers(redis_prefix: tuple[Any, str]) -> None:
    from simkyc.api.shared_state import RedisRateLimiter

    client, prefix = redis_prefix
    w1, w2 = (RedisRateLimiter(client, prefix=prefix, rate=2.0, burst=4.0) for _ in range(2))
    now = 1_900_000_000.0
    for i in range(4):
        (w1 if i % 2 else w2).check("key-1", now=now)
    with pytest.raises(PolicyError) as exc:
        w2.check("key-1", now=now)
    assert exc.value.reason is Reason.RATE_LIMITED and exc.value.detail["retry_after"] == pytest.approx(0.5)
    w1.check("key-2", now=now)  # another key, another bucket
    w1.check("key-1", now=now + 0.5)  # refilled at `rate`
    with pytest.raises(PolicyError):
        w2.check("key-1", now=now + 0.5)


def test_redis_portraits_are_taken_once(redis_prefix: tuple[Any, str]) -> None:
    from simkyc.api.shared_state import RedisPortraits

    client, prefix = redis_prefix
    keys = KeyRing.generate()
    image = np.random.default_rng(3).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    token = RedisPortraits(client, prefix=prefix, keys=keys).put(image)
    other = RedisPortraits(client, prefix=prefix, keys=keys)
    got = other.take(token)
    assert got is not None and np.array_equal(got, image)
    assert other.take(token) is None


def test_leased_tokens_never_admit_more_than_the_bucket(redis_prefix: tuple[Any, str]) -> None:
    from simkyc.api.shared_state import RedisRateLimiter

    client, prefix = redis_prefix
    w1, w2 = (RedisRateLimiter(client, prefix=prefix, rate=400.0, burst=40.0) for _ in range(2))
    assert w1.chunk == 16  # a few tokens per round trip at this rate
    now, admitted, refused = 1_900_000_000.0, 0, 0
    for i in range(200):
        try:
            (w1 if i % 3 else w2).check("k", now=now)
            admitted += 1
        except PolicyError:
            refused += 1
    assert 0 < admitted <= 40 and admitted + refused == 200  # 40 unless a lease ran out mid-loop
