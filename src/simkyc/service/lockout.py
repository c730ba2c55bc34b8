"""The liveness lockout: too many failed liveness checks for one ID lock that ID for a while.

`max_failures` failed liveness checks for one ID within `window` seconds lock it for `lock_for`
seconds: opening a registration or a re-verification for it is then refused with
`PolicyError(LIVENESS_LOCKED)` and `retry_after` (seconds).

The count lives in the database, so a restart or a second server process sees the same lock. Each
failed check is a `liveness_failure` row keyed by the ID's HMAC lookup key (`identity.id_hash`,
never the number), written in the transaction that records the decision. The lock is not stored:
every check derives it from the rows (`locked_until`). A passed check clears the ID's count unless
the ID is locked. Rows older than `window + lock_for` no longer matter; they are deleted the next
time a failure is recorded for that ID.

The registration use cases call `check` and `record` when `RegistrationDeps.lockout` is set (the
service sets it from `SIMKYC_LOCKOUT_*`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from simkyc.errors import PolicyError, Reason
from simkyc.store.schema import liveness_failure

__all__ = ["LockoutConfig", "check", "locked_until", "record"]


@dataclass(frozen=True, slots=True)
class LockoutConfig:
    """`max_failures` failed liveness checks within `window` seconds lock the ID for `lock_for` seconds."""

    max_failures: int = 5
    window: float = 600.0
    lock_for: float = 1800.0

    @property
    def horizon(self) -> float:
        """Seconds a failure can still matter for: it may have started a lock that still runs."""
        return self.window + self.lock_for


def locked_until(failures: Iterable[float], config: LockoutConfig) -> float | None:
    """When the latest lock implied by these failure times (epoch seconds) ends, or None.

    A failure that is at least the `max_failures`-th within `window` seconds (counting itself) locks
    the ID for `lock_for` seconds from that failure. A failure during a lock (from a capture opened
    before the lock began) can therefore extend the lock. Failures exactly `window` seconds apart
    are not in one window.
    """
    times = sorted(failures)
    until: float | None = None
    first = 0
    for i, t in enumerate(times):
        while times[first] <= t - config.window:
            first += 1
        if i - first + 1 >= config.max_failures:
            until = t + config.lock_for
    return until


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything simkyc stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _failure_times(conn: Connection, id_key: str, *, now: datetime, config: LockoutConfig) -> list[float]:
    since = now - timedelta(seconds=config.horizon)
    rows = conn.execute(
        select(liveness_failure.c.failed_at).where(
            liveness_failure.c.id_hash == id_key, liveness_failure.c.failed_at > since
        )
    ).scalars()
    return [_utc(at).timestamp() for at in rows]


def check(conn: Connection, id_key: str, *, now: datetime, config: LockoutConfig) -> None:
    """Raise `PolicyError(LIVENESS_LOCKED)` with `retry_after` (seconds) while `id_key` is locked."""
    until = locked_until(_failure_times(conn, id_key, now=now, config=config), config)
    if until is not None and until > now.timestamp():
        raise PolicyError(Reason.LIVENESS_LOCKED, detail={"retry_after": round(until - now.timestamp(), 1)})


def record(conn: Connection, id_key: str, *, passed: bool, now: datetime, config: LockoutConfig) -> bool:
    """Count one liveness outcome for `id_key`, inside the decision's transaction.

    A failure adds a row and deletes this ID's rows older than `config.horizon`. A pass deletes the
    ID's rows unless it is locked. Returns True when this failure starts or extends a lock.
    """
    times = _failure_times(conn, id_key, now=now, config=config)
    before = locked_until(times, config)
    if passed:
        if before is None or before <= now.timestamp():
            conn.execute(delete(liveness_failure).where(liveness_failure.c.id_hash == id_key))
        return False
    conn.execute(insert(liveness_failure).values(id_hash=id_key, failed_at=now))
    conn.execute(
        delete(liveness_failure).where(
            liveness_failure.c.id_hash == id_key,
            liveness_failure.c.failed_at <= now - timedelta(seconds=config.horizon),
        )
    )
    after = locked_until([*times, now.timestamp()], config)
    return after is not None and after != before
