"""Database fixtures for store tests: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simkyc.store import Database, KeyRing, open_database
from simkyc.store.testing import pg_reachable, pg_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'simkyc.db'}"
        return
    reason = pg_reachable()
    if reason:
        pytest.skip(reason)
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def db(db_url: str, keys: KeyRing) -> Iterator[Database]:
    database = open_database(db_url, keys)
    yield database
    database.dispose()
