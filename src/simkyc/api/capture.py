"""Live capture sessions that any worker can continue.

The frames a page streams are pushed into a server-side `LivenessSession` as they arrive, so the
page gets progress events ("blink done, now turn left") while the customer acts. The truth of a
capture is not that session but the log of batches in the `CaptureStore` (Redis with several
workers; see `simkyc.api.capture_store`): each batch is appended to the log, then pushed into this
worker's session. A worker that gets a request for a capture it has not followed (the proxy moved it,
its worker died, the worker restarted) builds a fresh session and replays the log first. The
analysis is deterministic, so the replayed session is the one the other worker had: same events,
same decision. The proxy keeps a registration on one worker while it lives (`deploy/nginx.conf`),
so a replay is the exception that costs the analysis of the frames so far, never a correctness
question.

A worker killed in the middle of a batch loses at most that batch: the page either sends it again
(same `seq`: recognised, never analysed twice) or finishes, and a capture without every action is a
RETRY, never a wrong decision. `claim` lets exactly one finish decide; the decision itself checks the
challenge is still the registration's, so a finish retried after a committed RETRY decides nothing.

The models behind the sessions are shared and not thread-safe (LiteRT interpreters), so every push,
replay and decision holds `models_lock`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from simkyc.api.capture_store import CaptureMeta, CaptureStore, RawFrame, raw_light
from simkyc.core.faces.types import Image
from simkyc.core.images import decode_frame
from simkyc.core.liveness import LivenessSession
from simkyc.core.liveness.challenge import Challenge
from simkyc.core.liveness.types import Frame, ProgressEvent
from simkyc.errors import ConflictError, InputError, NotFoundError, PolicyError, Reason

__all__ = [
    "MAX_BATCHES",
    "CaptureSession",
    "CaptureSessions",
    "PortraitCache",
    "PortraitStore",
    "push_frames",
]

MAX_BATCHES = 200  # per capture; with 40 frames a batch, far more than a 2-minute challenge yields


@dataclass
class CaptureSession:
    """This worker's live session of one capture, and how much of the log it has consumed."""

    meta: CaptureMeta
    challenge: Challenge
    session: LivenessSession
    consumed: int = 0  # batches of the log pushed into `session`
    frames: int = 0
    replayed: int = 0  # batches this worker did not receive but replayed from the log
    events: dict[int, list[ProgressEvent]] = field(default_factory=dict)  # by batch (resends)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def registration_id(self) -> str:
        return self.meta.registration_id

    @property
    def clerk_id(self) -> int:
        return self.meta.clerk_id

    @property
    def outlet_id(self) -> int | None:
        return self.meta.outlet_id

    @property
    def phone(self) -> str:
        return self.meta.phone

    @property
    def id_masked(self) -> str:
        return self.meta.id_masked


def push_frames(
    capture: CaptureSession, frames: list[Frame], *, models_lock: threading.Lock
) -> list[ProgressEvent]:
    """Feed frames in capture order; stops early once the session is decided either way."""
    events: list[ProgressEvent] = []
    with models_lock:
        for frame in sorted(frames, key=lambda f: f.timestamp):
            if capture.session.done:
                break
            events.extend(capture.session.push(frame))
            capture.frames += 1
    return events


