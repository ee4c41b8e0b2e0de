"""The store's tables. The schema is created and evolved only through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and returns aware UTC, so SQLite and PostgreSQL behave the same."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> Any:
    return sa.Column(sa.JSON, nullable=False)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class TicketRow(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),
        sa.Index("ix_tickets_triage_pending", "source", "triage_pending"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    external_id: str
    subject: str = ""
    body: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    requester: str | None = Field(default=None, index=True)
    organization: str | None = None
    channel: str | None = None
    status: str = "new"
    priority: str | None = None
    priority_raw: str | None = None
    queue: str | None = None
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list, sa_column=_json())
    language: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts(index=True))
    updated_by: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    # Set by every insert or update of the row (a sync, an import) and cleared once the version has been
    # triaged: workers claim the rows that have it with SKIP LOCKED, so no ticket is looked at twice at once.
    triage_pending: bool = Field(
        default=True, sa_column=sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    )


class CommentRow(SQLModel, table=True):
    __tablename__ = "comments"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_comments_source_external_id"),
        sa.Index("ix_comments_ticket", "source", "ticket_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    ticket_external_id: str
    author: str | None = None
    author_is_customer: bool = False
    public: bool = True
    body: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts())


class CustomerRow(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (sa.UniqueConstraint("source", "external_id", name="uq_customers_source_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    external_id: str
    email: str | None = Field(default=None, index=True)
    name: str | None = None
    organization: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    opted_out: bool = False
    created_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class BehaviorEventRow(SQLModel, table=True):
    __tablename__ = "behavior_events"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_behavior_events_source_external_id"),
        sa.Index("ix_behavior_events_customer_time", "source", "customer_external_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    customer_external_id: str
    kind: str
    occurred_at: datetime = Field(sa_column=_ts())
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class SatisfactionRatingRow(SQLModel, table=True):
    __tablename__ = "satisfaction_ratings"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_satisfaction_ratings_source_external_id"),
        sa.Index("ix_satisfaction_ratings_customer", "source", "customer_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    ticket_external_id: str | None = None
    customer_external_id: str
    rating: str
    score: float | None = None
    comment: str | None = None
    created_at: datetime = Field(sa_column=_ts())


class SyncCursorRow(SQLModel, table=True):
    """Where a connector's incremental sync stopped; committed with the records it covers."""

    __tablename__ = "sync_cursors"

    connector: str = Field(primary_key=True)
    cursor: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    updated_at: datetime = Field(sa_column=_ts())


