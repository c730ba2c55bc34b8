"""Liveness challenges: a random sequence of distinct actions, a nonce and a deadline, under an HMAC.

The server issues the challenge and later checks that the one it receives back
is its own (`verify_challenge`), unexpired, and, through the caller's store
keyed by `challenge.nonce` (the challenge id), not used before. Actions are
drawn with `secrets`, so a client cannot predict them and pre-record a video.
With a light challenge (`light_colours` > 0) the challenge also carries the colour
sequence the page flashes (`simkyc.core.liveness.light`); `light_waived` records that a
light challenge was due but left out for a customer sensitive to flashing light.
Both are covered by the MAC.
"""

from __future__ import annotations

import base64
import hmac
import json
import random
import secrets
from dataclasses import dataclass, replace
from hashlib import sha256

from simkyc.core.liveness.light import LightColour, LightStep, draw_light
from simkyc.core.liveness.types import Action
from simkyc.errors import LivenessError, Reason

__all__ = [
    "DEFAULT_TTL_S",
    "Challenge",
    "new_challenge",
    "sign_challenge",
    "verify_challenge",
]

DEFAULT_TTL_S = 30.0
_VERSION = "simkyc-liveness-v1"
_MIN_KEY_BYTES = 16


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the customer must do, between `issued_at` and `deadline` (seconds); `mac` is hex HMAC-SHA256."""

    actions: tuple[Action, ...]
    nonce: str  # 128-bit, hex; also the challenge id a store records as used
    issued_at: float
    deadline: float
    mac: str = ""
    light: tuple[LightStep, ...] = ()  # the colour sequence to flash; empty: no light challenge
    light_waived: bool = False  # a light challenge was due and was left out (flash-sensitive customer)

    @property
    def challenge_id(self) -> str:
        return self.nonce

    def message(self) -> bytes:
        """The canonical bytes the MAC covers (times to the millisecond)."""
        acts = ",".join(a.value for a in self.actions)
        text = f"{_VERSION}|{self.nonce}|{acts}|{self.issued_at:.3f}|{self.deadline:.3f}"
        if self.light:
            text += "|light=" + ",".join(f"{s.colour.value}:{s.ms}" for s in self.light)
        if self.light_waived:
            text += "|light_waived"
        return text.encode()

    def to_token(self) -> str:
        """A URL-safe string to hand to the capture page and get back with the frames."""
        body: dict[str, object] = {
            "a": [a.value for a in self.actions],
            "n": self.nonce,
            "i": round(self.issued_at, 3),
            "d": round(self.deadline, 3),
            "m": self.mac,
        }
        if self.light:
            body["l"] = [[s.colour.value, s.ms] for s in self.light]
        if self.light_waived:
            body["w"] = 1
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()

    @classmethod
    def from_token(cls, token: str) -> Challenge:
        """Parse a token; the result is still unverified.

        :raises LivenessError: CHALLENGE_INVALID when the token is malformed.
        """
        try:
            body = json.loads(base64.urlsafe_b64decode(token.encode()))
            return cls(
                actions=tuple(Action(a) for a in body["a"]),
                nonce=str(body["n"]),
                issued_at=float(body["i"]),
                deadline=float(body["d"]),
                mac=str(body["m"]),
                light=tuple(LightStep(LightColour(c), int(ms)) for c, ms in body.get("l", [])),
                light_waived=bool(body.get("w", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LivenessError(Reason.CHALLENGE_INVALID, "malformed challenge token") from exc


def _mac(challenge: Challenge, key: bytes) -> str:
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError("challenge key must be at least 16 bytes")
    return hmac.new(key, challenge.message(), sha256).hexdigest()


def sign_challenge(challenge: Challenge, key: bytes) -> Challenge:
    """The same challenge with its MAC set."""
    return replace(challenge, mac=_mac(challenge, key))


def verify_challenge(challenge: Challenge, key: bytes, *, now: float | None = None) -> Challenge:
    """Check the MAC (constant time) and, when `now` is given, that the deadline has not passed.

    Single use is the caller's job: record `challenge.challenge_id` and refuse it the second time.

    :raises LivenessError: CHALLENGE_INVALID (forged or altered) or LIVENESS_TIMEOUT (expired).
    """
    if not challenge.mac or not hmac.compare_digest(challenge.mac, _mac(challenge, key)):
        raise LivenessError(Reason.CHALLENGE_INVALID)
    if len(set(challenge.actions)) != len(challenge.actions) or not challenge.actions:
        raise LivenessError(Reason.CHALLENGE_INVALID, "challenge actions must be distinct and non-empty")
    if now is not None and now > challenge.deadline:
        raise LivenessError(Reason.LIVENESS_TIMEOUT)
    return challenge


def new_challenge(
    key: bytes,
    *,
    now: float,
    n_actions: int = 2,
    ttl_s: float = DEFAULT_TTL_S,
    seed: int | None = None,
    light_colours: int = 0,
    light_waived: bool = False,
) -> Challenge:
    """A signed challenge of `n_actions` (2 or 3) distinct actions in random order.

    `light_colours` > 0 adds a light challenge of that many colours (`draw_light`);
    `light_waived` records that one was due but left out. `seed` is for tests only: it
    makes the draw (actions, nonce, colours) reproducible; without it everything comes
    from `secrets`.
    """
    if n_actions not in (2, 3):
        raise ValueError("a challenge has 2 or 3 actions")
    pool = list(Action)
    rng: random.Random
    if seed is None:
        rng = secrets.SystemRandom()
        nonce = secrets.token_hex(16)
    else:
        det = random.Random(seed)
        rng = det
        nonce = det.getrandbits(128).to_bytes(16, "big").hex()
    actions = tuple(rng.sample(pool, n_actions))
    light = draw_light(rng, n_colours=light_colours) if light_colours > 0 else ()
    issued = round(now, 3)
    ch = Challenge(
        actions=actions,
        nonce=nonce,
        issued_at=issued,
        deadline=round(issued + ttl_s, 3),
        light=light,
        light_waived=light_waived and not light,
    )
    return sign_challenge(ch, key)
