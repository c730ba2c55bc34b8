"""Where open captures live between requests: this process (one worker) or Redis (any number).

A capture is its metadata (who may feed it, the challenge) plus the **log** of frame batches the
page sent, in order: the JPEG bytes and capture times exactly as received, encrypted under the key
ring (AES-GCM, bound to the registration). Any worker can rebuild the capture's liveness session by
replaying the log through a fresh session (the analysis is deterministic: same frames, same events,
same decision), so a request may land on any worker and a dead worker loses nothing the page sent.
The live session a worker holds is only a cache of that replay (`simkyc.api.capture`).

Every step that decides something is one atomic operation of the store (a Lua script on Redis):
opening takes one of the `max_open` slots shared by all workers; `append` adds a batch only while
the capture is open and only at the position the page numbered it (`seq`), so a resent batch is
recognised by its digest and never analysed twice; `claim` lets exactly one finish decide.

The in-process store keeps no frames (its one worker always holds the live session) and only
what the atomic steps need.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from simkyc.store.crypto import KeyRing

__all__ = [
    "Appended",
    "CaptureMeta",
    "CaptureStore",
    "MemoryCaptureStore",
    "RedisCaptureStore",
    "batch_digest",
    "decode_batch",
    "encode_batch",
]

# JPEG bytes, capture time (Unix seconds), and optionally the light-challenge step on screen (-1: none)
RawFrame = tuple[bytes, float] | tuple[bytes, float, int]


def raw_light(frame: RawFrame) -> int:
    """The frame's light stamp (`Frame.light`), -1 when it carries none."""
    return frame[2] if len(frame) > 2 else -1  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class CaptureMeta:
    """What any worker needs to continue a capture: the registration, the clerk, the challenge."""

    registration_id: str
    challenge_token: str
    clerk_id: int
    outlet_id: int | None
    phone: str
    id_masked: str
    deadline: float


@dataclass(frozen=True, slots=True)
class Appended:
    """Where a batch went: `index` in the log, and `duplicate` when it was already there (a resend)."""

    status: Literal["added", "duplicate", "conflict", "closed"]
    index: int
    length: int


def encode_batch(frames: Sequence[RawFrame]) -> bytes:
    """Frames as bytes: a JSON header (times, sizes, light stamps if any), then the JPEGs back to back.
    No pickling."""
    body: dict[str, list[float] | list[int]] = {"t": [f[1] for f in frames], "n": [len(f[0]) for f in frames]}
    if any(len(f) > 2 for f in frames):
        body["l"] = [raw_light(f) for f in frames]
    header = json.dumps(body).encode()
    return struct.pack(">I", len(header)) + header + b"".join(f[0] for f in frames)


def decode_batch(data: bytes) -> list[RawFrame]:
    (size,) = struct.unpack(">I", data[:4])
    header = json.loads(data[4 : 4 + size])
    out: list[RawFrame] = []
    pos = 4 + size
    lights = header.get("l")
    for i, (t, n) in enumerate(zip(header["t"], header["n"], strict=True)):
        chunk = data[pos : pos + n]
        out.append((chunk, float(t)) if lights is None else (chunk, float(t), int(lights[i])))
        pos += n
    return out


def batch_digest(frames: Sequence[RawFrame]) -> str:
    """What identifies a batch when the page sends it again: SHA-256 of its encoding."""
    return hashlib.sha256(encode_batch(frames)).hexdigest()


class CaptureStore(Protocol):
    """The shared part of open captures (see the module docstring)."""

    keeps_frames: bool

    def open(self, meta: CaptureMeta, *, max_open: int, now: float) -> bool:
        """Register an open capture; False when `max_open` captures are open already."""
        ...

    def meta(self, registration_id: str) -> CaptureMeta | None:
        """The capture's metadata while it is open or being finished, else None."""
        ...

    def append(self, registration_id: str, frames: Sequence[RawFrame], *, seq: int | None) -> Appended:
        """Add a batch at position `seq` (None: at the end) while the capture is open."""
        ...

    def batches(self, registration_id: str, start: int, stop: int) -> list[list[RawFrame]]:
        """Batches `start` .. `stop - 1` of the log (only when `keeps_frames`)."""
        ...

    def length(self, registration_id: str) -> int:
        """How many batches the log holds."""
        ...

    def claim(self, registration_id: str) -> bool:
        """Start finishing: True for exactly one caller while the capture is open (frees its slot)."""
        ...

    def unclaim(self, registration_id: str) -> None:
        """Undo a claim whose decision failed before anything was committed (the page may retry)."""
        ...

    def drop(self, registration_id: str) -> None:
        """Forget the capture's frames and metadata after its decision (a late finish sees it closed)."""
        ...

    def open_count(self, *, now: float) -> int:
        """Captures open now (all workers)."""
        ...


