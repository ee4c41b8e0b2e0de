"""workers: tickets waiting for triage, outbox leases, scheduled jobs and worker heartbeats

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import router.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every stored ticket starts out waiting for triage: triage of an already-decided version is a no-op
    # (skipped as seen), so flagging them all loses nothing and misses nothing.
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("triage_pending", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_index("ix_tickets_triage_pending", ["source", "triage_pending"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", router.store.tables.UTCDateTime(), nullable=True))
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("next_run_at", router.store.tables.UTCDateTime(), nullable=True),
        sa.Column("last_started_at", router.store.tables.UTCDateTime(), nullable=True),
        sa.Column("last_finished_at", router.store.tables.UTCDateTime(), nullable=True),
        sa.Column("last_worker", sa.String(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.Column("running", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_heartbeat_at"), ["heartbeat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeats_heartbeat_at"))
    op.drop_table("worker_heartbeats")
    op.drop_table("scheduled_jobs")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_triage_pending")
        batch_op.drop_column("triage_pending")
