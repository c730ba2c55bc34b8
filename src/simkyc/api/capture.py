"""Live capture sessions: the frames a page streams are pushed into a server-side `LivenessSession`
as they arrive, so the page gets progress events ("blink done, now turn left") while the customer
acts, and the decision needs no second pass over the frames.

Sessions live in this process's memory, keyed by registration id, and end at `finish` or when
their challenge deadline has long passed. The models behind them are shared and not thread-safe
(LiteRT interpreters), so every push and decision holds `models_lock`.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from simkyc.core.faces.types import Image
from simkyc.core.liveness import LivenessSession
from simkyc.core.liveness.challenge import Challenge
from simkyc.core.liveness.types import Frame, ProgressEvent
from simkyc.errors import ConflictError, NotFoundError, PolicyError, Reason

__all__ = ["CaptureSession", "CaptureSessions", "PortraitCache", "push_frames"]


@dataclass
class CaptureSession:
    """One registration's capture: its liveness session and who may feed it."""

    registration_id: str
    challenge: Challenge
    session: LivenessSession
    clerk_id: int
    outlet_id: int | None
    phone: str
    id_masked: str
    frames: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CaptureSessions:
    """The open captures of this process, at most `max_open` at once."""

    def __init__(self, *, max_open: int = 64, grace_s: float = 60.0) -> None:
        self._open: dict[str, CaptureSession] = {}
        self._lock = threading.Lock()
        self.max_open = max_open
        self.grace_s = grace_s

    def add(self, capture: CaptureSession) -> None:
        with self._lock:
            self._sweep()
            if len(self._open) >= self.max_open:
                raise PolicyError(Reason.RATE_LIMITED, "Too many captures are open; try again shortly.")
            self._open[capture.registration_id] = capture

    def get(self, registration_id: str) -> CaptureSession:
        with self._lock:
            capture = self._open.get(registration_id)
        if capture is None:
            raise NotFoundError(Reason.NOT_FOUND, "No capture is open for this registration.")
        return capture

    def pop(self, registration_id: str) -> CaptureSession:
        with self._lock:
            capture = self._open.pop(registration_id, None)
        if capture is None:
            raise ConflictError(Reason.REGISTRATION_STATE, "This capture was already finished.")
        return capture

    def __len__(self) -> int:
        return len(self._open)

    def _sweep(self) -> None:
        now = time.time()
        for key in [k for k, c in self._open.items() if c.challenge.deadline + self.grace_s < now]:
            del self._open[key]


def push_frames(
    capture: CaptureSession, frames: list[Frame], *, models_lock: threading.Lock
) -> list[ProgressEvent]:
    """Feed frames in capture order; stops early once the session is decided either way."""
    events: list[ProgressEvent] = []
    with capture.lock, models_lock:
        for frame in sorted(frames, key=lambda f: f.timestamp):
            if capture.session.done:
                break
            events.extend(capture.session.push(frame))
            capture.frames += 1
    return events


class PortraitCache:
    """ID portraits cropped by OCR, held briefly under a random token until the registration opens.

    The page gets the token, never the crop back: images only travel from the counter to the server.
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
