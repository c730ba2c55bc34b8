"""the template change feed names each template's embedder (its generation)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:00:00.000000

Issue 13 brought a second generation of face templates (a new embedder); stored templates cannot be
recomputed, so both generations live side by side until every customer is re-enrolled, each in its
own 1:N index. A feed row now carries `model_name` (the embedder that made the template), so a
worker's index of one generation applies only its own changes, deletions included (a deleted row
can no longer be looked up). Rows written before this migration get the name of the template if it
still exists, else stay NULL (followers treat NULL as "any generation").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_AUDIT_LOCK = 0x51_4B_59_43_00_02  # as in 0003: simkyc.store.audit._AUDIT_LOCK, frozen here
_NEW_TEMPLATE = (
    "NEW.registration_id IS DISTINCT FROM OLD.registration_id"
    " OR NEW.created_at IS DISTINCT FROM OLD.created_at"
    " OR NEW.model_version IS DISTINCT FROM OLD.model_version"
)
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _pg_function(with_model: bool) -> str:
    cols = "template_id, identity_id, op, at" + (", model_name" if with_model else "")
    old = "OLD.id, OLD.identity_id, 'del', now()" + (", OLD.model_name" if with_model else "")
    new = "NEW.id, NEW.identity_id, 'put', now()" + (", NEW.model_name" if with_model else "")
    return f"""
CREATE OR REPLACE FUNCTION simkyc_template_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
  PERFORM pg_advisory_xact_lock({_AUDIT_LOCK});
  IF TG_OP = 'DELETE' THEN
    INSERT INTO template_change ({cols}) VALUES ({old}) RETURNING seq INTO s;
  ELSE
    INSERT INTO template_change ({cols}) VALUES ({new}) RETURNING seq INTO s;
  END IF;
  PERFORM pg_notify('simkyc_template_change', s::text);
  RETURN NULL;
END $$
"""


def _sqlite_triggers(with_model: bool) -> None:
    cols = "template_id, identity_id, op, at" + (", model_name" if with_model else "")
    for name, event, row, kind, when in (
        ("trg_face_template_put", "INSERT", "NEW", "put", ""),
        (
            "trg_face_template_upd",
            "UPDATE",
            "NEW",
            "put",
            f"WHEN {_NEW_TEMPLATE.replace('DISTINCT FROM', 'NOT')}",
        ),
        ("trg_face_template_del", "DELETE", "OLD", "del", ""),
    ):
        model = f", {row}.model_name" if with_model else ""
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON face_template {when} BEGIN "
            f"INSERT INTO template_change ({cols}) "
            f"VALUES ({row}.id, {row}.identity_id, '{kind}', {_SQLITE_NOW}{model}); END"
        )


def upgrade() -> None:
    with op.batch_alter_table("template_change") as batch:
        batch.add_column(sa.Column("model_name", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE template_change SET model_name = (SELECT f.model_name FROM face_template f "
        "WHERE f.id = template_change.template_id)"
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(_pg_function(with_model=True))
    else:
        _sqlite_triggers(with_model=True)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_pg_function(with_model=False))
    else:
        _sqlite_triggers(with_model=False)
    with op.batch_alter_table("template_change") as batch:
        batch.drop_column("model_name")
