"""liveness failures for the durable lockout

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "liveness_failure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveness_failure")),
    )
    with op.batch_alter_table("liveness_failure", schema=None) as batch_op:
        batch_op.create_index("ix_liveness_failure_id_hash", ["id_hash", "failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("liveness_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_liveness_failure_id_hash")
    op.drop_table("liveness_failure")