class DecisionRow(SQLModel, table=True):
    """A routing decision for one version of a ticket, with its signals, trace and versions."""

    __tablename__ = "decisions"
    __table_args__ = (
        sa.UniqueConstraint("source", "ticket_external_id", "ticket_version", name="uq_decisions_ticket_version"),
        sa.Index("ix_decisions_ticket", "source", "ticket_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    ticket_external_id: str
    ticket_version: str
    decided_at: datetime = Field(sa_column=_ts())
    reason: str = Field(default="new", description="new | customer_reply")
    mode: str = "shadow"
    policy_version: str
    model_versions: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    signals: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    abstained: bool = False
    queue: str | None = Field(default=None, description="the queue this decision routed to, in vendor terms")
    team: str | None = Field(default=None, description="the policy's team name for that queue")
    priority: str | None = None
    ticket_queue: str | None = Field(default=None, description="the ticket's queue when we decided")


class OutboxRow(SQLModel, table=True):
    """One action waiting to be, or already, applied to a helpdesk. Committed with its decision."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("source", "idempotency_key", name="uq_outbox_key"),
        sa.Index("ix_outbox_state", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("decisions.id"), nullable=False))
    source: str
    idempotency_key: str
    kind: str
    target: str
    action: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    state: str = Field(default="pending", description="pending | applying | applied | skipped | failed | dead")
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(sa_column=_ts())
    next_attempt_at: datetime = Field(sa_column=_ts())
    applied_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # A worker's claim on the row: nobody else applies it until the lease expires (a killed worker's does).
    lease_owner: str | None = None
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class FeedbackRow(SQLModel, table=True):
    """A person's correction of a decision: the label deskroute should have given."""

    __tablename__ = "feedback"
    __table_args__ = (sa.Index("ix_feedback_ticket", "source", "ticket_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    ticket_external_id: str
    decision_id: int | None = None
    field: str = "queue"
    predicted: str | None = None
    corrected: str | None = None
    corrected_by: str | None = None
    recorded_at: datetime = Field(sa_column=_ts())


class AgentStateRow(SQLModel, table=True):
    """Small pieces of agent state that every process must see, e.g. the global pause."""

    __tablename__ = "agent_state"

    key: str = Field(primary_key=True)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    updated_at: datetime = Field(sa_column=_ts())


class QuarantineRow(SQLModel, table=True):
    """A record a helpdesk sent that did not validate: kept for a person to see, never dropped silently.

    One row per (source, kind, external id); a later good version of the record removes it.
    """

    __tablename__ = "quarantine"
    __table_args__ = (
        sa.UniqueConstraint("source", "kind", "external_id", name="uq_quarantine_record"),
        sa.Index("ix_quarantine_time", "quarantined_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    kind: str = Field(description="ticket | comment | customer | event | rating")
    external_id: str = Field(description="the helpdesk's id, cut to fit an index when it is longer")
    field: str | None = Field(default=None, description="the first field at fault")
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    payload: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    first_seen_at: datetime = Field(sa_column=_ts())
    quarantined_at: datetime = Field(sa_column=_ts())
    times: int = Field(default=1, description="how many pulls refused it")


class PolicyVersionRow(SQLModel, table=True):
    """A routing policy's text, stored under its version: the hash of its behaviour that decisions record."""

    __tablename__ = "policy_versions"

    version: str = Field(primary_key=True, description="RoutingPolicy.version (a hash of the policy's content)")
    name: str
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    source: str = Field(description="where the text came from, e.g. the file it was read from")
    added_by: str
    added_at: datetime = Field(sa_column=_ts())


class PolicyActivationRow(SQLModel, table=True):
    """One change of the active policy: who made which version active, when, and what it replaced."""

    __tablename__ = "policy_activations"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(
        sa_column=sa.Column(sa.String, sa.ForeignKey("policy_versions.version"), nullable=False, index=True)
    )
    previous_version: str | None = Field(
        default=None, sa_column=sa.Column(sa.String, sa.ForeignKey("policy_versions.version"), nullable=True)
    )
    action: str = Field(description="seed | activate | rollback")
    activated_by: str
    activated_at: datetime = Field(sa_column=_ts())


class ActivePolicyRow(SQLModel, table=True):
    """The one row saying which policy version routes now (and which did before, for a rollback).

    The row always exists (the migration writes it), so every change of the active policy starts by locking
    it: changes from several processes queue up behind each other instead of interleaving.
    """

    __tablename__ = "active_policy"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_active_policy_one_row"),)

    id: int = Field(default=1, primary_key=True)
    version: str | None = Field(
        default=None, sa_column=sa.Column(sa.String, sa.ForeignKey("policy_versions.version"), nullable=True)
    )
    previous_version: str | None = Field(
        default=None, sa_column=sa.Column(sa.String, sa.ForeignKey("policy_versions.version"), nullable=True)
    )
    activation_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("policy_activations.id"), nullable=True)
    )
    updated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ApiTokenRow(SQLModel, table=True):
    """A token for the HTTP API: only its SHA-256 is kept, so a copy of the database grants nothing."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    scope: str = Field(description="read | write | admin")
    token_hash: str = Field(description="hex SHA-256 of the token")
    prefix: str = Field(description="the token's first characters, to recognise it in a list")
    created_by: str
    created_at: datetime = Field(sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class WebhookDeliveryRow(SQLModel, table=True):
    """A verified webhook delivery, kept until the loop has synced the tickets it hints at.

    The (connector, delivery id) key is what makes a sender's retry harmless: the second insert finds the first.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("connector", "delivery_id", name="uq_webhook_deliveries_delivery"),
        sa.Index("ix_webhook_deliveries_state", "state", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector: str
    delivery_id: str
    ticket_ids: list[str] = Field(default_factory=list, sa_column=_json())
    sent_at: datetime = Field(sa_column=_ts())
    received_at: datetime = Field(sa_column=_ts())
    state: str = Field(default="pending", description="pending | done")
    processed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ScheduledJobRow(SQLModel, table=True):
    """A job that runs once per interval across every process (a connector's sync): when it last ran, and
    when it is next due. Read and written under the job's advisory lock on PostgreSQL."""

    __tablename__ = "scheduled_jobs"

    name: str = Field(primary_key=True, description="e.g. sync:helpdesk")
    next_run_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_worker: str | None = None
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    runs: int = 0


class WorkerHeartbeatRow(SQLModel, table=True):
    """A worker process that is (or was) running the jobs; its heartbeat says whether it still is."""

    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True, description="host:pid:random, unique per process start")
    host: str
    pid: int
    started_at: datetime = Field(sa_column=_ts())
    heartbeat_at: datetime = Field(sa_column=_ts(index=True))
    running: str = Field(default="", description="what the worker was doing at its last heartbeat")
