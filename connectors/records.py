"""Canonical helpdesk records: what every connector produces and the store keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")

TicketStatus = Literal["new", "open", "pending", "hold", "solved", "closed", "deleted", "merged", "spam"]
# Tickets in these states never get a routing decision.
FINISHED_STATUSES: frozenset[str] = frozenset({"solved", "closed", "deleted", "merged", "spam"})

# Vendor and dataset words that mean one of the canonical priorities.
_PRIORITY_SYNONYMS: dict[str, Priority] = {
    "low": "low",
    "lowest": "low",
    "minor": "low",
    "medium": "normal",
    "normal": "normal",
    "moderate": "normal",
    "high": "high",
    "major": "high",
    "urgent": "urgent",
    "critical": "urgent",
    "highest": "urgent",
    "blocker": "urgent",
}


def normalise_priority(value: object) -> Priority | None:
    """Map a vendor's or dataset's priority word to the canonical scale, or None when unknown/empty."""
    if value is None:
        return None
    word = str(value).strip().lower()
    if not word:
        return None
    return _PRIORITY_SYNONYMS.get(word)


def as_utc(value: datetime) -> datetime:
    """Timestamps are stored and compared in UTC; a naive timestamp is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class RecordError(ValueError):
    """A record failed validation; the message names the record and the field at fault."""

    def __init__(self, record: str, errors: list[tuple[str, str]]):
        self.record = record
        self.errors = errors
        detail = "; ".join(f"field '{field}': {msg}" for field, msg in errors)
        super().__init__(f"{record}: {detail}")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_assignment=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return as_utc(value)
        return value

    @classmethod
    def parse(cls, data: dict[str, Any], *, where: str) -> Any:
        """Validate ``data`` as this record, raising RecordError that names ``where`` and each bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = [(".".join(str(p) for p in err["loc"]) or "(record)", err["msg"]) for err in exc.errors()]
            raise RecordError(f"{where} ({cls.__name__})", errors) from None


class Comment(_Record):
    """One message on a ticket: a customer reply, an agent's public answer or an internal note."""

    source: str
    external_id: str
    ticket_external_id: str
    author: str | None = None
    author_is_customer: bool = False
    public: bool = True
    body: str = ""
    created_at: datetime


class Ticket(_Record):
    """A support ticket as deskroute sees it, whatever helpdesk it came from."""

    source: str = Field(description="Connector name the ticket came from, e.g. 'rt' or 'file'.")
    external_id: str = Field(min_length=1, description="The helpdesk's own id for the ticket.")
    subject: str = ""
    body: str = ""
    requester: str | None = Field(default=None, description="Customer external id or e-mail address.")
    organization: str | None = None
    channel: str | None = None
    status: TicketStatus = "new"
    priority: Priority | None = None
    priority_raw: str | None = Field(default=None, description="The vendor's own priority value, kept.")
    queue: str | None = None
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    updated_by: str | None = Field(
        default=None, description="Who made the latest change; lets deskroute recognise its own writes."
    )
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        """Subject and body as one text: what the models read."""
        return f"{self.subject}\n{self.body}".strip()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class Customer(_Record):
    """A person who writes to support, with CRM attributes (plan, MRR, ...)."""

    source: str
    external_id: str = Field(min_length=1)
    email: str | None = None
    name: str | None = None
    organization: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    opted_out: bool = Field(default=False, description="Never contact proactively when set.")
    created_at: datetime | None = None


EventKind = Literal[
    "login",
    "page_view",
    "feature_use",
    "purchase",
    "upgrade",
    "downgrade",
    "cancellation",
    "payment_failed",
    "other",
]


class BehaviorEvent(_Record):
    """Something a customer did in the product, e.g. a login or a cancellation."""

    source: str
    external_id: str = Field(min_length=1, description="Unique per source; re-importing is idempotent.")
    customer_external_id: str = Field(min_length=1)
    kind: EventKind
    occurred_at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class SatisfactionRating(_Record):
    """A customer's satisfaction rating (CSAT) for a ticket."""

    source: str
    external_id: str = Field(min_length=1)
    ticket_external_id: str | None = None
    customer_external_id: str = Field(min_length=1)
    rating: Literal["good", "bad"]
    score: float | None = Field(default=None, description="Vendor score where one exists, e.g. 1-5.")
    comment: str | None = None
    created_at: datetime
