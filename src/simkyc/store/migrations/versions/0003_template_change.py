"""template change feed: every stored, replaced or deleted face template, in commit order

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00.000000

Triggers on `face_template` append one `template_change` row per change, in the writing transaction,
so no code path (registration, review, cancellation, retention, a future one) can change a template
without telling every worker. A re-encryption (key rotation) changes no template and is not fed.

PostgreSQL: the trigger first takes the audit chain's transaction lock (the one every audited
transaction already holds until commit), so sequence numbers are handed out in commit order and a
reader that has seen seq N has seen every change below N that will ever commit; it then NOTIFYs
`simkyc_template_change` (delivered at commit) to wake the workers' followers. SQLite serialises
writers anyway (`BEGIN IMMEDIATE`); AUTOINCREMENT keeps numbers from ever being reused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_AUDIT_LOCK = 0x51_4B_59_43_00_02  # simkyc.store.audit._AUDIT_LOCK, frozen here as migrations are
_NEW_TEMPLATE = (
    "NEW.registration_id IS DISTINCT FROM OLD.registration_id"
    " OR NEW.created_at IS DISTINCT FROM OLD.created_at"
    " OR NEW.model_version IS DISTINCT FROM OLD.model_version"
)
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION simkyc_template_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
  PERFORM pg_advisory_xact_lock({_AUDIT_LOCK});
  IF TG_OP = 'DELETE' THEN
    INSERT INTO template_change (template_id, identity_id, op, at)
      VALUES (OLD.id, OLD.identity_id, 'del', now()) RETURNING seq INTO s;
  ELSE
    INSERT INTO template_change (template_id, identity_id, op, at)
      VALUES (NEW.id, NEW.identity_id, 'put', now()) RETURNING seq INTO s;
  END IF;
  PERFORM pg_notify('simkyc_template_change', s::text);
  RETURN NULL;
END $$
"""
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def upgrade() -> None:
    op.create_table(
        "template_change",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_template_change")),
        sqlite_autoincrement=True,
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER trg_face_template_put AFTER INSERT OR DELETE ON face_template "
            "FOR EACH ROW EXECUTE FUNCTION simkyc_template_change()"
        )
        op.execute(
            "CREATE TRIGGER trg_face_template_upd AFTER UPDATE ON face_template "
            f"FOR EACH ROW WHEN ({_NEW_TEMPLATE}) EXECUTE FUNCTION simkyc_template_change()"
        )
        return
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
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON face_template {when} BEGIN "
            "INSERT INTO template_change (template_id, identity_id, op, at) "
            f"VALUES ({row}.id, {row}.identity_id, '{kind}', {_SQLITE_NOW}); END"
        )


def downgrade() -> None:
    for name in ("trg_face_template_put", "trg_face_template_upd", "trg_face_template_del"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON face_template" if _pg() else ""))
    if _pg():
        op.execute("DROP FUNCTION IF EXISTS simkyc_template_change()")
    op.drop_table("template_change")


def _pg() -> bool:
    return bool(op.get_context().dialect.name == "postgresql")
