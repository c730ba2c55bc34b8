"""Sessions that end when they should on every process, and sign-in delays that grow with failures.

Sessions. A session token (`simkyc.service.auth.SessionSigner`) is honoured only while its row in
`staff_session` is not ended, the account is active, the account's role and outlet are the ones the
token carries, and the account's password is the one it signed in with (`password_tag`, a digest of
the stored hash). Sign-out ends the row; disabling an account, changing its role, outlet or password
needs no further step: the next check sees it. Each process caches a positive check for at most
`SessionStore.cache_s` seconds (2 s), which is therefore the longest a change takes to reach another
process; the process that made the change forgets its cache at once. Restarts change nothing: the
database is the truth.

Sign-in delays. Failed sign-ins are counted in `login_failure` under three keys: the account, the
client address, and the pair. Past a few free failures each key imposes a delay since its last
failure that doubles with every further failure, up to a cap: long for the pair and the address
(the stranger's own), short for the account alone (`ACCOUNT_CAP_S`), so a stranger hammering a
clerk's name from elsewhere slows that clerk by seconds, never locks them out. A throttled attempt
is refused (429 RATE_LIMITED with Retry-After) before any argon2 work and without an audit entry;
the failure that starts a delay is audited once (`auth.throttled`).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from simkyc.errors import AuthError, PolicyError, Reason
from simkyc.store.schema import login_failure, staff_session, staff_user

__all__ = [
    "ACCOUNT_CAP_S",
    "SessionStore",
    "SignInThrottle",
    "ThrottleRule",
    "password_tag",
    "session_key",
]

ACCOUNT_CAP_S = 8.0


def session_key(session_id: str) -> str:
    """The stored form of a token's session id (the id itself never reaches the database)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def password_tag(password_hash: str) -> str:
    """A short digest of the stored password hash: changes whenever the password does."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass
class SessionStore:
    """Opens, checks and ends sessions in the database, with a short per-process cache of checks."""

    engine: Engine  # writes (open, end)
    read_engine: Engine | None = None  # checks; defaults to `engine`
    cache_s: float = 2.0
    _ok: dict[str, float] = field(default_factory=dict)  # session key -> checked until (epoch)
    _ended: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(
        self, conn: Connection, *, session_id: str, user_id: int, pw_hash: str, now: float, ttl: float
    ) -> None:
        """Record a new session inside the sign-in's transaction."""
        conn.execute(
            sa.insert(staff_session).values(
                id=session_key(session_id),
                user_id=user_id,
                password_tag=password_tag(pw_hash),
                created_at=_dt(now),
                expires_at=_dt(now + ttl),
            )
        )
        # sessions that ran out no longer matter; drop this account's (bounded work per sign-in)
        conn.execute(
            sa.delete(staff_session).where(
                staff_session.c.user_id == user_id, staff_session.c.expires_at < _dt(now - 86_400)
            )
        )

    def check(self, *, session_id: str, user_id: int, role: str, outlet_id: int | None, now: float) -> None:
        """Raise AuthError(NOT_AUTHENTICATED) unless the session and its account still stand as signed."""
        key = session_key(session_id)
        with self._lock:
            if key in self._ended:
                raise AuthError(Reason.NOT_AUTHENTICATED, "The session was closed; please sign in again.")
            until = self._ok.get(key)
        if until is not None and until > now:
            return
        with (self.read_engine or self.engine).connect() as conn:
            row = conn.execute(
                sa.select(
                    staff_session.c.user_id,
                    staff_session.c.password_tag,
                    staff_session.c.ended_at,
                    staff_session.c.expires_at,
                    staff_user.c.active,
                    staff_user.c.role,
                    staff_user.c.outlet_id,
                    staff_user.c.password_hash,
                )
                .join(staff_user, staff_user.c.id == staff_session.c.user_id)
                .where(staff_session.c.id == key)
            ).first()
        valid = (
            row is not None
            and row.ended_at is None
            and _aware(row.expires_at).timestamp() > now
            and int(row.user_id) == user_id
            and bool(row.active)
            and row.role == role
            and row.outlet_id == outlet_id
            and hmac.compare_digest(row.password_tag, password_tag(row.password_hash))
        )
        with self._lock:
            if len(self._ok) > 50_000:
                self._ok = {k: v for k, v in self._ok.items() if v > now}
            if valid:
                self._ok[key] = now + self.cache_s
            else:
                self._ok.pop(key, None)
                if row is not None and row.ended_at is not None:
                    self._ended.add(key)  # an ended session never comes back
        if not valid:
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session is no longer valid; please sign in again.")

    def end(self, session_id: str, *, now: float) -> None:
        """Sign out: the session's row is ended (every process refuses it within `cache_s`)."""
        key = session_key(session_id)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(staff_session)
                .where(staff_session.c.id == key, staff_session.c.ended_at.is_(None))
                .values(ended_at=_dt(now))
            )
        with self._lock:
            self._ok.pop(key, None)
            self._ended.add(key)

    def forget(self) -> None:
        """Drop cached checks (after an account change made by this process)."""
        with self._lock:
            self._ok.clear()


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """After `free` failures in `window_s`, each further one waits base * 2**(n - free) s, at most `cap_s`."""

    free: int
    base_s: float
    cap_s: float
    window_s: float = 900.0

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap_s, self.base_s * 2.0 ** min(failures - self.free, 30))


