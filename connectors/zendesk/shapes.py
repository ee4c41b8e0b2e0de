"""Zendesk's answers checked where they enter the adapter: every field the adapter reads has the shape it needs.

Zendesk's JSON is external input like any other: a proxy, a sandbox or a change on Zendesk's side can answer
``"tickets": {}``, an ``id`` of ``"1/../users"`` (which would become a request path) or an ``end_of_stream``
that is a string. A page whose frame is wrong fails here with :class:`MalformedResponse` naming the endpoint
and the field, e.g. ``GET /api/v2/incremental/tickets/cursor.json: field 'tickets[3].id' is 'abc', expected
a record number``. One record whose own fields are wrong is reported by :func:`ticket_problem` and friends, so
the caller refuses that record into quarantine and keeps the rest of the page.

Shapes follow Zendesk's OpenAPI description (ids are 64-bit integers, times ISO 8601 strings in UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.errors import excerpt
from connectors.vendor_payloads import MAX_ID, VendorShape, is_id


class Shape(VendorShape):
    """The Zendesk endpoint being read, for messages."""

    vendor = "Zendesk"

    def frame(self, data: Any, key: str) -> list[dict[str, Any]]:
        """``data[key]``: a list of objects, each with a record number for ``id``."""
        if not isinstance(data, Mapping):
            raise self.wrong("(the answer)", data, f"an object with '{key}'")
        items = data.get(key)
        if not isinstance(items, list):
            raise self.wrong(key, items, "a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.wrong(f"{key}[{index}]", item, "an object")
            if not is_id(item.get("id")):
                raise self.wrong(f"{key}[{index}].id", item.get("id"), "a record number")
        return items

    def record(self, data: Any, key: str) -> dict[str, Any]:
        """``data[key]``: one object with a record number for ``id`` (``{"ticket": {...}}``)."""
        if not isinstance(data, Mapping):
            raise self.wrong("(the answer)", data, f"an object with '{key}'")
        item = data.get(key)
        if not isinstance(item, dict):
            raise self.wrong(key, item, "an object")
        if not is_id(item.get("id")):
            raise self.wrong(f"{key}.id", item.get("id"), "a record number")
        return item


@dataclass(frozen=True)
class ExportPage:
    """One page of a cursor-based incremental export."""

    items: list[dict[str, Any]]
    users: list[dict[str, Any]]
    after_cursor: str | None
    end_of_stream: bool


def export_page(data: Any, key: str, where: str, connector: str) -> ExportPage:
    """A cursor export page: ``key`` (tickets, users), ``after_cursor``, ``end_of_stream`` and sideloaded users."""
    shape = Shape(where, connector)
    items = shape.frame(data, key)
    end = data.get("end_of_stream")
    if not isinstance(end, bool):
        raise shape.wrong("end_of_stream", end, "true or false")
    after = data.get("after_cursor")
    if after is not None and not (isinstance(after, str) and 0 < len(after) <= 2000 and after.isprintable()):
        raise shape.wrong("after_cursor", after, "a cursor (text) or null")
    if not end and after is None:
        raise shape.wrong("after_cursor", after, "a cursor while end_of_stream is false")
    users = shape.frame(data, "users") if key != "users" and "users" in data else []
    return ExportPage(items, users, after, end)


@dataclass(frozen=True)
class ListPage:
    """One page of a cursor-paginated list endpoint."""

    items: list[dict[str, Any]]
    has_more: bool
    after_cursor: str | None


def list_page(data: Any, key: str, where: str, connector: str) -> ListPage:
    """A list page: ``key`` and ``meta.has_more`` / ``meta.after_cursor`` (absent meta: a single page)."""
    shape = Shape(where, connector)
    items = shape.frame(data, key)
    meta = data.get("meta")
    if meta is None:
        return ListPage(items, False, None)
    if not isinstance(meta, Mapping):
        raise shape.wrong("meta", meta, "an object")
    more = meta.get("has_more", False)
    if not isinstance(more, bool):
        raise shape.wrong("meta.has_more", more, "true or false")
    after = meta.get("after_cursor")
    if after is not None and not (isinstance(after, str) and 0 < len(after) <= 2000 and after.isprintable()):
        raise shape.wrong("meta.after_cursor", after, "a cursor (text) or null")
    if more and after is None:
        raise shape.wrong("meta.after_cursor", after, "a cursor while meta.has_more is true")
    return ListPage(items, more, after)


# -- one record's own fields: a problem refuses that record, not the page -------------------------------


def _problem(item: Mapping[str, Any], checks: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    for field, kind in checks:
        value = item.get(field)
        if value is None:
            if kind.endswith("!"):
                return field, "missing"
            continue
        kind = kind.rstrip("!")
        ok = {
            "text": isinstance(value, str),
            "id": is_id(value),
            "flag": isinstance(value, bool),
            "list": isinstance(value, list),
            "object": isinstance(value, Mapping),
            "system_id": isinstance(value, int) and not isinstance(value, bool) and -1 <= value <= MAX_ID,
        }[kind]
        if not ok:
            expected = {
                "text": "text",
                "id": "a record number",
                "flag": "true or false",
                "list": "a list",
                "object": "an object",
                "system_id": "a user number (-1 for Zendesk itself)",
            }[kind]
            return field, f"is {excerpt(repr(value), 60)}, expected {expected}"
    return None


_TICKET = (
    ("subject", "text"),
    ("description", "text"),
    ("status", "text"),
    ("priority", "text"),
    ("type", "text"),
    ("requester_id", "id"),
    ("assignee_id", "id"),
    ("group_id", "id"),
    ("organization_id", "id"),
    ("tags", "list"),
    ("custom_fields", "list"),
    ("via", "object"),
    ("satisfaction_rating", "object"),
    ("created_at", "text!"),
    ("updated_at", "text!"),
)
_COMMENT = (
    ("author_id", "system_id!"),
    ("body", "text"),
    ("plain_body", "text"),
    ("public", "flag"),
    ("created_at", "text!"),
)
_AUDIT = (("author_id", "system_id!"), ("created_at", "text!"), ("events", "list"), ("via", "object"))
_USER = (
    ("email", "text"),
    ("name", "text"),
    ("role", "text"),
    ("organization_id", "id"),
    ("created_at", "text"),
    ("user_fields", "object"),
)
_RATING = (
    ("ticket_id", "id"),
    ("requester_id", "id!"),
    ("score", "text!"),
    ("comment", "text"),
    ("created_at", "text!"),
)


def ticket_problem(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first field of a ticket whose shape is wrong, with what is wrong; None when it reads."""
    found = _problem(item, _TICKET)
    if found is not None:
        return found
    for index, tag in enumerate(item.get("tags") or []):
        if not isinstance(tag, str):
            return f"tags[{index}]", f"is {excerpt(repr(tag), 60)}, expected text"
    for index, custom in enumerate(item.get("custom_fields") or []):
        if not isinstance(custom, Mapping) or not is_id(custom.get("id")):
            return f"custom_fields[{index}]", f"is {excerpt(repr(custom), 60)}, expected an object with an id"
    return None


def comment_problem(item: Mapping[str, Any]) -> tuple[str, str] | None:
    return _problem(item, _COMMENT)


def audit_problem(item: Mapping[str, Any]) -> tuple[str, str] | None:
    found = _problem(item, _AUDIT)
    if found is not None:
        return found
    for index, event in enumerate(item.get("events") or []):
        if not isinstance(event, Mapping):
            return f"events[{index}]", f"is {excerpt(repr(event), 60)}, expected an object"
    return None


def user_problem(item: Mapping[str, Any]) -> tuple[str, str] | None:
    return _problem(item, _USER)


def rating_problem(item: Mapping[str, Any]) -> tuple[str, str] | None:
    return _problem(item, _RATING)
