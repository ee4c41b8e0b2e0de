"""Freshdesk's answers checked where they enter the adapter: every field read has the shape it needs.

Freshdesk's JSON is external input like any other. A listing whose frame is wrong (not a list, an item without
a record number for ``id``) fails with :class:`MalformedResponse` naming the endpoint and the field; one record
whose own fields are wrong is reported by :func:`problem`, so the caller refuses that record into quarantine
and keeps the rest of the page. Shapes follow Freshdesk's API v2 reference (ids are 64-bit integers, times
ISO 8601 in UTC, priority/status/source numeric codes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.errors import excerpt
from connectors.vendor_payloads import VendorShape, is_id


class Shape(VendorShape):
    """The Freshdesk endpoint being read, for messages."""

    vendor = "Freshdesk"

    def items(self, data: Any, key: str | None = None) -> list[dict[str, Any]]:
        """A listing: a JSON array (``key`` None) or ``data[key]``, of objects each with a record number."""
        items = data if key is None else (data.get(key) if isinstance(data, Mapping) else None)
        name = key or "(the answer)"
        if not isinstance(items, list):
            raise self.wrong(name, items, "a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.wrong(f"{name}[{index}]", item, "an object")
            if not is_id(item.get("id")):
                raise self.wrong(f"{name}[{index}].id", item.get("id"), "a record number")
        return items

    def record(self, data: Any) -> dict[str, Any]:
        """One object with a record number for ``id``."""
        if not isinstance(data, dict):
            raise self.wrong("(the answer)", data, "an object")
        if not is_id(data.get("id")):
            raise self.wrong("id", data.get("id"), "a record number")
        return data


_CHECKS = {
    "text": (lambda v: isinstance(v, str), "text"),
    "id": (is_id, "a record number"),
    "code": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1000, "a numeric code"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "object": (lambda v: isinstance(v, Mapping), "an object"),
}

TICKET = (
    ("subject", "text"),
    ("description", "text"),
    ("description_text", "text"),
    ("status", "code!"),
    ("priority", "code!"),
    ("source", "code"),
    ("type", "text"),
    ("requester_id", "id!"),
    ("responder_id", "id"),
    ("group_id", "id"),
    ("company_id", "id"),
    ("tags", "list"),
    ("custom_fields", "object"),
    ("requester", "object"),
    ("created_at", "text!"),
    ("updated_at", "text!"),
)
CONVERSATION = (
    ("body", "text"),
    ("body_text", "text"),
    ("incoming", "flag"),
    ("private", "flag"),
    ("user_id", "id"),
    ("created_at", "text!"),
)
CONTACT = (
    ("email", "text"),
    ("name", "text"),
    ("company_id", "id"),
    ("language", "text"),
    ("time_zone", "text"),
    ("tags", "list"),
    ("custom_fields", "object"),
    ("created_at", "text"),
    ("updated_at", "text"),
)
RATING = (
    ("user_id", "id!"),
    ("ticket_id", "id"),
    ("ratings", "object!"),
    ("feedback", "text"),
    ("created_at", "text!"),
)


def problem(item: Mapping[str, Any], checks: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The first field of ``item`` whose shape is wrong, with what is wrong; None when it reads."""
    for field, kind in checks:
        value = item.get(field)
        if value is None:
            if kind.endswith("!"):
                return field, "missing"
            continue
        ok, expected = _CHECKS[kind.rstrip("!")]
        if not ok(value):
            return field, f"is {excerpt(repr(value), 60)}, expected {expected}"
    for index, tag in enumerate(item.get("tags") or []):
        if not isinstance(tag, str):
            return f"tags[{index}]", f"is {excerpt(repr(tag), 60)}, expected text"
    return None
