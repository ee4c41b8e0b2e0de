"""quarantine: records a helpdesk sent that did not validate

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 13:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import router.store.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("first_seen_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("quarantined_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "kind", "external_id", name="uq_quarantine_record"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index("ix_quarantine_time", ["quarantined_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_time")

    op.drop_table("quarantine")
