"""Storage: database, encryption of sensitive fields, the hash-chained audit log.

- `simkyc.store.schema`: the tables (SQLAlchemy Core), mirrored by Alembic migrations in
  `simkyc/store/migrations` (applied by `migrate(engine)` / `open_database(url, keys)`);
- `simkyc.store.uow`: `Database` (engine + key ring) and `UnitOfWork` (one transaction);
- `simkyc.store.crypto`: the key ring, AES-256-GCM fields, HMAC lookups;
- `simkyc.store.audit`: the hash chain and signed checkpoints.
"""

from simkyc.store.crypto import KeyRing, load_keyring
from simkyc.store.db import is_sqlite, make_engine, migrate
from simkyc.store.schema import metadata
from simkyc.store.uow import Database, UnitOfWork, open_database

__all__ = [
    "Database",
    "KeyRing",
    "UnitOfWork",
    "is_sqlite",
    "load_keyring",
    "make_engine",
    "metadata",
    "migrate",
    "open_database",
]
