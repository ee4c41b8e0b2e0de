"""Freshdesk's REST API (v2), as the calls the adapter makes (JSON in and out, through the HTTP layer).

Listings are paged with ``page`` and ``per_page`` (at most 100) and say in their ``Link`` header whether a next
page exists; a page past 300 is refused (400). Only deskroute's own parameters are sent: the ``Link`` URL is
read for whether there is more, never followed as given. Rate limits come back as ``X-RateLimit-Total`` /
``X-RateLimit-Remaining`` on every answer, which the HTTP clients feed into their budgets.

Two HTTP clients share the credentials: Freshdesk limits the ticket and contact listings per minute far below
the account's total (Growth: 20 of 200), so the listings are paced by their own budget and a long pull never
spends the minute's quota the writes need, nor the reverse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.errors import MalformedResponse
from connectors.freshdesk.freshdesk_payloads import Shape
from connectors.http import HttpClient

API = "api/v2/"
PER_PAGE = 100
# Freshdesk refuses pages past this; the puller moves its time filter forward instead of paging further.
PAGE_CAP = 300
# Conversations, groups and agents of one account: past this many pages a listing is not believed.
MAX_LIST_PAGES = 100


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    has_next: bool


class FreshdeskApi:
    """The calls the adapter makes."""

    def __init__(self, http: HttpClient, listing: HttpClient | None = None):
        self.http = http
        self.listing_http = listing or http

    @property
    def connector(self) -> str:
        return self.http.connector

    def close(self) -> None:
        self.http.close()
        if self.listing_http is not self.http:
            self.listing_http.close()

    def page(self, path: str, params: Mapping[str, Any], *, listing: bool = False) -> ListPage:
        """One page of a listing and whether its ``Link`` header names a next one; ``listing``: paced by the
        listings' own budget (tickets, contacts)."""
        client = self.listing_http if listing else self.http
        response = client.request("GET", API + path, params=params)
        shape = Shape(f"GET /{API}{path}", self.connector)
        return ListPage(shape.items(client.decode(response)), "next" in response.links)

    def listing(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a short listing (a ticket's conversations, the groups, the agents)."""
        for number in range(1, MAX_LIST_PAGES + 1):
            page = self.page(path, {**(params or {}), "per_page": PER_PAGE, "page": number})
            yield from page.items
            if not page.has_next or not page.items:
                return
        raise MalformedResponse(
            f"GET /{API}{path}: more than {MAX_LIST_PAGES} pages of {PER_PAGE}; not a listing Freshdesk keeps",
            connector=self.connector,
        )

    # -- incremental listings ---------------------------------------------------------------------------

    def tickets_page(self, *, updated_since: datetime, page: int, per_page: int) -> ListPage:
        """Tickets updated at or after ``updated_since``, oldest change first, requester and description embedded."""
        return self.page(
            "tickets",
            {
                "updated_since": iso(updated_since),
                "order_by": "updated_at",
                "order_type": "asc",
                "include": "requester,description",
                "per_page": per_page,
                "page": page,
            },
            listing=True,
        )

    def contacts_page(self, *, updated_since: datetime, page: int, per_page: int) -> ListPage:
        return self.page(
            "contacts", {"_updated_since": iso(updated_since), "per_page": per_page, "page": page}, listing=True
        )

    def ratings_page(self, *, created_since: datetime, page: int, per_page: int) -> ListPage:
        return self.page(
            "surveys/satisfaction_ratings", {"created_since": iso(created_since), "per_page": per_page, "page": page}
        )

    # -- reading ----------------------------------------------------------------------------------------

    def _one(self, path: str) -> dict[str, Any] | None:
        response = self.http.request("GET", API + path, accept=(404,))
        if response.status_code == 404:
            return None
        return Shape(f"GET /{API}{path}", self.connector).record(self.http.decode(response))

    def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """One ticket, or None when it does not exist (or the key's agent cannot see it)."""
        if not (ticket_id.isascii() and ticket_id.isdigit() and 0 < len(ticket_id) <= 18):
            return None
        return self._one(f"tickets/{int(ticket_id)}")

    def contact(self, contact_id: int) -> dict[str, Any] | None:
        return self._one(f"contacts/{contact_id}")

    def company(self, company_id: int) -> dict[str, Any] | None:
        return self._one(f"companies/{company_id}")

    def me(self) -> dict[str, Any]:
        """The agent the API key belongs to."""
        path = API + "agents/me"
        return Shape(f"GET /{path}", self.connector).record(self.http.get(path))

    def conversations(self, ticket_id: int) -> list[dict[str, Any]]:
        return list(self.listing(f"tickets/{ticket_id}/conversations"))

    def groups(self) -> list[dict[str, Any]]:
        return list(self.listing("groups"))

    def agents(self) -> list[dict[str, Any]]:
        return list(self.listing("agents"))

    def ticket_fields(self) -> list[dict[str, Any]]:
        path = API + "ticket_fields"
        return Shape(f"GET /{path}", self.connector).items(self.http.get(path))

    def contacts_by_email(self, email: str) -> list[dict[str, Any]]:
        path = API + "contacts"
        return Shape(f"GET /{path}", self.connector).items(self.http.get(path, {"email": email}))

    def tickets_of(self, *, requester_id: int, pages: int) -> list[dict[str, Any]]:
        """A requester's tickets, newest first, whatever their age (``updated_since`` lifts the 30-day default)."""
        found: list[dict[str, Any]] = []
        for number in range(1, pages + 1):
            page = self.page(
                "tickets",
                {
                    "requester_id": requester_id,
                    "updated_since": "2000-01-01T00:00:00Z",
                    "include": "description",
                    "per_page": PER_PAGE,
                    "page": number,
                },
                listing=True,
            )
            found.extend(page.items)
            if not page.has_next or not page.items:
                break
        return found

    def ticket_ratings(self, ticket_id: int) -> list[dict[str, Any]]:
        path = f"{API}tickets/{ticket_id}/satisfaction_ratings"
        return Shape(f"GET /{path}", self.connector).items(self.http.get(path))

    # -- writing ----------------------------------------------------------------------------------------

    def update(self, ticket_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the ticket's fields (``tags`` replaces the whole list); the ticket as it is now."""
        path = f"{API}tickets/{ticket_id}"
        return Shape(f"PUT /{path}", self.connector).record(self.http.json("PUT", path, json=dict(fields)))

    def add_note(self, ticket_id: int, body_html: str) -> dict[str, Any]:
        """A private note (never sent to the requester). Not idempotent: callers look for its marker first."""
        path = f"{API}tickets/{ticket_id}/notes"
        data = self.http.json("POST", path, json={"body": body_html, "private": True}, idempotent=False)
        return Shape(f"POST /{path}", self.connector).record(data)

    def outbound_email(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A new ticket whose first message is e-mailed to the requester. Not idempotent: see the caller."""
        path = API + "tickets/outbound_email"
        data = self.http.json("POST", path, json=dict(fields), idempotent=False)
        return Shape(f"POST /{path}", self.connector).record(data)

    def email_configs(self) -> list[dict[str, Any]]:
        path = API + "email_configs"
        return Shape(f"GET /{path}", self.connector).items(self.http.get(path))
