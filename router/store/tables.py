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
    __table_args__ = (sa.UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),)

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
