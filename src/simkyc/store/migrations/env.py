"""Alembic environment: always run programmatically through `simkyc.store.db.migrate`."""

from __future__ import annotations

from alembic import context

from simkyc.store.schema import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only via simkyc.store.db.migrate
        raise RuntimeError("run migrations through simkyc.store.db.migrate(engine)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise RuntimeError("offline migrations are not supported")
run_migrations_online()