class MemoryCaptureStore:
    """Open captures of this process only (the embedded single-worker default)."""

    keeps_frames = False

    def __init__(self, *, grace_s: float = 60.0) -> None:
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._meta: dict[str, CaptureMeta] = {}
        self._expires: dict[str, float] = {}
        self._state: dict[str, str] = {}
        self._digests: dict[str, list[str]] = {}

    def _sweep(self, now: float) -> None:
        for rid in [r for r, e in self._expires.items() if e < now]:
            self._meta.pop(rid, None)
            self._expires.pop(rid, None)
            self._state.pop(rid, None)
            self._digests.pop(rid, None)

    def open(self, meta: CaptureMeta, *, max_open: int, now: float) -> bool:
        with self._lock:
            self._sweep(now)
            if sum(s == "open" for s in self._state.values()) >= max_open:
                return False
            rid = meta.registration_id
            self._meta[rid], self._expires[rid] = meta, meta.deadline + self.grace_s
            self._state[rid], self._digests[rid] = "open", []
            return True

    def meta(self, registration_id: str) -> CaptureMeta | None:
        with self._lock:
            return self._meta.get(registration_id)

    def append(self, registration_id: str, frames: Sequence[RawFrame], *, seq: int | None) -> Appended:
        digest = batch_digest(frames)
        with self._lock:
            if self._state.get(registration_id) != "open":
                return Appended("closed", -1, 0)
            log = self._digests[registration_id]
            return _place(log, digest, seq)

    def batches(self, registration_id: str, start: int, stop: int) -> list[list[RawFrame]]:
        raise NotImplementedError("the in-process store keeps no frames")

    def length(self, registration_id: str) -> int:
        with self._lock:
            return len(self._digests.get(registration_id, ()))

    def claim(self, registration_id: str) -> bool:
        with self._lock:
            if self._state.get(registration_id) != "open":
                return False
            self._state[registration_id] = "finishing"
            return True

    def unclaim(self, registration_id: str) -> None:
        with self._lock:
            if self._state.get(registration_id) == "finishing":
                self._state[registration_id] = "open"

    def drop(self, registration_id: str) -> None:
        with self._lock:
            self._meta.pop(registration_id, None)
            self._digests.pop(registration_id, None)
            self._state[registration_id] = "done"
            self._expires[registration_id] = time.time() + 600

    def open_count(self, *, now: float) -> int:
        with self._lock:
            self._sweep(now)
            return sum(s == "open" for s in self._state.values())


def _place(log: list[str], digest: str, seq: int | None) -> Appended:
    n = len(log)
    if seq is None or seq == n:
        log.append(digest)
        return Appended("added", n, n + 1)
    if 0 <= seq < n and log[seq] == digest:
        return Appended("duplicate", seq, n)
    return Appended("conflict", seq, n)


# --- Redis ------------------------------------------------------------------------------------------

_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
redis.call('SET', KEYS[3], 'open', 'PX', ARGV[6])
redis.call('DEL', KEYS[4], KEYS[5])
return 1
"""
# KEYS: state, log, digests. ARGV: seq (-1 = at the end), digest, blob, ttl ms.
_APPEND = """
if redis.call('GET', KEYS[1]) ~= 'open' then return {'closed', -1, 0} end
local n = redis.call('LLEN', KEYS[3])
local seq = tonumber(ARGV[1])
if seq < 0 or seq == n then
  redis.call('RPUSH', KEYS[2], ARGV[3])
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  return {'added', n, n + 1}
end
if seq < n and redis.call('LINDEX', KEYS[3], seq) == ARGV[2] then return {'duplicate', seq, n} end
return {'conflict', seq, n}
"""
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= 'open' then return 0 end
redis.call('SET', KEYS[1], 'finishing', 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
_UNCLAIM = """
if redis.call('GET', KEYS[1]) ~= 'finishing' then return 0 end
redis.call('SET', KEYS[1], 'open', 'KEEPTTL')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""


