"""A small stand-in for RT's REST 2 (served through respx) for the adapter's offline tests.

It keeps RT's quirks that matter to the adapter: one-second ``LastUpdated``, TicketSQL dates read in the
RT user's time zone (``utc_offset``), answers in UTC, page/per_page paging, priority names in the web form.
The live tests in tests/integration run the same adapter against a real RT.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

ROOT = "http://rt.example.com"
REST = f"{ROOT}/REST/2.0"
T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeTicket:
    id: int
    subject: str
    body: str
    updated: datetime
    created: datetime
    queue: str = "General"
    priority: int = 50
    owner: str = "Nobody"
    requestor: str = "ann@example.com"
    updated_by: str = "ann@example.com"
    tags: list[str] = field(default_factory=list)
    comments: list[tuple[int, str, str, str]] = field(default_factory=list)  # (txn, type, creator, text)


class FakeRT:
    def __init__(self, *, utc_offset: timedelta = timedelta(0), priority_names: dict[str, int] | None = None):
        self.utc_offset = utc_offset
        self.priority_names = priority_names or {"Low": 0, "Medium": 50, "High": 100}
        self.tickets: dict[int, FakeTicket] = {}
        self.searches: list[str] = []
        self.next_txn = 1000
        self.clock: datetime | None = None  # RT's clock for the Date header; None: the real time
        self.refuse_after_searches: int | None = None  # then answer 401, as when a password is changed

    def add(self, n: int, updated: datetime, **kw: Any) -> FakeTicket:
        ticket = FakeTicket(id=n, subject=f"ticket {n}", body=f"body {n}", updated=updated, created=updated, **kw)
        self.tickets[n] = ticket
        return ticket

    # -- TicketSQL, the parts the adapter uses -------------------------------------------------------

    def _read_date(self, text: str) -> datetime:
        # RT parses the string as the user's local time: UTC = local - offset.
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) - self.utc_offset

    def _matches(self, query: str, t: FakeTicket) -> bool:
        for clause in re.split(r"\s+AND\s+", query):
            clause = clause.strip().strip("()")
            if m := re.fullmatch(r"id\s*>\s*(\d+)", clause):
                ok = t.id > int(m.group(1))
            elif m := re.fullmatch(r"id\s*=\s*(\d+)", clause):
                ok = t.id == int(m.group(1))
            elif m := re.fullmatch(r"(LastUpdated|Created)\s*>=\s*'([^']+)'", clause):
                value = t.updated if m.group(1) == "LastUpdated" else t.created
                ok = value >= self._read_date(m.group(2))
            elif m := re.fullmatch(r"Queue\s*=\s*'([^']+)'", clause):
                ok = t.queue == m.group(1)
            else:
                raise AssertionError(f"fake RT cannot read {clause!r}")
            if not ok:
                return False
        return True

    def _item(self, t: FakeTicket) -> dict[str, Any]:
        return {
            "id": str(t.id),
            "type": "ticket",
            "Subject": t.subject,
            "Status": "open",
            "Priority": str(t.priority),
            "Queue": {"id": "1", "type": "queue", "Name": t.queue},
            "Owner": {"id": t.owner, "Name": t.owner},
            "Requestor": [{"id": t.requestor, "EmailAddress": t.requestor, "RealName": "Ann", "Name": t.requestor}],
            "Created": iso(t.created),
            "LastUpdated": iso(t.updated),
            "LastUpdatedBy": {"id": t.updated_by, "Name": t.updated_by},
            "CustomFields": [{"id": "2", "name": "deskroute tags", "values": list(t.tags)}],
        }

    def _search(self, params: dict[str, list[str]]) -> dict[str, Any]:
        query = params["query"][0]
        self.searches.append(query)
        orderby = params.get("orderby", ["id"])
        order = params.get("order", ["ASC"])
        found = [t for t in self.tickets.values() if self._matches(query, t)]
        if orderby[0] == "LastUpdated":
            found.sort(key=lambda t: (t.updated, t.id))
        else:
            found.sort(key=lambda t: t.id, reverse=order[0] == "DESC")
        page, per_page = int(params.get("page", ["1"])[0]), int(params.get("per_page", ["20"])[0])
        chunk = found[(page - 1) * per_page : page * per_page]
        pages = max(1, -(-len(found) // per_page))
        return {
            "total": len(found),
            "count": len(chunk),
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "items": [self._item(t) for t in chunk],
        }

    def _collection(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"total": len(items), "count": len(items), "page": 1, "pages": 1, "per_page": 100, "items": items}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        params = parse_qs(request.url.query.decode(), keep_blank_values=True)
        if path == "/NoAuth/Login.html":
            return httpx.Response(200, text="<html>logged in</html>", headers={"Set-Cookie": "RT_SID=abc; path=/"})
        if path == "/Ticket/Create.html":
            options = "".join(f'<option value="{v}">{k}</option>' for k, v in self.priority_names.items())
            page = f'<select name="InitialPriority"><option value="">-</option>{options}</select>'
            return httpx.Response(200, text=f"<html><body>{page}</body></html>")
        if path == "/REST/2.0/rt":
            return httpx.Response(200, json={"Version": "5.0.3-fake"})
        if path == "/REST/2.0/tickets":
            if self.refuse_after_searches is not None and len(self.searches) >= self.refuse_after_searches:
                return httpx.Response(401, json={"message": "Unauthorized"})
            date = format_datetime(self.clock or datetime.now(UTC), usegmt=True)
            return httpx.Response(200, json=self._search(params), headers={"Date": date})
        if m := re.fullmatch(r"/REST/2.0/ticket/(\d+)/history", path):
            t = self.tickets[int(m.group(1))]
            items = [
                {"id": str(t.id * 10), "Type": "Create", "Creator": {"id": t.requestor}, "Created": iso(t.created)}
            ]
            items += [
                {"id": str(txn), "Type": kind, "Creator": {"id": who}, "Created": iso(t.updated)}
                for txn, kind, who, _ in t.comments
            ]
            return httpx.Response(200, json=self._collection(items))
        if m := re.fullmatch(r"/REST/2.0/ticket/(\d+)/attachments", path):
            t = self.tickets[int(m.group(1))]
            items = [{"TransactionId": str(t.id * 10), "ContentType": "text/plain", "Content": t.body}]
            items += [
                {"TransactionId": str(txn), "ContentType": "text/plain", "Content": text}
                for txn, _, _, text in t.comments
            ]
            return httpx.Response(200, json=self._collection(items))
        if m := re.fullmatch(r"/REST/2.0/ticket/(\d+)/comment", path):
            t = self.tickets[int(m.group(1))]
            body = json.loads(request.content)
            self.next_txn += 1
            t.comments.append((self.next_txn, "Comment", "deskroute", body["Content"]))
            return httpx.Response(201, json=["Comments added"])
        return httpx.Response(404, json={"message": "Not Found"})
