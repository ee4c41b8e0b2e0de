"""decisions, outbox, feedback and agent state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:58:16.536626
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import router.store.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "agent_state",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("ticket_external_id", sa.String(), nullable=False),
        sa.Column("ticket_version", sa.String(), nullable=False),
        sa.Column("decided_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("policy_version", sa.String(), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("priority", sa.String(), nullable=True),
        sa.Column("ticket_queue", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "ticket_external_id", "ticket_version", name="uq_decisions_ticket_version"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_ticket", ["source", "ticket_external_id"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("ticket_external_id", sa.String(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("predicted", sa.String(), nullable=True),
        sa.Column("corrected", sa.String(), nullable=True),
        sa.Column("corrected_by", sa.String(), nullable=True),
        sa.Column("recorded_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_ticket", ["source", "ticket_external_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("applied_at", router.store.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "idempotency_key", name="uq_outbox_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_state", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state")

    op.drop_table("outbox")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_ticket")

    op.drop_table("feedback")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_ticket")

    op.drop_table("decisions")
    op.drop_table("agent_state")
