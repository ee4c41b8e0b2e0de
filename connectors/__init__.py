"""Connectors: the canonical helpdesk records, the Action vocabulary, and one adapter per helpdesk.

Public contract (imported by every other package):

- Records: :class:`Ticket`, :class:`Comment`, :class:`Customer`, :class:`BehaviorEvent`,
  :class:`SatisfactionRating`. Timestamps are timezone-aware UTC; priorities are normalised to
  ``low|normal|high|urgent`` with the vendor's value kept in ``Ticket.priority_raw``.
- :class:`Action` with kinds ``route``, ``set_priority``, ``add_tags``, ``add_note``, ``assign``,
  ``create_outreach``, each with an idempotency key; :class:`ActionResult`.
- :class:`RecordError`: a validation error naming the record and field at fault.
- The connector contract: :class:`Connector` (``pull``, ``customer_history``, ``apply``, ``check``,
  ``verify_webhook``), :class:`PullBatch` (with :class:`Refused` records, kept in quarantine),
  :class:`CustomerHistory`, :class:`CheckReport`, and the errors
  every adapter raises (:class:`ConnectorError` and its kinds, each saying whether a retry can help).
  Adapters: ``connectors.rt`` (Request Tracker 5), ``connectors.zendesk``, ``connectors.file_connector``; HTTP
  for all: ``connectors.http``.
- Webhooks: :class:`WebhookDelivery` (what a verified request says) and :class:`WebhookRefused` (why one is
  not acted on), with deskroute's shared-secret form in ``connectors.webhooks``.

This package imports nothing else of deskroute's.
"""

from connectors.actions import ACTION_KINDS, SUGGEST_KINDS, Action, ActionKind, ActionResult
from connectors.base import CheckItem, CheckReport, Connector, Cursor, CustomerHistory, PullBatch, Refused
from connectors.errors import (
    ConnectorError,
    CredentialsError,
    MalformedResponse,
    RateLimited,
    Redirected,
    RequestRejected,
    ResponseTooLarge,
    Unavailable,
    WebhookUnsupported,
)
from connectors.records import (
    FINISHED_STATUSES,
    PRIORITIES,
    BehaviorEvent,
    Comment,
    Customer,
    Priority,
    RecordError,
    SatisfactionRating,
    Ticket,
    TicketStatus,
    as_utc,
    normalise_priority,
)
from connectors.webhooks import WebhookDelivery, WebhookRefused

__all__ = [
    "ACTION_KINDS",
    "FINISHED_STATUSES",
    "PRIORITIES",
    "SUGGEST_KINDS",
    "Action",
    "ActionKind",
    "ActionResult",
    "BehaviorEvent",
    "CheckItem",
    "CheckReport",
    "Comment",
    "Connector",
    "ConnectorError",
    "CredentialsError",
    "Cursor",
    "Customer",
    "CustomerHistory",
    "MalformedResponse",
    "Priority",
    "PullBatch",
    "RateLimited",
    "RecordError",
    "Redirected",
    "Refused",
    "RequestRejected",
    "ResponseTooLarge",
    "SatisfactionRating",
    "Ticket",
    "TicketStatus",
    "Unavailable",
    "WebhookDelivery",
    "WebhookRefused",
    "WebhookUnsupported",
    "as_utc",
    "normalise_priority",
]