class CaptureSessions:
    """The captures this worker follows, over the shared `CaptureStore`.

    `new_session(challenge)` builds a liveness session (models loaded on first use). Sessions of
    captures followed by other workers are rebuilt from the log on demand; at most `max_cached`
    stay in memory (least recently used first out) when the store keeps the log.
    """

    def __init__(
        self,
        store: CaptureStore,
        *,
        new_session: Callable[[Challenge], LivenessSession],
        models_lock: threading.Lock,
        max_open: int = 64,
        max_cached: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.new_session = new_session
        self.models_lock = models_lock
        self.max_open = max_open
        self.max_cached = max_cached
        self.clock = clock
        self._cache: OrderedDict[str, CaptureSession] = OrderedDict()
        self._lock = threading.Lock()
        self.replays = 0  # captures rebuilt from the log by this worker

    # -- open -----------------------------------------------------------------------------------------
    def open(self, meta: CaptureMeta, challenge: Challenge) -> list[ProgressEvent]:
        """Take one of the shared slots and start the live session; returns the first events."""
        if not self.store.open(meta, max_open=self.max_open, now=self.clock()):
            raise PolicyError(Reason.RATE_LIMITED, "Too many captures are open; try again shortly.")
        capture = CaptureSession(meta, challenge, self.new_session(challenge))
        events = capture.session.start(challenge.issued_at)
        self._remember(capture)
        return events

    # -- frames ---------------------------------------------------------------------------------------
    def push(
        self, registration_id: str, clerk_id: int, raw: Sequence[RawFrame], *, seq: int | None = None
    ) -> tuple[CaptureSession, list[ProgressEvent]]:
        """Append a batch to the log and push it into the session; returns the events it caused.

        The frames are decoded first, so an unreadable image never enters the log.
        """
        frames = [Frame(decode_frame(f[0]), f[1], raw_light(f)) for f in raw]
        capture = self._get(registration_id, clerk_id)
        with capture.lock:
            if self.store.length(registration_id) >= MAX_BATCHES:
                raise InputError(Reason.REQUEST_TOO_LARGE, f"at most {MAX_BATCHES} batches per capture")
            placed = self.store.append(registration_id, raw, seq=seq)
            if placed.status == "closed":
                raise ConflictError(Reason.REGISTRATION_STATE, "This capture was already finished.")
            if placed.status == "conflict":
                raise ConflictError(
                    Reason.CAPTURE_OUT_OF_ORDER,
                    f"batch {placed.index} does not follow the {placed.length} received",
                    detail={"received": placed.length},
                )
            self._catch_up(capture, placed.index)
            if placed.status == "duplicate":  # a resend of a batch already in the log
                self._catch_up(capture, placed.index + 1)
                return capture, list(capture.events.get(placed.index, []))
            events = push_frames(capture, frames, models_lock=self.models_lock)
            capture.events[placed.index] = events
            capture.consumed = placed.index + 1
            return capture, events

    # -- finish ---------------------------------------------------------------------------------------
    def claim(self, registration_id: str, clerk_id: int) -> CaptureSession:
        """The capture, caught up with the whole log, for the one finish allowed to decide it."""
        capture = self._get(registration_id, clerk_id)
        if not self.store.claim(registration_id):
            raise ConflictError(Reason.REGISTRATION_STATE, "This capture was already finished.")
        try:
            with capture.lock:
                self._catch_up(capture, self.store.length(registration_id))
        except BaseException:
            self.store.unclaim(registration_id)
            raise
        return capture

    def release(self, registration_id: str, *, decided: bool) -> None:
        """After a decision: forget the capture everywhere. Without one: reopen it for a new finish."""
        if not decided:
            self.store.unclaim(registration_id)
            return
        self.store.drop(registration_id)
        with self._lock:
            self._cache.pop(registration_id, None)

    def __len__(self) -> int:
        return self.store.open_count(now=self.clock())

    # -- internals ------------------------------------------------------------------------------------
    def _get(self, registration_id: str, clerk_id: int) -> CaptureSession:
        with self._lock:
            capture = self._cache.get(registration_id)
            if capture is not None:
                self._cache.move_to_end(registration_id)
        meta = capture.meta if capture is not None else self.store.meta(registration_id)
        if meta is None or meta.clerk_id != clerk_id:
            raise NotFoundError(Reason.NOT_FOUND, "No capture is open for this registration.")
        if capture is not None:
            return capture
        if not self.store.keeps_frames:  # one worker, and it lost the session (a restart)
            raise NotFoundError(Reason.NOT_FOUND, "No capture is open for this registration.")
        challenge = Challenge.from_token(meta.challenge_token)
        capture = CaptureSession(meta, challenge, self.new_session(challenge))
        capture.session.start(challenge.issued_at)
        with self._lock:  # another thread may have rebuilt it meanwhile: keep one
            capture = self._cache.setdefault(registration_id, capture)
        self._remember(capture)
        return capture

    def _catch_up(self, capture: CaptureSession, upto: int) -> None:
        """Replay log batches `consumed .. upto - 1` (sent to other workers) into the session."""
        if capture.consumed >= upto:
            return
        if capture.consumed == 0 and capture.frames == 0:
            self.replays += 1
        start = capture.consumed
        for i, batch in enumerate(self.store.batches(capture.registration_id, start, upto)):
            frames = [Frame(decode_frame(f[0]), f[1], raw_light(f)) for f in batch]
            capture.events[start + i] = push_frames(capture, frames, models_lock=self.models_lock)
            capture.consumed = start + i + 1
            capture.replayed += 1

    def _remember(self, capture: CaptureSession) -> None:
        now = self.clock()
        with self._lock:
            self._cache[capture.registration_id] = capture
            self._cache.move_to_end(capture.registration_id)
            for rid in [r for r, c in self._cache.items() if c.meta.deadline + 120.0 < now]:
                del self._cache[rid]
            if self.store.keeps_frames:
                while len(self._cache) > self.max_cached:
                    self._cache.popitem(last=False)


class PortraitStore(Protocol):
    """ID portraits cropped by OCR, held briefly under a random token until the registration opens."""

    def put(self, image: Image) -> str: ...

    def take(self, token: str) -> Image | None: ...


class PortraitCache:
    """ID portraits cropped by OCR, held briefly under a random token until the registration opens.

    The page gets the token, never the crop back: images only travel from the counter to the server.
    This one is this process's memory; `simkyc.api.shared_state.RedisPortraits` serves many workers.
    """

    def __init__(self, *, ttl_s: float = 900.0, max_items: int = 256) -> None:
        self._items: dict[str, tuple[float, Image]] = {}
        self._lock = threading.Lock()
        self.ttl_s = ttl_s
        self.max_items = max_items

    def put(self, image: Image) -> str:
        token = secrets.token_urlsafe(18)
        now = time.time()
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            if len(self._items) >= self.max_items:
                self._items.pop(next(iter(self._items)))
            self._items[token] = (now + self.ttl_s, image)
        return token

    def take(self, token: str) -> Image | None:
        """The portrait for `token` (once), or None when unknown or expired."""
        with self._lock:
            item = self._items.pop(token, None)
        if item is None or item[0] < time.time():
            return None
        return item[1]