@dataclass
class SignInThrottle:
    """Growing sign-in delays per account, per client address and per pair, counted in the database."""

    pepper: bytes
    pair: ThrottleRule = ThrottleRule(free=3, base_s=1.0, cap_s=300.0)
    address: ThrottleRule = ThrottleRule(free=10, base_s=1.0, cap_s=300.0)
    account: ThrottleRule = ThrottleRule(free=5, base_s=1.0, cap_s=ACCOUNT_CAP_S)

    def keys(self, username: str, client: str) -> dict[str, tuple[str, ThrottleRule]]:
        def k(text: str) -> str:
            return hmac.new(self.pepper, text.encode("utf-8"), hashlib.sha256).hexdigest()

        user = username.strip().casefold()
        return {
            "pair": (k(f"pair\x00{user}\x00{client}"), self.pair),
            "address": (k(f"addr\x00{client}"), self.address),
            "account": (k(f"user\x00{user}"), self.account),
        }

    def _state(self, conn: Connection, key: str, rule: ThrottleRule, now: float) -> tuple[int, float]:
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.max(login_failure.c.failed_at)).where(
                login_failure.c.key == key, login_failure.c.failed_at > _dt(now - rule.window_s)
            )
        ).one()
        last = _aware(row[1]).timestamp() if row[1] is not None else 0.0
        return int(row[0]), last

    def check(self, conn: Connection, *, username: str, client: str, now: float) -> None:
        """PolicyError(RATE_LIMITED) with `retry_after` while any of the three keys imposes a delay."""
        wait = 0.0
        for key, rule in self.keys(username, client).values():
            n, last = self._state(conn, key, rule, now)
            wait = max(wait, last + rule.delay(n) - now)
        if wait > 0:
            raise PolicyError(
                Reason.RATE_LIMITED,
                "Too many failed sign-ins; wait and try again.",
                detail={"retry_after": round(wait, 1)},
            )

    def failed(self, conn: Connection, *, username: str, client: str, now: float) -> list[str]:
        """Count one failure (in the caller's transaction); returns the keys whose delay it starts."""
        started = []
        horizon = _dt(now - max(self.pair.window_s, self.address.window_s, self.account.window_s))
        for name, (key, rule) in self.keys(username, client).items():
            n, _ = self._state(conn, key, rule, now)
            conn.execute(sa.insert(login_failure).values(key=key, failed_at=_dt(now)))
            conn.execute(
                sa.delete(login_failure).where(
                    login_failure.c.key == key, login_failure.c.failed_at < horizon
                )
            )
            if rule.delay(n) == 0.0 and rule.delay(n + 1) > 0.0:
                started.append(name)
        return started

    def succeeded(self, conn: Connection, *, username: str, client: str) -> None:
        """A right password clears the pair's count (the address and the account keep theirs)."""
        key, _ = self.keys(username, client)["pair"]
        conn.execute(sa.delete(login_failure).where(login_failure.c.key == key))

    @staticmethod
    def sweep(conn: Connection, *, now: float, older_than_s: float = 86_400.0) -> int:
        """Delete failures that can no longer delay anything (for retention)."""
        done = conn.execute(
            sa.delete(login_failure).where(login_failure.c.failed_at < _dt(now - older_than_s))
        )
        return int(done.rowcount or 0)
