"""Request Tracker's REST 2 API, as the calls the adapter needs (JSON in and out, through the HTTP layer)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from connectors.errors import ConnectorError, excerpt
from connectors.http import HttpClient, Page, PageRequest
from connectors.rt import payload
from connectors.rt.vocabulary import priority_names_from_form

# What a ticket listing returns per ticket; nested objects are expanded to the sub-fields named here.
TICKET_FIELDS = "Subject,Status,Priority,Queue,Owner,Requestor,Created,LastUpdated,LastUpdatedBy,CustomFields"
TICKET_EXPANSIONS = {
    "fields[Queue]": "Name",
    "fields[Owner]": "Name,EmailAddress",
    "fields[Requestor]": "EmailAddress,RealName,Organization,Name",
    "fields[LastUpdatedBy]": "Name",
}
MESSAGE_TYPES = ("Create", "Correspond", "Comment")
TEXT_TYPES = ("text/plain", "text/html")
MAX_PER_PAGE = 100  # RT's REST 2 never returns more per page


def quote(value: str) -> str:
    """A TicketSQL string literal: single quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def segment(name: str) -> str:
    """A name as one URL path segment (queue and user names may hold spaces)."""
    return urllib.parse.quote(name, safe="@")


Check = Callable[[list[dict[str, Any]], str, str], None]


def _next_page(params: Mapping[str, Any], where: str, connector: str) -> Callable[[Page], PageRequest | None]:
    """Follow RT's page numbers (not its ``next_page`` URL, so only our own parameters are ever sent).

    The page asked for is counted here, not read back from the answer: a server that keeps answering
    ``"page": 1`` must not make the pull ask for page 2 for ever. An empty page ends the listing whatever the
    answer says about more pages.
    """

    def follow(page: Page) -> PageRequest | None:
        items, paging = payload.collection(page.data, where, connector)
        if paging.pages is not None:
            more = page.number < paging.pages
        else:
            more = paging.next_page or len(items) >= (paging.per_page or 0) > 0
        if not more or not items:
            return None
        return PageRequest(page.response.request.url.path, {**params, "page": page.number + 1})

    return follow


REST = "REST/2.0/"


def _messages(data: Any) -> list[str]:
    """RT's answer to a write (one message per change), each as a short line: they end up in action details."""
    return [excerpt(m) for m in data[:10]] if isinstance(data, list) else [excerpt(data)]


