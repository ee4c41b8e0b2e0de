"""The connector contract: what deskroute asks of every helpdesk adapter.

A connector is named (the ``source`` its records are stored under) and does five things:

- :meth:`Connector.pull` yields :class:`PullBatch` es of canonical records, each with the cursor *after* it.
  The caller stores a batch's records and its cursor in one transaction, so a sync stopped anywhere resumes
  exactly where the last committed batch ended. Cursors are small JSON objects only the adapter interprets.
- :meth:`Connector.customer_history`: a customer's past tickets, comments and ratings (a :class:`CustomerHistory`,
  the same record of a customer the store's behaviour features read).
- :meth:`Connector.apply` executes one :class:`~connectors.actions.Action` and says what happened
  (:class:`~connectors.actions.ActionResult`); applying the same action twice changes the helpdesk once.
  It knows nothing of modes (shadow/suggest/auto): the outbox decides what reaches it.
- :meth:`Connector.check`: credentials, permissions and reachability, as a report a person can read.
- :meth:`Connector.verify_webhook`: whether a webhook request really comes from the helpdesk, as a
  :class:`~connectors.webhooks.WebhookDelivery` (the vendor's signature where it signs, else deskroute's
  shared-secret form when the connector was given a webhook secret).

Every pulled change says who made it (``Ticket.updated_by``, ``Comment.author``) so deskroute can recognise
its own writes (:attr:`Connector.agent_identity`). Vendor vocabularies (queues, priorities, statuses) are
mapped inside the adapter.

Errors: reaching the helpdesk failed -> a :class:`~connectors.errors.ConnectorError` is raised (``retryable``
says whether to try again later); the helpdesk refused the action itself (unknown queue or user) -> ``apply``
returns ``ActionResult(status="failed")`` with the reason.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import SecretStr

from connectors.actions import Action, ActionResult
from connectors.errors import WebhookUnsupported
from connectors.records import BehaviorEvent, Comment, Customer, SatisfactionRating, Ticket, as_utc
from connectors.webhooks import DEFAULT_REPLAY_WINDOW, WebhookDelivery, verify_shared_secret

Cursor = dict[str, Any]


@dataclass(frozen=True)
class Refused:
    """A record the helpdesk sent that does not validate: the caller keeps it in quarantine, never drops it.

    ``kind`` is the record's kind (``ticket``, ``customer``, ...), ``reason`` names the record and the field at
    fault, ``payload`` is what the helpdesk sent (for a person to look at).
    """

    kind: str
    external_id: str
    reason: str
    field: str | None = None
    payload: Any = None

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class PullBatch:
    """Records pulled together and the cursor after them; commit both at once.

    ``remaining`` is the vendor's count of records still to pull after this batch, where it says (for
    progress bars); ``refused`` holds the records that did not validate, which are stored in quarantine
    with the batch's cursor; ``problems`` lists anything else worth saying about the batch.
    """

    cursor: Cursor
    tickets: Sequence[Ticket] = ()
    comments: Sequence[Comment] = ()
    customers: Sequence[Customer] = ()
    ratings: Sequence[SatisfactionRating] = ()
    events: Sequence[BehaviorEvent] = ()
    problems: Sequence[str] = ()
    remaining: int | None = None
    refused: Sequence[Refused] = ()

    @property
    def size(self) -> int:
        """Records in the batch, all kinds together."""
        return len(self.tickets) + len(self.comments) + len(self.customers) + len(self.ratings) + len(self.events)


@dataclass(frozen=True)
class CustomerHistory:
    """One customer's records: the customer record, their tickets, the comments on them, ratings and events.

    A helpdesk's :meth:`Connector.customer_history` fills what it knows (helpdesks hold no product events);
    the store's history adds the events imported or synced from elsewhere. Any part may be empty (a new
    customer); ``customer`` is None when only tickets are known for a requester.
    """

    customer: Customer | None = None
    tickets: Sequence[Ticket] = ()
    comments: Sequence[Comment] = ()
    ratings: Sequence[SatisfactionRating] = ()
    events: Sequence[BehaviorEvent] = ()

    def until(self, at: datetime) -> CustomerHistory:
        """The history as it was known at ``at``: tickets created, comments, ratings and events up to then."""
        at = as_utc(at)
        return CustomerHistory(
            customer=self.customer,
            tickets=tuple(t for t in self.tickets if t.created_at <= at),
            comments=tuple(c for c in self.comments if c.created_at <= at),
            ratings=tuple(r for r in self.ratings if r.created_at <= at),
            events=tuple(e for e in self.events if e.occurred_at <= at),
        )


@dataclass(frozen=True)
class CheckItem:
    """One thing a check looked at: e.g. ``credentials``, ``tags field``."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class CheckReport:
    """The result of :meth:`Connector.check`: ok when every item is."""

    connector: str
    items: Sequence[CheckItem] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)


class Connector(abc.ABC):
    """A helpdesk adapter. Subclasses set ``type`` and implement the abstract methods."""

    type: ClassVar[str]
    # Whether the helpdesk signs its own webhooks (else only deskroute's shared-secret form is accepted).
    supports_webhooks: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        *,
        webhook_secret: SecretStr | None = None,
        webhook_replay_seconds: float = DEFAULT_REPLAY_WINDOW,
    ):
        if not name:
            raise ValueError("a connector needs a name")
        if not webhook_replay_seconds > 0:
            raise ValueError(f"webhook_replay_seconds must be positive, not {webhook_replay_seconds!r}")
        self.name = name
        self.webhook_secret = webhook_secret
        self.webhook_replay_seconds = webhook_replay_seconds

    @property
    def agent_identity(self) -> str | None:
        """The helpdesk user deskroute writes as: changes by this user are deskroute's own."""
        return None

    def is_own_change(self, ticket: Ticket) -> bool:
        """Whether the ticket's latest change was made by deskroute itself."""
        return self.agent_identity is not None and ticket.updated_by == self.agent_identity

    @abc.abstractmethod
    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        """Batches of records changed since ``cursor`` (None: everything), oldest first."""

    def cursor_since(self, since: datetime) -> Cursor:
        """A cursor that makes :meth:`pull` start with changes made at or after ``since``."""
        raise NotImplementedError(f"{self.type} connectors cannot start a pull at a time; use a full sync")

    @abc.abstractmethod
    def customer_history(self, customer: str) -> CustomerHistory:
        """Past tickets, comments and ratings of ``customer`` (external id or e-mail address)."""

    @abc.abstractmethod
    def apply(self, action: Action) -> ActionResult:
        """Do ``action`` in the helpdesk once; a repeat with the same idempotency key changes nothing."""

    @abc.abstractmethod
    def check(self) -> CheckReport:
        """Credentials, permissions and reachability."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookDelivery:
        """The delivery a webhook request carries, once it is shown to come from the helpdesk.

        Raises :class:`~connectors.webhooks.WebhookRefused` (forged, stale, too large, malformed). This default
        checks deskroute's shared-secret form when the connector has a webhook secret; adapters for helpdesks
        that sign their webhooks override it.
        """
        if self.webhook_secret is None:
            raise WebhookUnsupported(
                f"{self.type} sends no signed webhooks and this connector has no webhook_secret_env; "
                "deskroute polls it instead",
                connector=self.name,
            )
        return verify_shared_secret(
            headers, body, now, secret=self.webhook_secret, connector=self.name, window=self.webhook_replay_seconds
        )

    def close(self) -> None:  # noqa: B027 - most connectors hold connections; a file connector holds none
        """Release connections."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
