"""policy versions, their activation log and the active-policy pointer

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 14:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import router.store.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        sa.Column("added_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "policy_activations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("previous_version", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("activated_by", sa.String(), nullable=False),
        sa.Column("activated_at", router.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["policy_versions.version"]),
        sa.ForeignKeyConstraint(["previous_version"], ["policy_versions.version"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("policy_activations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_activations_version"), ["version"], unique=False)
    active = op.create_table(
        "active_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("previous_version", sa.String(), nullable=True),
        sa.Column("activation_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", router.store.tables.UTCDateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_active_policy_one_row"),
        sa.ForeignKeyConstraint(["version"], ["policy_versions.version"]),
        sa.ForeignKeyConstraint(["previous_version"], ["policy_versions.version"]),
        sa.ForeignKeyConstraint(["activation_id"], ["policy_activations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    # The pointer row exists from the start (no policy active yet): changing the active policy always begins
    # by locking it, which is what serialises activations across processes.
    op.bulk_insert(active, [{"id": 1, "version": None, "previous_version": None, "activation_id": None}])


def downgrade() -> None:
    op.drop_table("active_policy")
    with op.batch_alter_table("policy_activations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_activations_version"))
    op.drop_table("policy_activations")
    op.drop_table("policy_versions")
