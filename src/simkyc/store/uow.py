"""The unit of work: one database transaction per use case, rolled back unless committed.

A `Database` bundles the engine and the key ring; `Database.uow()` opens one transaction.
Inside it the use case reads and writes tables through `uow.conn` (SQLAlchemy Core), appends
audit entries with `uow.audit(...)` (same transaction, so the record and its audit entry commit
together or not at all), and serialises per-identity decisions with `uow.lock_identity(id)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Connection, Engine, RootTransaction, select

from simkyc.store import audit as audit_log
from simkyc.store.crypto import KeyRing
from simkyc.store.db import make_engine, migrate
from simkyc.store.schema import identity

if TYPE_CHECKING:
    from simkyc.store.registrations import RegistrationRepository

__all__ = ["Database", "UnitOfWork", "open_database"]


@dataclass
class Database:
    """An engine plus the key ring; cheap to share across threads."""

    engine: Engine
    keys: KeyRing
    checkpoint_every: int = audit_log.DEFAULT_CHECKPOINT_EVERY

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, keys: KeyRing, *, run_migrations: bool = True) -> Database:
    """Build the engine for `url` and bring the schema to the newest migration."""
    engine = make_engine(url)
    if run_migrations:
        migrate(engine)
    return Database(engine=engine, keys=keys)


class UnitOfWork:
    """`with db.uow() as uow: ...; uow.commit()`: anything not committed is rolled back."""

    conn: Connection

    def __init__(self, db: Database) -> None:
        self.db = db
        self.keys = db.keys
        self.committed = False
        self._tx: RootTransaction | None = None

    def __enter__(self) -> Self:
        self.keys.refresh()
        self.conn = self.db.engine.connect()
        self._tx = self.conn.begin()
        self.committed = False
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()

    def commit(self) -> None:
        assert self._tx is not None, "commit outside `with`"
        self._tx.commit()
        self.committed = True

    def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    @property
    def registrations(self) -> RegistrationRepository:
        """The registration use cases' queries on this transaction (`simkyc.store.registrations`)."""
        from simkyc.store.registrations import RegistrationRepository

        return RegistrationRepository(self)

    def lock_identity(self, identity_id: int) -> None:
        """Hold the identity row until commit, so quota checks for one ID never interleave.

        PostgreSQL: `SELECT ... FOR UPDATE`. SQLite: the transaction already holds the write lock
        (`BEGIN IMMEDIATE`), which serialises every writer.
        """
        if self.dialect == "postgresql":
            self.conn.execute(select(identity.c.id).where(identity.c.id == identity_id).with_for_update())

    def audit(
        self,
        *,
        actor: str,
        action: str,
        obj: str,
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        """Append an audit entry in this transaction. Never pass templates, images or full ID numbers."""
        return audit_log.append(
            self.conn,
            actor=actor,
            action=action,
            obj=obj,
            details=details,
            at=at,
            keys=self.keys,
            checkpoint_every=self.db.checkpoint_every,
        )
