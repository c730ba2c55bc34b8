"""The small state every worker must share, in Redis when `SIMKYC_REDIS_URL` is set.

One process (the embedded default) keeps it in memory; several workers on one or many hosts keep it
in Redis, under `SIMKYC_REDIS_PREFIX`:

- open captures: their frame logs and the shared open-capture slots (`RedisCaptureStore`);
- platform-key rate limits: one token bucket per key for the whole deployment (`RedisRateLimiter`),
  so N workers do not grant N times the rate;
- OCR portraits waiting for their registration (`RedisPortraits`).

What must survive Redis itself (decisions, quotas, lockouts, sessions, templates) is in the
database; Redis holds only what is worthless minutes later. Frames and portraits are encrypted under
the key ring before they leave the process, so a Redis that persists to disk keeps no biometrics.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from simkyc.core.faces.types import Image
from simkyc.errors import PolicyError, Reason
from simkyc.store.crypto import KeyRing
from simkyc.store.fields import arrays_from_bytes, arrays_to_bytes

__all__ = ["RedisPortraits", "RedisRateLimiter", "connect_redis"]


def connect_redis(url: str) -> Any:
    """A Redis client for `url` (bytes in, bytes out), checked with PING.

    :raises redis.exceptions.ConnectionError: when the server does not answer.
    """
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=5.0, socket_connect_timeout=5.0, health_check_interval=30
    )
    client.ping()
    return client


# KEYS: bucket. ARGV: rate, burst, now, ttl ms, wanted. Returns the tokens granted (up to `wanted`),
# and when none, the seconds to wait (as text: a Lua number returned to Redis is truncated).
_TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens, last = tonumber(v[1]) or burst, tonumber(v[2]) or now
if now > last then tokens = math.min(burst, tokens + (now - last) * rate); last = now end
local granted = math.min(tonumber(ARGV[5]), math.floor(tokens))
local wait = '0'
if granted < 1 then
  granted = 0
  if rate <= 0 then wait = '60' else wait = tostring((1 - tokens) / rate) end
end
redis.call('HSET', KEYS[1], 't', tostring(tokens - granted), 'ts', tostring(last))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {granted, wait}
"""


@dataclass
class _Lease:
    tokens: int
    until: float


class RedisRateLimiter:
    """Token buckets per key shared by every worker: `rate` per second sustained, bursts to `burst`.

    Same contract as `simkyc.service.auth.RateLimiter`. Strict: every request admitted took a token
    from the shared bucket. At high rates a worker takes a few tokens per round trip (a lease, about
    1/20 s of the rate, at most 16) and spends them within `lease_s`; leftovers are dropped, so leasing
    can only admit fewer requests than the bucket allows, never more. `now` is the caller's clock (hosts
    keep NTP time; a bucket never refills backwards).
    """

    def __init__(self, client: Any, *, prefix: str, rate: float, burst: float, lease_s: float = 0.25) -> None:
        self.client = client
        self.prefix = prefix
        self.rate = rate
        self.burst = burst
        self.lease_s = lease_s
        self.chunk = max(1, min(16, int(rate * 0.05), int(burst)))
        self._take = client.register_script(_TAKE)
        self._ttl_ms = int(1000 * (burst / rate + 1.0)) if rate > 0 else 3_600_000
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    def check(self, key: str, *, now: float) -> None:
        """Take one token for `key`, or raise PolicyError(RATE_LIMITED) with `retry_after` seconds."""
        tick = time.monotonic()
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease.tokens > 0 and lease.until > tick:
                lease.tokens -= 1
                return
        granted, wait = self._take(
            keys=[f"{self.prefix}:rate:{key}"], args=[self.rate, self.burst, now, self._ttl_ms, self.chunk]
        )
        if int(granted) < 1:
            text = wait.decode() if isinstance(wait, bytes) else str(wait)
            raise PolicyError(Reason.RATE_LIMITED, detail={"retry_after": round(float(text), 3)})
        with self._lock:
            if len(self._leases) > 10_000:
                self._leases = {k: v for k, v in self._leases.items() if v.until > tick}
            self._leases[key] = _Lease(int(granted) - 1, tick + self.lease_s)


class RedisPortraits:
    """OCR portraits under a one-time token, encrypted in Redis for `ttl_s` seconds."""

    def __init__(self, client: Any, *, prefix: str, keys: KeyRing, ttl_s: float = 900.0) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = keys
        self.ttl_s = ttl_s

    def put(self, image: Image) -> str:
        token = secrets.token_urlsafe(18)
        key_id, blob = self.keys.encrypt(arrays_to_bytes({"portrait": image}), aad=f"ocr-portrait:{token}")
        self.client.set(
            f"{self.prefix}:portrait:{token}", key_id.encode() + b"\n" + blob, px=int(self.ttl_s * 1000)
        )
        return token

    def take(self, token: str) -> Image | None:
        """The portrait for `token` (once), or None when unknown or expired."""
        raw = self.client.getdel(f"{self.prefix}:portrait:{token}")
        if raw is None:
            return None
        key_id, _, blob = raw.partition(b"\n")
        image: Image = arrays_from_bytes(
            self.keys.decrypt(key_id.decode(), blob, aad=f"ocr-portrait:{token}")
        )["portrait"]
        return image