class RTApi:
    """REST 2 calls, plus RT's web login and form for what REST 2 does not expose.

    ``http`` is rooted at RT's web path. With a password, the API logs in to RT's web interface once and
    REST 2 then authenticates by the session cookie: RT checks a password with bcrypt on every basic-auth
    request (about half a second each), and a session is checked in milliseconds. Basic auth stays on every
    request as the fallback, so a refused or expired session costs speed, never correctness.
    """

    def __init__(self, http: HttpClient, *, login: tuple[str, SecretStr] | None = None):
        self.http = http
        self._login = login
        self._logged_in = False

    @property
    def connector(self) -> str:
        return self.http.connector

    def close(self) -> None:
        self.http.close()

    def _session(self) -> None:
        if self._login is None or self._logged_in:
            return
        user, password = self._login
        # The web login is a speed-up (and the priority names); basic auth still works without it. An RT that
        # cannot be reached at all is reported by the login as by any other request.
        try:
            self.http.request(
                "POST",
                "NoAuth/Login.html",
                data={"user": user, "pass": password.get_secret_value(), "next": ""},
                headers={"Referer": self.http.base_url},
                idempotent=True,
                accept=(404,),
            )
        except ConnectorError as exc:
            if exc.retryable:
                raise
        else:
            # A refused login still leaves a session cookie, and RT answers a request carrying a dead session
            # and bad basic credentials with a redirect to its login page instead of 401: drop the cookie so
            # bad credentials read as bad credentials.
            if self.http.request("GET", REST + "rt", accept=(401, 403)).is_redirect:
                self.http.clear_cookies()
        self._logged_in = True

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, accept: Sequence[int] = ()) -> Any:
        self._session()
        return self.http.get(REST + path, params, accept=accept)

    def send(self, method: str, path: str, payload: Any) -> Any:
        self._session()
        return self.http.json(method, REST + path, json=payload)

    # -- reading ----------------------------------------------------------------------------------------

    def version(self) -> str:
        data = self.get("rt")
        return excerpt(data.get("Version", "unknown"), 60) if isinstance(data, Mapping) else "unknown"

    def search_tickets(
        self,
        query: str,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        orderby: Sequence[str] = ("LastUpdated", "id"),
        order: Sequence[str] = ("ASC", "ASC"),
        fields: str = TICKET_FIELDS,
        expand: bool = True,
    ) -> dict[str, Any]:
        """One page of a TicketSQL search."""
        params: dict[str, Any] = {
            "query": query,
            "fields": fields,
            "orderby": list(orderby),
            "order": list(order),
            "page": page,
            "per_page": min(per_page, MAX_PER_PAGE),
        }
        if expand:
            params.update(TICKET_EXPANSIONS)
        self._session()
        response = self.http.request("GET", REST + "tickets", params=params)
        data = self.http.decode(response)
        items, paging = payload.collection(data, "GET /tickets", self.connector)
        payload.tickets(items, "GET /tickets", self.connector)
        # RT's clock when it answered: tells whether a second can still receive updates (see the connector).
        return {**data, "items": items, "total": paging.total, "_server_time": response.headers.get("Date")}

    def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """One ticket in the listing's shape (names expanded), or None when it does not exist."""
        if not ticket_id.isdigit():
            return None
        data = self.search_tickets(f"id = {int(ticket_id)}", per_page=1)
        items = data["items"]
        return items[0] if items else None

    def _collection(self, path: str, params: Mapping[str, Any], check: Check | None = None) -> Iterator[dict[str, Any]]:
        self._session()
        first = {**params, "page": 1, "per_page": MAX_PER_PAGE}
        where = f"GET /{path}"
        for page in self.http.pages(PageRequest(REST + path, first), _next_page(first, where, self.connector)):
            items, _ = payload.collection(page.data, where, self.connector)
            if check is not None:
                check(items, where, self.connector)
            yield from items

    def messages(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's Create, Correspond and Comment transactions, oldest first, with their creator."""
        query = json.dumps([{"field": "Type", "operator": "IN", "value": list(MESSAGE_TYPES)}])
        return list(
            self._collection(
                f"ticket/{ticket_id}/history",
                {"query": query, "fields": "Type,Creator,Created"},
                payload.transactions,
            )
        )

    def texts(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's text attachments (plain and HTML) with their content and transaction."""
        query = json.dumps([{"field": "ContentType", "operator": "IN", "value": list(TEXT_TYPES)}])
        return list(
            self._collection(
                f"ticket/{ticket_id}/attachments",
                {"query": query, "fields": "TransactionId,ContentType,Content,Created"},
                payload.attachments,
            )
        )

    def _record(self, path: str) -> dict[str, Any] | None:
        """One record by name, None when RT says there is none (404, or an answer with only a message)."""
        data = self.get(path, accept=(404,))
        if not isinstance(data, dict) or not data.get("id") or "message" in data:
            return None
        payload.created_id(data, f"GET /{path}", self.connector)
        return data

    def user(self, name: str) -> dict[str, Any] | None:
        return self._record(f"user/{segment(name)}")

    def queue(self, name: str) -> dict[str, Any] | None:
        return self._record(f"queue/{segment(name)}")

    def queues(self) -> list[dict[str, Any]]:
        return list(self._collection("queues/all", {"fields": "Name,Disabled"}))

    def custom_field(self, name: str) -> dict[str, Any] | None:
        query = json.dumps([{"field": "Name", "value": name}])
        found = list(self._collection("customfields", {"query": query, "fields": "Name,LookupType,Type,Disabled"}))
        for item in found:
            if item.get("LookupType") in (None, "RT::Queue-RT::Ticket") and str(item.get("Disabled", "0")) == "0":
                return item
        return None

    # -- writing ----------------------------------------------------------------------------------------

    def update(self, ticket_id: str, fields: Mapping[str, Any]) -> list[str]:
        """PUT fields; RT answers 200 with one message per change, failures included."""
        data = self.send("PUT", f"ticket/{ticket_id}", dict(fields))
        return _messages(data)

    def comment(self, ticket_id: str, content: str, *, subject: str | None = None, html: bool = False) -> list[str]:
        """An internal comment: not sent to the requestor."""
        body: dict[str, Any] = {"Content": content, "ContentType": "text/html" if html else "text/plain"}
        if subject:
            body["Subject"] = subject
        data = self.send("POST", f"ticket/{ticket_id}/comment", body)
        return _messages(data)

    def create_ticket(self, fields: Mapping[str, Any]) -> str:
        data = self.send("POST", "ticket", dict(fields))
        return payload.created_id(data, "POST /ticket", self.connector)

    # -- the web form -----------------------------------------------------------------------------------

    def priority_names(self, queue_id: str) -> tuple[tuple[str, int], ...]:
        """``%PriorityAsString`` for a queue, read from RT's ticket form; empty when it cannot be read.

        REST 2 does not expose the setting, but RT renders it into the priority menu of its own ticket
        form. This needs the web login (a password, not a token); without it the configured map or RT's
        default applies.
        """
        if self._login is None:
            return ()
        self._session()
        response = self.http.request(
            "GET",
            "Ticket/Create.html",
            params={"Queue": queue_id},
            headers={"Referer": self.http.base_url, "Accept": "text/html"},
            accept=(404,),
        )
        return priority_names_from_form(response.text) if response.status_code == 200 else ()
