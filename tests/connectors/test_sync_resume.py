"""Sync through the contract and the HTTP layer: a page failing mid-sync keeps every page before it.

The vendor here is a respx-served API in the Freshdesk style (``updated_since``, ``Link: rel="next"``), with
a connector written against the contract in a few lines: the shape a later Zendesk/Freshdesk adapter takes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from connectors import Action, ActionResult, Ticket
from connectors.base import CheckReport, Connector, Cursor, CustomerHistory, PullBatch
from connectors.errors import Unavailable
from connectors.http import HttpClient, PageRequest, next_from_link_header
from router.loop.sync import sync
from router.store import Store, TicketRow, count, get_cursor, get_ticket

BASE = "https://desk.example.com/api/v2"
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


class LinkHeaderDesk(Connector):
    """Tickets by ``updated_since`` with Link-header pages; the cursor is the last ``updated_at`` stored."""

    type = "linkdesk"

    def __init__(self, name: str, http: HttpClient):
        super().__init__(name)
        self.http = http

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        params = {"per_page": 3, "updated_since": (cursor or {}).get("updated_since", "1970-01-01T00:00:00+00:00")}
        for page in self.http.pages(PageRequest("tickets", params), next_from_link_header):
            tickets = [
                Ticket(
                    source=self.name,
                    external_id=str(t["id"]),
                    subject=t["subject"],
                    created_at=t["updated_at"],
                    updated_at=t["updated_at"],
                    updated_by=t["updated_by"],
                )
                for t in page.data
            ]
            if tickets:
                yield PullBatch(cursor={"updated_since": tickets[-1].updated_at.isoformat()}, tickets=tickets)

    def customer_history(self, customer: str) -> CustomerHistory:
        return CustomerHistory(customer=None)

    def apply(self, action: Action) -> ActionResult:
        return ActionResult(status="skipped", detail="read-only test desk")

    def check(self) -> CheckReport:
        return CheckReport(self.name)

    @property
    def agent_identity(self) -> str | None:
        return "deskroute-bot"


class Vendor:
    """Serves 10 tickets, oldest first, 3 a page; ``fail_pages`` answer 503."""

    def __init__(self) -> None:
        self.tickets = [
            {
                "id": n,
                "subject": f"ticket {n}",
                "updated_at": (T0 + timedelta(minutes=n)).isoformat(),
                "updated_by": "deskroute-bot" if n % 5 == 0 else "agent",
            }
            for n in range(1, 11)
        ]
        self.fail_pages: set[int] = set()
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append(params)
        page = int(params.get("page", "1"))
        if page in self.fail_pages:
            return httpx.Response(503, json={"message": "maintenance"})
        since = datetime.fromisoformat(params["updated_since"])
        matching = [t for t in self.tickets if datetime.fromisoformat(str(t["updated_at"])) >= since]
        chunk = matching[(page - 1) * 3 : page * 3]
        headers = {}
        if page * 3 < len(matching):
            url = httpx.URL(f"{BASE}/tickets", params={**params, "page": page + 1})
            headers["Link"] = f'<{url}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)


def desk(vendor: Vendor) -> LinkHeaderDesk:
    http = HttpClient(BASE, connector="linkdesk", sleep=lambda s: None, rng=random.Random(1), max_retries=2)
    return LinkHeaderDesk("linkdesk", http)


@respx.mock
def test_failed_page_keeps_earlier_pages_and_the_next_sync_resumes(database_url: str) -> None:
    vendor = Vendor()
    respx.get(f"{BASE}/tickets").mock(side_effect=vendor)
    store = Store(database_url)
    vendor.fail_pages = {3}
    seen: list[int] = []
    with pytest.raises(Unavailable):
        sync(store, desk(vendor), on_batch=lambda batch, report: seen.append(report.tickets))
    assert seen == [3, 6]
    with store.session() as session:
        assert count(session, TicketRow) == 6
        assert get_cursor(session, "linkdesk") == {"updated_since": (T0 + timedelta(minutes=6)).isoformat()}

    vendor.fail_pages = set()
    vendor.requests.clear()
    report = sync(store, desk(vendor))
    # resumed from the stored cursor: the second sync asked only from ticket 6 on
    assert vendor.requests[0]["updated_since"] == (T0 + timedelta(minutes=6)).isoformat()
    assert report.tickets == 5 and report.own_changes == 1
    with store.session() as session:
        assert count(session, TicketRow) == 10
        assert get_cursor(session, "linkdesk") == {"updated_since": (T0 + timedelta(minutes=10)).isoformat()}
        stored = get_ticket(session, "linkdesk", "10")
        assert stored is not None and stored.updated_by == "deskroute-bot"


@respx.mock
def test_full_and_since_ignore_the_stored_cursor(sqlite_url: str) -> None:
    vendor = Vendor()
    respx.get(f"{BASE}/tickets").mock(side_effect=vendor)
    store = Store(sqlite_url)
    assert sync(store, desk(vendor)).tickets == 10
    assert sync(store, desk(vendor)).tickets == 1  # `>=` the cursor: the last ticket again, stored once
    assert sync(store, desk(vendor), full=True).tickets == 10
    with store.session() as session:
        assert count(session, TicketRow) == 10


def test_cursor_since_is_refused_where_a_connector_cannot_start_at_a_time(sqlite_url: str) -> None:
    with pytest.raises(NotImplementedError, match="full sync"):
        sync(Store(sqlite_url), desk(Vendor()), since=T0)