class RedisCaptureStore:
    """Open captures shared by every worker through Redis; frames and metadata encrypted.

    Keys (all under `prefix`): `captures` (sorted set: open registration -> expiry, the shared
    slots), and per registration `cap:<id>:meta|state|log|dig`, each expiring `grace_s` after the
    challenge deadline.
    """

    keeps_frames = True

    def __init__(self, client: Any, *, prefix: str, keys: KeyRing, grace_s: float = 60.0) -> None:
        self.client = client
        self.grace_s = grace_s
        self.prefix = prefix
        self.keys = keys
        self._open = client.register_script(_OPEN)
        self._append = client.register_script(_APPEND)
        self._claim = client.register_script(_CLAIM)
        self._unclaim = client.register_script(_UNCLAIM)

    def _k(self, registration_id: str, part: str) -> str:
        return f"{self.prefix}:cap:{registration_id}:{part}"

    @property
    def _slots(self) -> str:
        return f"{self.prefix}:captures"

    def _seal(self, data: bytes, aad: str) -> bytes:
        key_id, blob = self.keys.encrypt(data, aad=aad)
        return key_id.encode() + b"\n" + blob

    def _open_sealed(self, data: bytes, aad: str) -> bytes:
        key_id, _, blob = data.partition(b"\n")
        return self.keys.decrypt(key_id.decode(), blob, aad=aad)

    def open(self, meta: CaptureMeta, *, max_open: int, now: float) -> bool:
        rid = meta.registration_id
        expires = meta.deadline + self.grace_s
        ttl_ms = max(1000, int((expires - now) * 1000))
        sealed = self._seal(json.dumps(asdict(meta)).encode(), f"capture-meta:{rid}")
        keys = [
            self._slots,
            self._k(rid, "meta"),
            self._k(rid, "state"),
            self._k(rid, "log"),
            self._k(rid, "dig"),
        ]
        ok = self._open(keys=keys, args=[now, max_open, expires, rid, sealed, ttl_ms])
        return bool(int(ok))

    def meta(self, registration_id: str) -> CaptureMeta | None:
        raw = self.client.get(self._k(registration_id, "meta"))
        if raw is None:
            return None
        data = json.loads(self._open_sealed(raw, f"capture-meta:{registration_id}"))
        return CaptureMeta(**data)

    def append(self, registration_id: str, frames: Sequence[RawFrame], *, seq: int | None) -> Appended:
        rid = registration_id
        ttl = self.client.pttl(self._k(rid, "state"))
        sealed = self._seal(encode_batch(frames), f"capture:{rid}")
        status, index, length = self._append(
            keys=[self._k(rid, "state"), self._k(rid, "log"), self._k(rid, "dig")],
            args=[-1 if seq is None else seq, batch_digest(frames), sealed, max(1000, int(ttl))],
        )
        st = status.decode() if isinstance(status, bytes) else str(status)
        return Appended(st, int(index), int(length))  # type: ignore[arg-type]

    def batches(self, registration_id: str, start: int, stop: int) -> list[list[RawFrame]]:
        if stop <= start:
            return []
        raw = self.client.lrange(self._k(registration_id, "log"), start, stop - 1)
        return [decode_batch(self._open_sealed(b, f"capture:{registration_id}")) for b in raw]

    def length(self, registration_id: str) -> int:
        return int(self.client.llen(self._k(registration_id, "dig")))

    def claim(self, registration_id: str) -> bool:
        return bool(
            int(self._claim(keys=[self._k(registration_id, "state"), self._slots], args=[registration_id]))
        )

    def unclaim(self, registration_id: str) -> None:
        meta = self.meta(registration_id)
        expires = (meta.deadline if meta is not None else time.time()) + self.grace_s
        self._unclaim(keys=[self._k(registration_id, "state"), self._slots], args=[registration_id, expires])

    def drop(self, registration_id: str) -> None:
        rid = registration_id
        pipe = self.client.pipeline()
        pipe.delete(self._k(rid, "meta"), self._k(rid, "log"), self._k(rid, "dig"))
        pipe.set(self._k(rid, "state"), "done", px=600_000)
        pipe.zrem(self._slots, rid)
        pipe.execute()

    def open_count(self, *, now: float) -> int:
        self.client.zremrangebyscore(self._slots, "-inf", now)
        return int(self.client.zcard(self._slots))
