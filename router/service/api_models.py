"""The API's request and response bodies, as the OpenAPI schema documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.records import MAX_ID_CHARS
from policies.yaml_reader import MAX_DOCUMENT_BYTES

_ID = Field(min_length=1, max_length=MAX_ID_CHARS)


class Problem(BaseModel):
    """An error a caller can act on: what is wrong and what to do; ``issues`` lists located problems."""

    detail: str
    issues: list[str] = Field(default_factory=list)


class TicketIn(BaseModel):
    """A ticket in deskroute's canonical fields. ``source`` and ``external_id`` name a stored ticket."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="api", min_length=1, max_length=MAX_ID_CHARS)
    external_id: str = Field(default="preview", min_length=1, max_length=MAX_ID_CHARS)
    subject: str = Field(default="", max_length=10_000)
    body: str = Field(default="", max_length=200_000)
    requester: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    organization: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    channel: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    status: Literal["new", "open", "pending", "solved", "closed"] = "new"
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    queue: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    assignee: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    tags: list[str] = Field(default_factory=list, max_length=100)
    language: str | None = Field(default=None, max_length=35)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = Field(default=None, description="default: now")
    updated_at: datetime | None = Field(default=None, description="default: created_at")


class CustomerIn(BaseModel):
    """The customer who asked, in canonical fields; default: the stored customer of the ticket's requester."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = _ID
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    organization: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    attributes: dict[str, Any] = Field(default_factory=dict)
    opted_out: bool = False
    created_at: datetime | None = None


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: TicketIn
    customer: CustomerIn | None = None
    dry_run: bool = Field(
        default=True,
        description="true: decide and write nothing. false: the stored ticket (source, external_id) is decided "
        "and its actions are queued in the outbox like any other",
    )


class ActionOut(BaseModel):
    kind: str
    target: str
    params: dict[str, Any]
    idempotency_key: str


class RouteResult(BaseModel):
    """A decision: the signals with their model versions, the actions, the policy's trace and the agents' note."""

    source: str
    ticket_id: str
    ticket_version: str
    policy_version: str
    model_versions: dict[str, str]
    signals: dict[str, Any]
    decision: dict[str, Any] = Field(description="the policy's decision: its actions and the trace of its rules")
    abstained: bool
    queue: str | None
    team: str | None
    priority: str | None
    actions: list[ActionOut]
    note: str | None
    recorded: bool = Field(description="whether the decision was stored (dry_run false)")
    decision_id: int | None = None
    timings_ms: dict[str, float] = Field(
        default_factory=dict,
        description="milliseconds each step of routing took in the service: encode (sentence encoder), language "
        "(language detection), classify (the rest of the models), decide (the policy and the actions)",
    )


class OutboxItem(BaseModel):
    id: int
    connector: str
    kind: str
    target: str
    state: str
    attempts: int
    last_error: str | None
    applied_at: datetime | None


class DecisionOut(BaseModel):
    id: int
    source: str
    ticket_id: str
    ticket_version: str
    decided_at: datetime
    reason: str
    mode: str
    policy_version: str
    model_versions: dict[str, Any]
    signals: dict[str, Any]
    decision: dict[str, Any]
    abstained: bool
    queue: str | None
    team: str | None
    priority: str | None
    outbox: list[OutboxItem]


class PolicyVersionOut(BaseModel):
    version: str
    name: str
    source: str
    added_by: str
    added_at: datetime
    active: bool


class ActivationOut(BaseModel):
    version: str
    previous_version: str | None
    action: str
    activated_by: str
    activated_at: datetime


class PolicyList(BaseModel):
    active: str | None
    versions: list[PolicyVersionOut]
    activations: list[ActivationOut] = Field(description="every change of the active policy: who, when, oldest first")


class PolicyUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_DOCUMENT_BYTES, description="the policy's YAML")
    tests: str | None = Field(
        default=None, max_length=MAX_DOCUMENT_BYTES, description="a tests document (a mapping with tests:)"
    )
    activate: bool = Field(default=False, description="make it the active policy once stored")


class PolicyStored(BaseModel):
    version: str
    name: str
    tests_run: int
    activated: bool
    warnings: list[str]


class ActivationResult(BaseModel):
    active: str
    changed: bool = Field(description="false when the version was already the active one")
    activation: ActivationOut | None


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=1000)


class PauseState(BaseModel):
    paused: bool


class OutboxCount(BaseModel):
    connector: str
    state: str
    actions: int


class OutboxStatus(BaseModel):
    paused: bool
    counts: list[OutboxCount]
    dead: list[OutboxItem]


class Requeued(BaseModel):
    requeued: int


class WebhookAnswer(BaseModel):
    result: Literal["accepted", "already_accepted"]
    delivery_id: str
    tickets: list[str]


class WebhookRefusal(BaseModel):
    result: Literal["forged", "stale", "too_large", "malformed", "unknown_connector", "unsupported"]
    detail: str


class Health(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Check]


class EventsAnswer(BaseModel):
    """What a batch of product events did: ``stored`` new events, ``repeated`` ones already stored (by messageId)."""

    messages: int
    stored: int
    repeated: int
    people: int = Field(description="identify calls: people stored or updated")
    unmapped: dict[str, int] = Field(description="event names the configuration maps to no kind: dropped, counted")


class EventsRefusal(BaseModel):
    """A batch refused whole (nothing stored): ``field`` is where, e.g. ``batch[3].timestamp``."""

    field: str
    detail: str
