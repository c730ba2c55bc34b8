"""Engines and migrations: SQLite (WAL, writers serialised) by default, PostgreSQL by URL.

SQLite: every transaction starts with `BEGIN IMMEDIATE`, so two writers never interleave between
a read (say, counting the numbers an ID holds) and the write that depends on it; WAL lets readers
run alongside. PostgreSQL: read-committed plus row locks (`SELECT ... FOR UPDATE` on the identity)
and a transaction-scoped advisory lock for the audit chain head (see `UnitOfWork`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

__all__ = ["MIGRATIONS_DIR", "is_sqlite", "make_engine", "migrate"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# One constant for pg_advisory_xact_lock: serialises migrations across processes.
_MIGRATION_LOCK = 0x51_4B_59_43_00_01


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; creates the SQLite file's folder and configures WAL + immediate writes."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            path = Path(u.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # owner-only; SQLite gives the -wal/-shm files the same mode
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        engine = create_engine(url, echo=echo, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy (not pysqlite) issue BEGIN, so we can make it IMMEDIATE.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA secure_delete=ON")  # deleted evidence is overwritten, not left in free pages
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Run Alembic `upgrade revision` on `engine` (safe to call from several processes at once)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
