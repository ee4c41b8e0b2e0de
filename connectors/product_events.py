"""Product events in the shape analytics tools emit (Segment-style ``track`` and ``identify`` calls), as records.

A batch is ``{"batch": [message, ...]}`` (a bare list is taken too). A ``track`` message names the person
(``userId`` and/or an e-mail in ``context.traits.email``), the event, when it happened (``timestamp``) and its
``properties``; an ``identify`` message ties a ``userId`` to ``traits`` such as ``email``. ``messageId`` is the
sender's id for a message: a message sent again is the same record.

The whole batch is validated before anything is returned: one message at fault refuses the batch, and the error
names its field (``batch[3].timestamp``), so a sender can fix it and send the batch again unchanged otherwise.
Event names become deskroute's event kinds through a configured mapping; names it lacks are dropped (counted),
or kept as ``other`` when the configuration says so.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from pydantic import ValidationError

from connectors.errors import excerpt
from connectors.records import MAX_ID_CHARS, BehaviorEvent, Customer, EventKind, as_utc

#: The most bytes a batch may have, and the most messages in it (Segment's own batch limit is 500 KB).
MAX_BATCH_BYTES = 512_000
MAX_BATCH_MESSAGES = 500
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)


class EventBatchError(ValueError):
    """A batch refused as a whole: ``field`` is where (``batch[2].userId``), the message says what to do."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.field = where
        self.problem = problem


@dataclass
class EventBatch:
    """A validated batch: behaviour events, people from ``identify`` calls, and event names with no kind."""

    events: list[BehaviorEvent] = field(default_factory=list)
    people: list[Customer] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    message_ids: list[str] = field(default_factory=list)


def _text(message: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        if required:
            raise EventBatchError(f"{where}.{key}", "missing; every message needs it")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # analytics tools send numeric user ids as numbers
    if not isinstance(value, str):
        raise EventBatchError(f"{where}.{key}", f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_ID_CHARS:
        raise EventBatchError(f"{where}.{key}", f"{len(value):,} characters long; at most {MAX_ID_CHARS}")
    return value.strip() or None


def _object(message: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = message.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventBatchError(f"{where}.{key}", f"must be an object, not {type(value).__name__}")
    return value


def _timestamp(message: Mapping[str, Any], where: str) -> datetime:
    value = message.get("timestamp")
    if not isinstance(value, str) or not value:
        raise EventBatchError(f"{where}.timestamp", "missing; give the time of the event as ISO 8601 with a zone")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventBatchError(f"{where}.timestamp", f"not an ISO 8601 time: {excerpt(value, 60)!r}") from None
    if parsed.tzinfo is None:
        raise EventBatchError(f"{where}.timestamp", "has no time zone; add Z or an offset such as +02:00")
    try:
        return as_utc(parsed)
    except ValueError as exc:
        raise EventBatchError(f"{where}.timestamp", str(exc)) from None


def _email(message: Mapping[str, Any], where: str) -> str | None:
    traits = _object(message, "traits", where)
    context = _object(message, "context", where)
    context_traits = _object(context, "traits", f"{where}.context")
    for holder, at in ((traits, f"{where}.traits"), (context_traits, f"{where}.context.traits")):
        found = _text(holder, "email", at)
        if found is not None:
            if "@" not in found:
                raise EventBatchError(f"{at}.email", f"not an e-mail address: {excerpt(found, 60)!r}")
            return found.lower()
    return None


def _record_error(exc: ValidationError, where: str) -> EventBatchError:
    first = exc.errors(include_url=False, include_input=False)[0]
    path = ".".join(str(p) for p in first["loc"])
    return EventBatchError(f"{where}.{path}" if path else where, excerpt(first["msg"], 200))


def parse_event_batch(
    body: bytes,
    *,
    source: str,
    kinds: Mapping[str, str],
    keep_unmapped: bool = False,
) -> EventBatch:
    """The batch's records; :class:`EventBatchError` names the first field at fault and nothing is returned.

    ``kinds`` maps event names (as sent) to deskroute's event kinds; a person is keyed by ``userId``, else by
    the e-mail address (lower-cased). Every record is stored under ``source``.
    """
    if len(body) > MAX_BATCH_BYTES:
        raise EventBatchError("(body)", f"{len(body):,} bytes; at most {MAX_BATCH_BYTES:,} in one batch")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventBatchError("(body)", f"not JSON ({excerpt(exc, 120)})") from None
    messages = data.get("batch") if isinstance(data, dict) else data
    if not isinstance(messages, list):
        raise EventBatchError("batch", 'expected {"batch": [messages]} or a list of messages')
    if not messages:
        raise EventBatchError("batch", "empty; send at least one message")
    if len(messages) > MAX_BATCH_MESSAGES:
        raise EventBatchError("batch", f"{len(messages):,} messages; at most {MAX_BATCH_MESSAGES} in one batch")
    out = EventBatch()
    seen: set[str] = set()
    for index, message in enumerate(messages):
        where = f"batch[{index}]"
        if not isinstance(message, dict):
            raise EventBatchError(where, f"must be an object, not {type(message).__name__}")
        kind_of_call = _text(message, "type", where, required=True)
        message_id = _text(message, "messageId", where, required=True)
        assert message_id is not None and kind_of_call is not None  # required above
        if message_id in seen:
            raise EventBatchError(f"{where}.messageId", f"{excerpt(message_id, 60)!r} twice in one batch")
        seen.add(message_id)
        user_id = _text(message, "userId", where)
        email = _email(message, where)
        person = user_id or email
        if person is None:
            raise EventBatchError(f"{where}.userId", "missing, and no e-mail in traits: say who it was")
        when = _timestamp(message, where)
        out.message_ids.append(message_id)
        if kind_of_call == "identify":
            if user_id is None:
                raise EventBatchError(f"{where}.userId", "missing; identify ties a userId to traits")
            traits = _object(message, "traits", where)
            name = traits.get("name")
            try:
                out.people.append(
                    Customer(
                        source=source,
                        external_id=user_id,
                        email=email,
                        name=name if isinstance(name, str) else None,
                        attributes={k: v for k, v in traits.items() if k not in ("email", "name")},
                    )
                )
            except ValidationError as exc:
                raise _record_error(exc, f"{where}.traits") from None
            continue
        if kind_of_call != "track":
            raise EventBatchError(f"{where}.type", f"{excerpt(kind_of_call, 40)!r}; only track and identify are taken")
        name = _text(message, "event", where, required=True)
        assert name is not None
        kind = kinds.get(name)
        if kind is None:
            if not keep_unmapped:
                out.unmapped[name] += 1
                continue
            kind = "other"
        properties = dict(_object(message, "properties", where))
        properties.setdefault("event", name)
        if email is not None and user_id is not None:
            properties.setdefault("email", email)
        try:
            out.events.append(
                BehaviorEvent(
                    source=source,
                    external_id=message_id,
                    customer_external_id=person,
                    kind=kind,
                    occurred_at=when,
                    properties=properties,
                )
            )
        except ValidationError as exc:
            raise _record_error(exc, where) from None
    return out
