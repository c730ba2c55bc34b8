from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, inspect, select

from simkyc.store import Database, migrate
from simkyc.store.schema import metadata, operator


def test_migrations_create_every_table_and_are_idempotent(db: Database) -> None:
    migrate(db.engine)  # second run is a no-op
    names = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


def test_uncommitted_work_is_rolled_back(db: Database) -> None:
    with db.uow() as uow:
        uow.conn.execute(insert(operator).values(id="CMCC", name="China Mobile"))
    with db.uow() as uow:
        assert uow.conn.execute(select(func.count()).select_from(operator)).scalar() == 0


def test_error_rolls_back_and_commit_persists(db: Database) -> None:
    with pytest.raises(RuntimeError), db.uow() as uow:
        uow.conn.execute(insert(operator).values(id="CMCC", name="China Mobile"))
        uow.audit(actor="t", action="x", obj="operator:CMCC", at=datetime.now(UTC))
        raise RuntimeError("boom")
    with db.uow() as uow:
        uow.conn.execute(insert(operator).values(id="CUCC", name="China Unicom"))
        uow.commit()
        assert uow.committed
    with db.uow() as uow:
        ids = uow.conn.execute(select(operator.c.id)).scalars().all()
    assert ids == ["CUCC"]


def test_sqlite_runs_in_wal_mode(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_sqlite_file_is_owner_only(tmp_path: Path) -> None:
    from simkyc.store import KeyRing, open_database

    db = open_database(f"sqlite:///{tmp_path / 'h' / 'simkyc.db'}", KeyRing.generate())
    with db.uow() as uow:
        uow.audit(actor="t", action="x", obj="o")
        uow.commit()
    assert stat.S_IMODE(os.stat(tmp_path / "h" / "simkyc.db").st_mode) == 0o600
    db.dispose()
