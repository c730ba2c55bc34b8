"""The platform check's hot path: one prepared read on a read-only connection.

`simkyc.service.registration.platform_check` is the reference. Through SQLAlchemy and a unit of work
it costs about a millisecond of CPU per call, most of it in building and caching the statement, plus
on PostgreSQL a pool checkout, a ping and BEGIN/ROLLBACK round trips; this module runs the same
indexed join as one prepared statement on a connection of its own per thread (SQLite ~40 us; on
PostgreSQL one autocommit round trip, psycopg prepares it after a few calls), which is what lets one
process answer well over a thousand checks a second. tests/api/test_api_flow.py checks both give the
same answers; a broken PostgreSQL connection is dropped and the reference path answers that call.
"""

from __future__ import annotations

import hmac
import threading
from typing import Any

from simkyc.service import registration as reg
from simkyc.store.crypto import KeyRing

__all__ = ["PlatformLookup"]

_SQL = (
    "SELECT i.id_hash, i.name_hash FROM phone_number AS p JOIN identity AS i ON i.id = p.identity_id "
    "WHERE p.number = ? AND p.status = 'active'"
)
_PG_SQL = _SQL.replace("?", "%s")


class PlatformLookup:
    """Answer `consistent` / `inconsistent` / `no_record` for name + ID number + phone."""

    def __init__(self, deps: reg.RegistrationDeps, keys: KeyRing) -> None:
        self.deps = deps
        self.keys = keys
        self.dialect = deps.db.engine.dialect.name
        self.fast = self.dialect in ("sqlite", "postgresql")
        self._local = threading.local()

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.deps.db.engine.raw_connection()
            if self.dialect == "postgresql":  # a connection of its own, outside the pool, no transactions
                pg: Any = conn.driver_connection
                conn.detach()
                pg.autocommit = True
                conn = pg
            self._local.conn = conn
        return conn

    def _row(self, phone: str) -> Any:
        if self.dialect == "postgresql":
            try:
                with self._conn().cursor() as cur:
                    cur.execute(_PG_SQL, (phone,))
                    return cur.fetchone()
            except Exception:
                broken, self._local.conn = self._local.conn, None
                try:
                    broken.close()
                finally:
                    raise
        cur = self._conn().cursor()
        try:
            cur.execute(_SQL, (phone,))
            return cur.fetchone()
        finally:
            cur.close()

    def check(self, *, name: str, id_number: str, phone: str, platform: str) -> reg.PlatformAnswer:
        if not self.fast:
            return reg.platform_check(
                name=name, id_number=id_number, phone=phone, platform=platform, deps=self.deps, audit=False
            )
        try:
            row = self._row(phone.strip())
        except Exception:
            if self.dialect != "postgresql":
                raise
            return reg.platform_check(
                name=name, id_number=id_number, phone=phone, platform=platform, deps=self.deps, audit=False
            )
        if row is None:
            return "no_record"
        same_id = hmac.compare_digest(str(row[0]), self.keys.lookup_hash(id_number))
        same_name = hmac.compare_digest(str(row[1]), self.keys.name_hash(name))
        return "consistent" if same_id and same_name else "inconsistent"
