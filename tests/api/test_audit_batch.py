"""Durable platform-check audit: no answer before its record is committed, on SQLite and PostgreSQL.

On SQLite the group commit runs on the event loop; on PostgreSQL on one writer thread while the
loop goes on, the records queued meanwhile forming the next commit. Either way every awaited record
is in the chained log, once, and the chain verifies.
"""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa

from simkyc.api.audit_batch import AuditBatcher
from simkyc.store import Database
from simkyc.store import audit as audit_log
from simkyc.store.schema import audit_entry


def _logged_objects(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_entry.c.details).where(audit_entry.c.action == "platform.check")
        ).all()
    objects: list[str] = []
    for (details,) in rows:
        data = details if isinstance(details, dict) else json.loads(details)
        objects += [item["object"] for item in data["items"]]
    return objects


def test_every_awaited_record_is_committed_once_and_chained(db: Database) -> None:
    batcher = AuditBatcher(db)
    answered: list[str] = []

    async def check(i: int) -> None:
        await asyncio.sleep((i * 7 % 25) / 1000)  # arrivals spread over 25 ms: some during a commit
        await batcher.record(actor="platform:p", action="platform.check", obj=f"number:{i}", details={})
        answered.append(f"number:{i}")  # only after the commit, as the route answers
        assert f"number:{i}" in _logged_objects(db)

    async def load() -> None:
        for wave in range(5):  # several commits, and records queued while one is in flight
            await asyncio.wait_for(asyncio.gather(*(check(wave * 40 + i) for i in range(40))), 60)

    asyncio.run(load())
    batcher.close()
    logged = _logged_objects(db)
    assert sorted(logged) == sorted(answered) and len(answered) == 200
    with db.uow() as uow:
        report = audit_log.verify(uow.conn, trusted_public_keys={audit_log.public_key_hex(db.keys)})
    assert report.ok, report.problems


def test_a_failed_commit_fails_the_requests_instead_of_answering(db: Database) -> None:
    batcher = AuditBatcher(db)

    def broken(_batch: object) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    batcher._write = broken  # type: ignore[method-assign,assignment]

    async def load() -> list[BaseException | None]:
        results = await asyncio.gather(
            *(
                batcher.record(actor="platform:p", action="platform.check", obj="number:1", details={})
                for _ in range(5)
            ),
            return_exceptions=True,
        )
        return list(results)

    results = asyncio.run(load())
    assert all(isinstance(r, RuntimeError) and "audit commit failed" in str(r) for r in results)
    assert _logged_objects(db) == []
