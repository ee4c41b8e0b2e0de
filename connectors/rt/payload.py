"""RT's answers checked where they enter the adapter: every field the adapter reads has the shape it needs.

RT's JSON is external input like any other: a proxy, a plugin or a broken upgrade can answer ``"page": "x"``,
``"items": {}`` or a ticket ``id`` of ``"1/../../users"`` (which would become a request path). A field of the
wrong type fails here with :class:`MalformedResponse`, naming the endpoint and the field, e.g.
``GET /tickets: field 'items[3].id' is 'abc', expected a ticket number``, instead of a traceback later on.

RT itself writes counts as numbers, sometimes as floats (``"pages": 0.0``) and ids as strings (``"id": "1"``):
both are accepted, as are digit strings for counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import MalformedResponse, excerpt

# Ticket fields read as text, lists of references, and references (an object, a name or nothing).
_TEXT_FIELDS = ("Subject", "Status", "Created", "LastUpdated")
_LIST_FIELDS = ("Requestor", "CustomFields")
_REF_FIELDS = ("Queue", "Owner", "LastUpdatedBy", "Creator")


class _Shape:
    """The endpoint being read, for messages."""

    def __init__(self, where: str, connector: str):
        self.where = where
        self.connector = connector

    def wrong(self, field: str, value: Any, expected: str) -> MalformedResponse:
        shown = excerpt(repr(value), 60)
        return MalformedResponse(
            f"{self.where}: field '{field}' is {shown}, expected {expected}; RT (or something in front of it) "
            "answered in a shape its REST 2 API does not have",
            connector=self.connector,
        )

    def count(self, data: Mapping[str, Any], field: str) -> int | None:
        """A non-negative whole number (int, integral float or digit string), or None when absent."""
        value = data.get(field)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.wrong(field, value, "a whole number")
        if isinstance(value, int) and value >= 0:
            return value
        if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
            return int(value)
        raise self.wrong(field, value, "a whole number")

    def ident(self, item: Mapping[str, Any], field: str, path: str, what: str) -> str:
        """A record number (positive; RT writes them as numbers or digit strings), as the adapter's string."""
        value = item.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return str(value)
        if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 18 and int(value):
            return value
        raise self.wrong(f"{path}.{field}" if path else field, value, what)

    def text(self, item: Mapping[str, Any], field: str, path: str) -> None:
        value = item.get(field)
        if value is not None and not isinstance(value, str):
            raise self.wrong(f"{path}.{field}", value, "text")

    def listing(self, item: Mapping[str, Any], field: str, path: str) -> list[Any]:
        value = item.get(field)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(f"{path}.{field}", value, "a list")
        return value

    def reference(self, item: Mapping[str, Any], field: str, path: str) -> None:
        value = item.get(field)
        if value is not None and not isinstance(value, Mapping | str | int):
            raise self.wrong(f"{path}.{field}", value, "an object or a name")


@dataclass(frozen=True)
class Paging:
    """A REST 2 collection page's position: page (from 1), pages, per_page and total, each None when absent."""

    page: int | None
    pages: int | None
    per_page: int | None
    total: int | None
    next_page: bool


def collection(data: Any, where: str, connector: str) -> tuple[list[dict[str, Any]], Paging]:
    """The ``items`` of a REST 2 collection (each an object, with a number for ``id`` where it has one) and
    its paging fields, checked."""
    shape = _Shape(where, connector)
    if not isinstance(data, Mapping):
        raise shape.wrong("(the answer)", data, "an object with 'items'")
    items = data.get("items")
    if not isinstance(items, list):
        raise shape.wrong("items", items, "a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise shape.wrong(f"items[{index}]", item, "an object")
        if "id" in item:
            shape.ident(item, "id", f"items[{index}]", "a record number")
    paging = Paging(
        page=shape.count(data, "page"),
        pages=shape.count(data, "pages"),
        per_page=shape.count(data, "per_page"),
        total=shape.count(data, "total"),
        next_page=bool(data.get("next_page")),
    )
    if paging.page == 0:
        raise shape.wrong("page", 0, "a page number from 1")
    shape.count(data, "count")
    return items, paging


def tickets(items: list[dict[str, Any]], where: str, connector: str) -> None:
    """Ticket search items: a ticket number, text where text is read, lists where lists are, references."""
    shape = _Shape(where, connector)
    for index, item in enumerate(items):
        path = f"items[{index}]"
        shape.ident(item, "id", path, "a ticket number")
        for field in _TEXT_FIELDS:
            shape.text(item, field, path)
        for field in _REF_FIELDS:
            shape.reference(item, field, path)
        for field in _LIST_FIELDS:
            shape.listing(item, field, path)
        for n, cf in enumerate(shape.listing(item, "CustomFields", path)):
            if not isinstance(cf, Mapping):
                raise shape.wrong(f"{path}.CustomFields[{n}]", cf, "an object")
            shape.listing(cf, "values", f"{path}.CustomFields[{n}]")


def transactions(items: list[dict[str, Any]], where: str, connector: str) -> None:
    """A ticket's history items: a transaction number, a type and a time as text, the creator a reference."""
    shape = _Shape(where, connector)
    for index, item in enumerate(items):
        path = f"items[{index}]"
        shape.ident(item, "id", path, "a transaction number")
        shape.text(item, "Type", path)
        shape.text(item, "Created", path)
        shape.reference(item, "Creator", path)


def attachments(items: list[dict[str, Any]], where: str, connector: str) -> None:
    """A ticket's attachments: the transaction they belong to, their content type as text."""
    shape = _Shape(where, connector)
    for index, item in enumerate(items):
        path = f"items[{index}]"
        shape.ident(item, "TransactionId", path, "a transaction number")
        shape.text(item, "ContentType", path)


def created_id(data: Any, where: str, connector: str) -> str:
    """The number of the record a POST created."""
    shape = _Shape(where, connector)
    if not isinstance(data, Mapping):
        raise shape.wrong("(the answer)", data, "an object with 'id'")
    return shape.ident(data, "id", "", "a record number")
