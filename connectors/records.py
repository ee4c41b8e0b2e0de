"""Canonical helpdesk records: what every connector produces and the store keeps."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

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
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+14:00 is a valid ISO 8601 time with no UTC equivalent: a bad value, not a crash.
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None


# What a record may hold. Both databases must accept exactly the same records, so the limits are
# PostgreSQL's, checked here once rather than met as a driver error halfway through a write.
#: Ids, keys, e-mail addresses and people: these are indexed, and a btree entry holds at most 2,704 bytes;
#: 255 characters (at most 1,020 bytes of UTF-8) keep (source, id) pairs well inside it.
MAX_ID_CHARS = 255
#: Short free text: subject, names, organisation, queue, status, channel, language, tags.
MAX_SHORT_CHARS = 1_000
#: Long free text (ticket and comment bodies), and any one CSV field.
MAX_TEXT_CHARS = 1_000_000
#: Nested JSON (custom fields, attributes, properties, the vendor's raw item): levels and serialised size.
MAX_JSON_DEPTH = 16
MAX_JSON_CHARS = 1_000_000
#: Tags per ticket.
MAX_TAGS = 200
#: Plausible timestamps: after the Unix epoch's first day (1970-01-01 is what helpdesks write for "not
#: set") and before 2100. A fixed range, so the same record is accepted or refused whenever it is read.
EARLIEST_TIME = datetime(1970, 1, 2, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)

_ID_FIELDS = frozenset(
    {
        "source",
        "external_id",
        "ticket_external_id",
        "customer_external_id",
        "requester",
        "email",
        "assignee",
        "updated_by",
        "author",
        "priority_raw",
    }
)
_TEXT_FIELDS = frozenset({"body", "comment"})


class RecordError(ValueError):
    """A record failed validation; the message names the record and the field at fault."""

    def __init__(self, record: str, errors: list[tuple[str, str]]):
        self.record = record
        self.errors = errors
        detail = "; ".join(f"field '{field}': {msg}" for field, msg in errors)
        super().__init__(f"{record}: {detail}")

    @property
    def field(self) -> str:
        """The first field at fault."""
        return self.errors[0][0] if self.errors else "(record)"


def _chars(n: int) -> str:
    return f"{n:,} characters"


def clean_text(value: str, *, limit: int) -> str:
    """``value`` without NUL characters (they carry no meaning, and PostgreSQL cannot store them).

    Raises ValueError when the text is longer than ``limit`` or is not valid Unicode (an unpaired surrogate,
    which no database can encode).
    """
    if "\x00" in value:
        value = value.replace("\x00", "")
    if len(value) > limit:
        raise ValueError(f"{_chars(len(value))} long; the most allowed is {_chars(limit)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"not valid Unicode (unpaired surrogate {value[exc.start]!r} at character {exc.start})"
        ) from None
    return value


def _limit_for(field: str) -> int:
    if field in _ID_FIELDS:
        return MAX_ID_CHARS
    if field in _TEXT_FIELDS:
        return MAX_TEXT_CHARS
    return MAX_SHORT_CHARS


def clean_json(value: dict[str, Any]) -> dict[str, Any]:
    """A nested JSON object made safe to store: NULs stripped from keys and text, bounded depth and size.

    Walks iteratively, so a hostile nesting depth is refused rather than exhausting the stack. Raises
    ValueError naming the path of the offending key or value.
    """

    def clean(node: Any, path: str, depth: int, stack: list[tuple[Any, str, int, Any]]) -> Any:
        if isinstance(node, str):
            try:
                return clean_text(node, limit=MAX_JSON_CHARS)
            except ValueError as exc:
                raise ValueError(f"{path or 'value'}: {exc}") from None
        if node is None or isinstance(node, bool | int):
            return node
        if isinstance(node, float):
            if not math.isfinite(node):
                raise ValueError(f"{path or 'value'}: {node} is not a JSON number")
            return node
        if isinstance(node, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise ValueError(f"{path or 'value'}: nested more than {MAX_JSON_DEPTH} levels deep")
            out: Any = {} if isinstance(node, dict) else []
            stack.append((node, path, depth + 1, out))
            return out
        raise ValueError(f"{path or 'value'}: a {type(node).__name__} is not a JSON value")

    stack: list[tuple[Any, str, int, Any]] = []
    root = clean(value, "", 0, stack)
    while stack:
        node, path, depth, out = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise ValueError(f"{path or 'value'}: key {key!r} is not a string")
                try:
                    name = clean_text(key, limit=MAX_ID_CHARS)
                except ValueError as exc:
                    raise ValueError(f"{path or 'value'}: key {key[:40]!r}...: {exc}") from None
                if name in out:
                    raise ValueError(f"{path or 'value'}: keys {key!r} and {name!r} are the same without NULs")
                out[name] = clean(item, f"{path}.{name}" if path else name, depth, stack)
        else:
            for index, item in enumerate(node):
                out.append(clean(item, f"{path}[{index}]", depth, stack))
    size = len(json.dumps(root, ensure_ascii=False))
    if size > MAX_JSON_CHARS:
        raise ValueError(f"{_chars(size)} as JSON; the most allowed is {_chars(MAX_JSON_CHARS)}")
    return cast(dict[str, Any], root)


def _stored(info: ValidationInfo) -> bool:
    """Records read back from the store are taken as stored: limits apply to what comes in, not to history."""
    return bool(info.context and info.context.get("stored"))


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any, info: ValidationInfo) -> Any:
        if _stored(info) or info.field_name is None:
            return value
        if isinstance(value, str):
            return clean_text(value, limit=_limit_for(info.field_name))
        if isinstance(value, dict):
            return clean_json(value)
        if isinstance(value, list | tuple):  # tags
            if len(value) > MAX_TAGS:
                raise ValueError(f"{len(value)} items; at most {MAX_TAGS}")
            return [clean_text(v, limit=MAX_SHORT_CHARS) if isinstance(v, str) else v for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not a number")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, datetime):
            return value
        moment = as_utc(value)  # a time with no UTC equivalent raises ValueError, which names the field
        if not _stored(info) and not EARLIEST_TIME <= moment < LATEST_TIME:
            raise ValueError(
                f"{moment.isoformat()} is not a plausible time (deskroute accepts "
                f"{EARLIEST_TIME.date()} to {(LATEST_TIME - timedelta(days=1)).date()})"
            )
        return moment

    @classmethod
    def parse(cls, data: dict[str, Any], *, where: str) -> Any:
        """Validate ``data`` as this record, raising RecordError that names ``where`` and each bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = [
                (".".join(str(p) for p in err["loc"]) or "(record)", _message(err["msg"])) for err in exc.errors()
            ]
            raise RecordError(f"{where} ({cls.__name__})", errors) from None


def _message(msg: str) -> str:
    # pydantic prefixes a validator's own message; the field name already says where it comes from.
    return msg.removeprefix("Value error, ")


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

    @field_validator("updated_at", mode="after")
    @classmethod
    def _not_before_creation(cls, value: datetime, info: ValidationInfo) -> datetime:
        created = info.data.get("created_at")
        if not _stored(info) and isinstance(created, datetime) and as_utc(value) < as_utc(created):
            raise ValueError(
                f"{as_utc(value).isoformat()} is before created_at ({as_utc(created).isoformat()}); "
                "a ticket cannot change before it exists"
            )
        return value

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
