"""Zendesk Support's REST API, as the calls the adapter needs (JSON in and out, through the HTTP layer).

Two HTTP clients share the credentials: the incremental exports have their own, much lower rate limit
(10 requests a minute; 30 with the High Volume add-on) than the rest of the API, so each is paced by its own
budget and a burst of exports never starves the writes, nor the reverse.

Paging follows Zendesk's cursor pagination with deskroute's own parameters (``page[size]``, ``page[after]``
from ``meta.after_cursor``), never a ``links.next`` URL, so only our own parameters are ever sent; a cursor
that repeats is refused instead of looping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from connectors.errors import MalformedResponse
from connectors.http import HttpClient
from connectors.zendesk import shapes

API = "api/v2/"
PAGE_SIZE = 100  # the most a cursor-paginated list returns per page
EXPORT_PAGE_SIZE = 1000  # the most a cursor-based export returns per page
SHOW_MANY = 100  # ids per show_many request
# A ticket holds at most 5,000 comments; audits are of the same order. Past this a listing is not believed.
MAX_LIST_PAGES = 60


class ZendeskApi:
    """The calls the adapter makes; ``http`` for the API at large, ``export`` for the incremental exports."""

    def __init__(self, http: HttpClient, export: HttpClient):
        self.http = http
        self.export = export

    @property
    def connector(self) -> str:
        return self.http.connector

    def close(self) -> None:
        self.http.close()
        self.export.close()

    # -- paging -----------------------------------------------------------------------------------------

    def listing(
        self, path: str, key: str, params: Mapping[str, Any] | None = None, *, max_pages: int = MAX_LIST_PAGES
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list, page by page."""
        where = f"GET /{API}{path}"
        query: dict[str, Any] = {**(params or {}), "page[size]": PAGE_SIZE}
        seen: set[str] = set()
        for _ in range(max_pages):
            page = shapes.list_page(self.http.get(API + path, query), key, where, self.connector)
            yield from page.items
            if not page.has_more or not page.items:
                return
            assert page.after_cursor is not None  # list_page guarantees it while has_more
            if page.after_cursor in seen:
                raise MalformedResponse(
                    f"{where}: the same page cursor came back twice; Zendesk (or a proxy) is paging in a circle",
                    connector=self.connector,
                )
            seen.add(page.after_cursor)
            query["page[after]"] = page.after_cursor
        raise MalformedResponse(
            f"{where}: more than {max_pages} pages of {PAGE_SIZE}; a listing this long is not what Zendesk keeps",
            connector=self.connector,
        )

    # -- exports ----------------------------------------------------------------------------------------

    def export_tickets(self, *, start_time: int | None, cursor: str | None, per_page: int) -> shapes.ExportPage:
        """One page of the cursor-based incremental ticket export, requesters and updaters sideloaded."""
        params: dict[str, Any] = {"include": "users", "per_page": max(1, min(per_page, EXPORT_PAGE_SIZE))}
        if cursor is not None:
            params["cursor"] = cursor
        else:
            params["start_time"] = start_time or 0
        path = API + "incremental/tickets/cursor.json"
        return shapes.export_page(self.export.get(path, params), "tickets", f"GET /{path}", self.connector)

    def export_users(self, *, start_time: int | None, cursor: str | None, per_page: int) -> shapes.ExportPage:
        """One page of the cursor-based incremental user export."""
        params: dict[str, Any] = {"per_page": max(1, min(per_page, EXPORT_PAGE_SIZE))}
        if cursor is not None:
            params["cursor"] = cursor
        else:
            params["start_time"] = start_time or 0
        path = API + "incremental/users/cursor.json"
        return shapes.export_page(self.export.get(path, params), "users", f"GET /{path}", self.connector)

    def ratings_page(self, *, start_time: int, after: str | None) -> shapes.ListPage:
        """One page of satisfaction ratings created at or after ``start_time`` (received ones only)."""
        params: dict[str, Any] = {"start_time": start_time, "score": "received", "page[size]": PAGE_SIZE}
        if after is not None:
            params["page[after]"] = after
        path = API + "satisfaction_ratings.json"
        return shapes.list_page(self.http.get(path, params), "satisfaction_ratings", f"GET /{path}", self.connector)

    # -- reading ----------------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        path = API + "users/me.json"
        return shapes.Shape(f"GET /{path}", self.connector).record(self.http.get(path), "user")

    def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """One ticket, or None when it does not exist (or the agent cannot see it)."""
        if not (ticket_id.isascii() and ticket_id.isdigit() and 0 < len(ticket_id) <= 19):
            return None
        path = f"{API}tickets/{int(ticket_id)}.json"
        response = self.http.request("GET", path, accept=(404,))
        if response.status_code == 404:
            return None
        return shapes.Shape(f"GET /{path}", self.connector).record(self.http.decode(response), "ticket")

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's comments (public and private), oldest first."""
        return list(self.listing(f"tickets/{ticket_id}/comments.json", "comments"))

    def audits(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's audits (one per update: who, when, and each field's previous value), oldest first."""
        return list(self.listing(f"tickets/{ticket_id}/audits.json", "audits"))

    def _many(self, path: str, key: str, ids: Sequence[int]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        unique = sorted(set(ids))
        for start in range(0, len(unique), SHOW_MANY):
            chunk = ",".join(str(i) for i in unique[start : start + SHOW_MANY])
            data = self.http.get(API + path, {"ids": chunk})
            found.extend(shapes.Shape(f"GET /{API}{path}", self.connector).frame(data, key))
        return found

    def users(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        return self._many("users/show_many.json", "users", ids)

    def organizations(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        return self._many("organizations/show_many.json", "organizations", ids)

    def groups(self) -> list[dict[str, Any]]:
        return list(self.listing("groups.json", "groups"))

    def ticket_field(self, field_id: int) -> dict[str, Any] | None:
        path = f"{API}ticket_fields/{field_id}.json"
        response = self.http.request("GET", path, accept=(404,))
        if response.status_code == 404:
            return None
        return shapes.Shape(f"GET /{path}", self.connector).record(self.http.decode(response), "ticket_field")

    def webhooks(self) -> list[dict[str, Any]]:
        """The account's webhooks (ids are text there, so read without the id check)."""
        path = API + "webhooks"
        data = self.http.get(path, {"page[size]": PAGE_SIZE})
        items = data.get("webhooks") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise shapes.Shape(f"GET /{path}", self.connector).wrong("webhooks", items, "a list")
        return [w for w in items if isinstance(w, dict)]

    def search_users(self, email: str) -> list[dict[str, Any]]:
        path = API + "users/search.json"
        data = self.http.get(path, {"query": email})
        return shapes.Shape(f"GET /{path}", self.connector).frame(data, "users")

    def requested_tickets(self, user_id: int, *, max_pages: int) -> list[dict[str, Any]]:
        return list(self.listing(f"users/{user_id}/tickets/requested.json", "tickets", max_pages=max_pages))

    def tickets_by_external_id(self, external_id: str) -> list[dict[str, Any]]:
        path = API + "tickets.json"
        data = self.http.get(path, {"external_id": external_id})
        return shapes.Shape(f"GET /{path}", self.connector).frame(data, "tickets")

    # -- writing ----------------------------------------------------------------------------------------

    def update(self, ticket_id: str, ticket: Mapping[str, Any]) -> httpx.Response:
        """PUT the ticket's changes; a 409 (the safe-update guard) comes back for the caller to handle."""
        return self.http.request(
            "PUT", f"{API}tickets/{int(ticket_id)}.json", json={"ticket": dict(ticket)}, accept=(409,)
        )

    def create_ticket(self, ticket: Mapping[str, Any], *, idempotency_key: str) -> tuple[dict[str, Any], bool]:
        """Create a ticket under an ``Idempotency-Key``: the ticket and whether Zendesk had it already.

        Zendesk answers a repeat of the same key and body with the ticket first created (``x-idempotency-lookup:
        hit``), so the POST is safe to retry even when the first answer was lost.
        """
        path = API + "tickets.json"
        response = self.http.request(
            "POST",
            path,
            json={"ticket": dict(ticket)},
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
        )
        created = shapes.Shape(f"POST /{path}", self.connector).record(self.http.decode(response), "ticket")
        return created, response.headers.get("x-idempotency-lookup", "").lower() == "hit"
