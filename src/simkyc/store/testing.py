"""Helpers for tests that need a real database: isolated PostgreSQL schemas, throwaway key rings.

Tests on PostgreSQL use the server named by `SIMKYC_TEST_PG_URL` (default
`postgresql+psycopg://postgres@127.0.0.1:5432/test`). Several test processes may share that
database, so each test gets its own schema (`search_path` set through the URL) dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["DEFAULT_PG_URL", "pg_reachable", "pg_schema_url", "pg_test_url"]

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_test_url() -> str:
    return os.environ.get("SIMKYC_TEST_PG_URL", DEFAULT_PG_URL)


def pg_reachable(url: str | None = None) -> str | None:
    """None when the server answers, else a one-line reason (for pytest.skip)."""
    url = url or pg_test_url()
    try:
        eng = create_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:
        where = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} unreachable: {type(exc).__name__}"
    return None


@contextmanager
def pg_schema_url(base_url: str | None = None, *, prefix: str = "t") -> Iterator[str]:
    """A URL whose connections live in a fresh schema; the schema is dropped on exit."""
    base_url = base_url or pg_test_url()
    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
