"""Platform checks are audited in batches that a crash cannot lose: group commit on the event loop.

A check's answer leaves only after its audit record is committed (`record`, awaited by the route).
The first check queued schedules one commit `linger_s` (2 ms) later on the event loop, which
takes every record queued by then: one transaction, one chained audit entry per (actor, action)
listing each check (masked number, answer, time). Under load each commit (one hash, one insert)
carries many checks, so the chain costs a fraction of a millisecond per check, and no answered
check can be missing from the log after a SIGKILL. The commit runs on the loop's own thread, as
the platform check's read does: a writer thread would wait for the interpreter lock behind the
busy loop at every step of its commit. On PostgreSQL the commit is network round trips and the
server's fsync, time the loop would sit idle: there one writer thread commits while the loop goes on
serving, and everything queued meanwhile goes into the next commit as soon as it returns.

On SQLite the commit uses its own connection with `synchronous=NORMAL` (WAL mode): a commit is in
the WAL, in the operating system's hands, before the answer leaves, so a crash or SIGKILL of the
process loses nothing, without an fsync per batch (0.03 ms instead of several ms a commit on this
disk). An operating-system crash or power loss could lose the last batches, as SQLite documents for
that mode; the registration use cases keep `synchronous=FULL`. PostgreSQL commits as configured.

`add` (fire and forget, written by a background thread within `interval_s`) remains for records
whose loss would not matter.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from simkyc.store.uow import Database

__all__ = ["AuditBatcher"]

log = logging.getLogger("simkyc.api")

Entry = dict[str, Any]
_Durable = tuple[Entry, "asyncio.Future[None]"]


class AuditBatcher:
    """Durable batched audit records (`record`) and fire-and-forget ones (`add`)."""

    def __init__(
        self, db: Database, *, interval_s: float = 0.5, max_batch: int = 5000, linger_s: float = 0.002
    ) -> None:
        self.db = _writer_database(db)
        self.linger_s = linger_s
        self.interval_s = interval_s
        self.max_batch = max_batch
        self._queue: list[Entry] = []  # `add`: written by the background thread
        self._durable: list[_Durable] = []  # `record`: committed before each answer leaves
        self._scheduled: asyncio.AbstractEventLoop | None = None  # the loop a commit is scheduled on
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # PostgreSQL: commit on one writer thread (see the module docstring); SQLite: on the loop
        self._committer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="simkyc-audit-commit")
            if self.db.engine.dialect.name != "sqlite"
            else None
        )

    async def record(self, *, actor: str, action: str, obj: str, details: dict[str, Any]) -> None:
        """Queue one entry and return once it is committed (the caller answers only then)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._durable.append((_entry(actor, action, obj, details), done))
            # A commit scheduled on a loop that has since closed (an app restarted in one process)
            # never runs: schedule one here, or this record would wait forever.
            if self._scheduled is not loop:
                self._scheduled = loop
                loop.call_later(self.linger_s, self._commit_durable)
        await done

    def _commit_durable(self) -> None:
        """One commit for every record queued so far (scheduled on the event loop)."""
        with self._lock:
            batch, self._durable = self._durable, []
            if self._committer is None or not batch:
                self._scheduled = None
        if not batch:
            return
        if self._committer is not None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self._committer, self._write_batch, batch)
            pending.add_done_callback(lambda f: self._committed(loop, batch, f.result()))
            return
        self._settle(batch, self._write_batch(batch))

    def _committed(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Durable], exc: Exception | None
    ) -> None:
        """After a writer-thread commit: answer its records, then commit what queued meanwhile."""
        self._settle(batch, exc)
        with self._lock:
            if self._durable:
                loop.call_soon(self._commit_durable)
            else:
                self._scheduled = None

    def _write_batch(self, batch: list[_Durable]) -> Exception | None:
        try:
            with self._flush_lock:
                self._write([e for e, _ in batch])
        except Exception as exc:
            log.exception("audit commit failed")
            return exc
        return None

    @staticmethod
    def _settle(batch: list[_Durable], exc: Exception | None) -> None:
        """Release the waiting answers; on a failed commit each request fails instead (never unaudited)."""
        for _, fut in batch:
            if fut.done() or fut.get_loop().is_closed():
                continue
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(RuntimeError(f"audit commit failed ({type(exc).__name__})"))

    def add(self, *, actor: str, action: str, obj: str, details: dict[str, Any]) -> None:
        """Queue one entry (timestamped now); starts the writer thread on first use."""
        with self._lock:
            self._queue.append(_entry(actor, action, obj, details))
            full = len(self._queue) >= self.max_batch
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="simkyc-audit-batch", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write everything `add` queued now (one entry per actor and action); returns the count."""
        with self._flush_lock:
            with self._lock:
                batch, self._queue = self._queue, []
            if batch:
                self._write(batch)
            return len(batch)

    def _write(self, batch: list[Entry]) -> None:
        groups: dict[tuple[str, str], list[Entry]] = {}
        for e in batch:
            groups.setdefault((e["actor"], e["action"]), []).append(e)
        with self.db.uow() as uow:
            for (actor, action), entries in groups.items():
                uow.audit(
                    actor=actor,
                    action=action,
                    obj=f"batch:{len(entries)}",
                    details={
                        "count": len(entries),
                        "items": [
                            {
                                "object": e["obj"],
                                "at": e["at"].isoformat(timespec="milliseconds"),
                                **e["details"],
                            }
                            for e in entries
                        ],
                    },
                    at=entries[-1]["at"],
                )
            uow.commit()

    def close(self) -> None:
        """Stop the writer and flush what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
        if self._committer is not None:
            self._committer.shutdown(wait=True)  # the commit in flight, if any
        with self._lock:
            batch, self._durable = self._durable, []
            self._scheduled = None
        if batch:
            self._settle(batch, self._write_batch(batch))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep the writer alive; the next flush retries with new entries
                log.exception("audit batch flush failed")


def _entry(actor: str, action: str, obj: str, details: dict[str, Any]) -> Entry:
    return {"actor": actor, "action": action, "obj": obj, "details": details, "at": datetime.now(UTC)}


def _writer_database(db: Database) -> Database:
    """The batch writer's database: on SQLite its own engine with `synchronous=NORMAL` (see above)."""
    if db.engine.dialect.name != "sqlite":
        return db
    from sqlalchemy import event

    from simkyc.store.db import make_engine

    engine = make_engine(db.engine.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _normal(dbapi_conn: Any, _record: Any) -> None:  # runs after make_engine's own settings
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return Database(engine=engine, keys=db.keys, checkpoint_every=db.checkpoint_every)
