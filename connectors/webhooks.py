"""Webhook deliveries: what a verified request says, why one is refused, and deskroute's shared-secret form.

A webhook is a hint, not data: a verified delivery names the tickets its body points at, and whoever
receives it re-reads those tickets from the helpdesk. Verification therefore only has to establish that
the request comes from the helpdesk (a signature, or a shared secret), that it is recent (a replayed
capture is refused after the replay window) and that it is small enough to read. De-duplicating delivery
ids is the receiver's job: it holds the store.

Helpdesks that cannot sign (Freshdesk's automations, RT's scrips) send deskroute's own form instead:
``X-Deskroute-Secret`` (the configured secret, compared in constant time), ``X-Deskroute-Delivery`` (an id
unique per delivery) and ``X-Deskroute-Timestamp`` (Unix seconds or ISO 8601).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import SecretStr

from connectors.errors import ConnectorError, excerpt
from connectors.records import MAX_ID_CHARS, as_utc

RefusalReason = Literal["forged", "stale", "too_large", "malformed"]

#: A webhook body is a trigger's small JSON template; past this it is refused unread.
MAX_WEBHOOK_BYTES = 256 * 1024
DEFAULT_REPLAY_WINDOW = 300.0
#: The most ticket ids one delivery may hint at: a body naming thousands is not a trigger's template.
MAX_HINTED_TICKETS = 100

SECRET_HEADER = "X-Deskroute-Secret"
DELIVERY_HEADER = "X-Deskroute-Delivery"
TIMESTAMP_HEADER = "X-Deskroute-Timestamp"

# Delivery ids are logged and stored: printable ASCII without spaces, of an id's length.
_DELIVERY_ID = re.compile(rf"[!-~]{{1,{MAX_ID_CHARS}}}")
_TICKET_ID = re.compile(r"[0-9]{1,18}|[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
_LIST_KEYS = ("ticket_ids", "tickets")


@dataclass(frozen=True)
class WebhookDelivery:
    """A verified webhook request: its delivery id, the tickets it hints at, and when it was sent."""

    delivery_id: str
    ticket_ids: tuple[str, ...]
    sent_at: datetime


class WebhookRefused(ConnectorError):
    """A webhook request that must not be acted on; ``reason`` says which check failed, the message what to fix."""

    def __init__(self, reason: RefusalReason, message: str, *, connector: str = ""):
        self.reason = reason
        super().__init__(message, connector=connector)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (HTTP names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def check_size(body: bytes, connector: str) -> None:
    """Refuse a body larger than :data:`MAX_WEBHOOK_BYTES` before anything reads it."""
    if len(body) > MAX_WEBHOOK_BYTES:
        raise WebhookRefused(
            "too_large",
            f"webhook body of {len(body):,} bytes is larger than the {MAX_WEBHOOK_BYTES:,} a trigger's template "
            'needs; send only the ticket id (e.g. {"ticket_id": "{{ticket.id}}"})',
            connector=connector,
        )


def parse_sent_at(value: str | None, name: str, connector: str) -> datetime:
    """A timestamp header as UTC: Unix seconds or ISO 8601; WebhookRefused(malformed) naming the header."""
    text = (value or "").strip()
    if not text:
        raise WebhookRefused("malformed", f"webhook has no {name} header; the sender must send it", connector=connector)
    try:
        if _UNIX_SECONDS.fullmatch(text):
            return datetime.fromtimestamp(float(text), UTC)
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError):
        raise WebhookRefused(
            "malformed",
            f"webhook header {name} is {excerpt(repr(text), 60)}, expected Unix seconds or an ISO 8601 time",
            connector=connector,
        ) from None


def check_fresh(sent_at: datetime, now: datetime, window: float, connector: str) -> None:
    """Refuse a delivery sent more than ``window`` seconds before or after ``now`` (a replay, or a wrong clock)."""
    skew = abs((as_utc(now) - sent_at).total_seconds())
    if skew > window:
        raise WebhookRefused(
            "stale",
            f"webhook was signed at {sent_at.isoformat()}, {skew:,.0f}s from now; deliveries older than "
            f"{window:,.0f}s are refused as replays (check both clocks, or widen webhook_replay_seconds)",
            connector=connector,
        )


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison: the time taken says nothing about how much of the secret was right."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def delivery_id(value: str | None, name: str, connector: str) -> str:
    text = (value or "").strip()
    if not _DELIVERY_ID.fullmatch(text):
        shown = excerpt(repr(text), 60) if text else "missing"
        raise WebhookRefused(
            "malformed",
            f"webhook header {name} is {shown}; expected a delivery id of printable characters (at most "
            f"{MAX_ID_CHARS})",
            connector=connector,
        )
    return text


def _ticket_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and _TICKET_ID.fullmatch(value.strip()):
        return value.strip()
    return None


def _named_ticket(layer: Mapping[str, Any]) -> str | None:
    """The ticket a JSON object names: ``ticket_id``, ``ticketId``, or ``ticket`` (an id or an object's id)."""
    for key in ("ticket_id", "ticketId"):
        found = _ticket_id(layer.get(key))
        if found is not None:
            return found
    ticket = layer.get("ticket")
    return _ticket_id(ticket.get("id") if isinstance(ticket, Mapping) else ticket)


def hinted_tickets(body: bytes, connector: str) -> tuple[str, ...]:
    """The ticket ids a webhook body names, as a trigger's template or an event payload writes them.

    Read: ``ticket_id`` / ``ticket`` at the top level or one object down, lists under ``ticket_ids`` /
    ``tickets``, and the ``detail.id`` of a Zendesk ticket event (``"type": "zen:event-type:ticket..."``).
    A bare top-level ``id`` is not read (it is often the webhook's own). An empty body hints at nothing;
    a body that is not JSON is refused as malformed.
    """
    if not body.strip():
        return ()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRefused(
            "malformed",
            f"webhook body is not JSON ({excerpt(body[:120].decode('utf-8', 'replace'), 80)}); "
            "make the trigger's template JSON",
            connector=connector,
        ) from None
    if not isinstance(data, Mapping):
        return ()
    found: list[str] = []
    layers = [data, *(v for v in data.values() if isinstance(v, Mapping))]
    for layer in layers:
        named = _named_ticket(layer)
        if named is not None:
            found.append(named)
        for key in _LIST_KEYS:
            values = layer.get(key)
            if isinstance(values, list):
                for value in values[: MAX_HINTED_TICKETS + 1]:
                    ticket = _ticket_id(value.get("id") if isinstance(value, Mapping) else value)
                    if ticket is not None:
                        found.append(ticket)
    detail = data.get("detail")
    if str(data.get("type", "")).startswith("zen:event-type:ticket") and isinstance(detail, Mapping):
        ticket = _ticket_id(detail.get("id"))
        if ticket is not None:
            found.append(ticket)
    unique = tuple(dict.fromkeys(found))
    if len(unique) > MAX_HINTED_TICKETS:
        raise WebhookRefused(
            "malformed",
            f"webhook body names more than {MAX_HINTED_TICKETS} tickets; send one delivery per ticket",
            connector=connector,
        )
    return unique


def verify_shared_secret(
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    *,
    secret: SecretStr,
    connector: str,
    window: float = DEFAULT_REPLAY_WINDOW,
) -> WebhookDelivery:
    """deskroute's own form for senders that cannot sign; WebhookRefused says which check failed."""
    check_size(body, connector)
    given = header(headers, SECRET_HEADER)
    if given is None or not same_secret(given, secret.get_secret_value()):
        raise WebhookRefused(
            "forged",
            f"webhook's {SECRET_HEADER} header is {'missing' if given is None else 'wrong'}; the sender must send "
            "the secret held in the connector's webhook_secret_env",
            connector=connector,
        )
    sent_at = parse_sent_at(header(headers, TIMESTAMP_HEADER), TIMESTAMP_HEADER, connector)
    check_fresh(sent_at, now, window, connector)
    ident = delivery_id(header(headers, DELIVERY_HEADER), DELIVERY_HEADER, connector)
    return WebhookDelivery(ident, hinted_tickets(body, connector), sent_at)


def shared_secret_headers(secret: str, delivery: str, sent_at: datetime) -> dict[str, str]:
    """The headers a sender of deskroute's own form sends (for senders built on deskroute, and tests)."""
    return {
        SECRET_HEADER: secret,
        DELIVERY_HEADER: delivery,
        TIMESTAMP_HEADER: str(int(as_utc(sent_at).timestamp())),
    }


__all__ = [
    "DEFAULT_REPLAY_WINDOW",
    "MAX_WEBHOOK_BYTES",
    "RefusalReason",
    "WebhookDelivery",
    "WebhookRefused",
    "check_fresh",
    "check_size",
    "header",
    "hinted_tickets",
    "parse_sent_at",
    "same_secret",
    "shared_secret_headers",
    "verify_shared_secret",
]
