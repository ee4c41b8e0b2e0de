"""A small stand-in for Freshdesk (API v2), built from the documented payloads in ``fixtures/``.

One model of an account (tickets with conversations, contacts, companies, groups, agents, ratings, ticket
fields, mailboxes) answers the adapter's requests in Freshdesk's shapes: the fixtures' records are the templates
every answer is made from. It keeps the behaviour the adapter depends on: ``updated_since`` including its second,
ascending ``updated_at`` order, ``page``/``per_page`` with a ``Link`` header and a page cap (400 past it), ``tags``
replacing the whole list, private notes, outbound e-mail tickets, and ``X-RateLimit-*`` headers. Serving, faults
and kills come from :mod:`tests.connectors.fake_vendor`.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.connectors.fake_vendor import FakeVendor, Reply

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = "https://example.freshdesk.com"
API_KEY = "fd-Api-K3y-5ecret"
ME = 41002222100
BOB = 41002222001
ANA = 41007372002
TRIAGE, BILLING = 41000199103, 41000199104
MAILBOX = 41000015452
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeFreshdesk(FakeVendor):
    name = "the fake Freshdesk"

    def __init__(self, *, now: datetime = T0, page_cap: int = 300) -> None:
        super().__init__()
        self.now = now
        self.page_cap = page_cap
        self.ticket_template = fixture("tickets_list.json")[0]
        self.conversation_template = fixture("ticket_conversations.json")[0]
        self.contact_template = fixture("contacts_list.json")[0]
        self.contacts: dict[int, dict[str, Any]] = {ANA: copy.deepcopy(self.contact_template)}
        self.company = fixture("company.json")
        self.groups = {g["id"]: g for g in fixture("groups.json")}
        self.agents = {a["id"]: a for a in fixture("agents.json")}
        self.me = fixture("agents_me.json")
        self.agents[ME] = self.me
        self.ratings: list[dict[str, Any]] = fixture("satisfaction_ratings.json")
        self.fields = fixture("ticket_fields.json")
        self.mailboxes = fixture("email_configs.json")
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.writes: list[tuple[str, int, dict[str, Any]]] = []
        # Before the next PUT to a ticket someone else changes it: ("tags", [...]) or ("group", id).
        self.interleave: dict[int, tuple[str, Any]] = {}
        self.quota = {
            "X-RateLimit-Total": "200",
            "X-RateLimit-Remaining": "180",
            "X-RateLimit-Used-CurrentRequest": "1",
        }
        self._next_id = 5000

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def tick(self) -> datetime:
        """The time of a change: now, and the clock moves on a second."""
        moment = self.now
        self.now += timedelta(seconds=1)
        return moment

    # -- the account ------------------------------------------------------------------------------------

    def add_ticket(self, subject: str, *, at: datetime | None = None, requester: int = ANA, **fields: Any) -> int:
        ticket_id = fields.pop("id", None) or self.next_id()
        moment = iso(at or self.tick())
        ticket = copy.deepcopy(self.ticket_template)
        ticket.update(
            id=ticket_id,
            subject=subject,
            description=f"<div>{subject}</div>",
            description_text=subject,
            requester_id=requester,
            created_at=moment,
            updated_at=moment,
            tags=[],
            **fields,
        )
        contact = self.contacts.get(requester, {})
        ticket["requester"] = {k: contact.get(k) for k in ("id", "name", "email", "mobile", "phone")}
        self.tickets[ticket_id] = ticket
        self.conversations[ticket_id] = []
        return ticket_id

    def add_group(self, name: str) -> int:
        group_id = max(self.groups) + 1
        self.groups[group_id] = {**self.groups[TRIAGE], "id": group_id, "name": name, "agent_ids": []}
        return group_id

    def group_id(self, name: str) -> int:
        return next(g for g, v in self.groups.items() if v["name"] == name)

    def notes_of(self, ticket_id: int) -> list[dict[str, Any]]:
        """deskroute's notes on a ticket: private, by its agent, carrying an action's marker."""
        return [
            c
            for c in self.conversations[ticket_id]
            if c["user_id"] == ME and c["private"] and "deskroute:action=" in c["body"]
        ]

    def add_contact(self, email: str) -> int:
        contact = copy.deepcopy(self.contact_template)
        contact.update(id=self.next_id(), email=email, name=email.split("@")[0], company_id=None)
        contact["created_at"] = contact["updated_at"] = iso(self.now)
        self.contacts[contact["id"]] = contact
        return int(contact["id"])

    def converse(self, ticket_id: int, user: int, text: str, *, incoming: bool, private: bool) -> dict[str, Any]:
        moment = iso(self.tick())
        item = copy.deepcopy(self.conversation_template)
        item.update(
            id=self.next_id(),
            body=f"<div>{text}</div>",
            body_text=text,
            incoming=incoming,
            private=private,
            user_id=user,
            ticket_id=ticket_id,
            created_at=moment,
            updated_at=moment,
        )
        self.conversations[ticket_id].append(item)
        self.tickets[ticket_id]["updated_at"] = moment
        return item

    def person_changes(self, ticket_id: int, **fields: Any) -> None:
        """An agent changes the ticket in Freshdesk's UI (no conversation: the API cannot say who)."""
        self.tickets[ticket_id].update(fields, updated_at=iso(self.tick()))

    # -- serving ----------------------------------------------------------------------------------------

    def authorized(self, headers: dict[str, str]) -> Reply | None:
        expected = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
        if headers.get("authorization") == expected:
            return None
        return Reply(
            401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
        )

    def _paged(self, path: str, items: list[dict[str, Any]], params: dict[str, str]) -> Reply:
        page, per_page = int(params.get("page", "1")), min(100, int(params.get("per_page", "30")))
        if page > self.page_cap:
            return Reply(
                400,
                {
                    "description": "Validation failed",
                    "errors": [
                        {
                            "field": "page",
                            "message": f"Value must be less than or equal to {self.page_cap}",
                            "code": "invalid_value",
                        }
                    ],
                },
            )
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={v}" for k, v in {**params, "page": str(page + 1)}.items())
            headers["Link"] = f'<{ROOT}{path}?{query}>; rel="next"'
        return Reply(200, chunk, headers)

    def route(self, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: Any) -> Reply:
        api = path.removeprefix("/api/v2/")
        parts = api.split("/")
        if method == "GET":
            if api == "tickets":
                return self._list_tickets(path, params)
            if api == "contacts":
                if "email" in params:
                    found = [c for c in self.contacts.values() if c["email"] == params["email"]]
                    return Reply(200, found)
                since = parse(params.get("_updated_since", "2000-01-01T00:00:00Z"))
                found = [c for c in self.contacts.values() if parse(c["updated_at"]) >= since]
                return self._paged(path, found, params)
            if api == "surveys/satisfaction_ratings":
                since = parse(params.get("created_since", "2000-01-01T00:00:00Z"))
                return self._paged(path, [r for r in self.ratings if parse(r["created_at"]) >= since], params)
            if api == "groups":
                return self._paged(path, list(self.groups.values()), params)
            if api == "agents":
                return self._paged(path, list(self.agents.values()), params)
            if api == "agents/me":
                return Reply(200, self.me)
            if api == "ticket_fields":
                return Reply(200, self.fields)
            if api == "email_configs":
                return Reply(200, self.mailboxes)
            if parts[0] == "companies" and len(parts) == 2:
                return Reply(200, self.company) if int(parts[1]) == self.company["id"] else Reply(404)
            if parts[0] == "contacts" and len(parts) == 2:
                found = self.contacts.get(int(parts[1]))
                return Reply(200, found) if found else Reply(404)
            if parts[0] == "tickets" and len(parts) >= 2 and parts[1].isdigit():
                ticket = self.tickets.get(int(parts[1]))
                if ticket is None:
                    return Reply(404)
                if len(parts) == 2:
                    return Reply(200, {k: v for k, v in ticket.items() if k != "requester"})
                if parts[2] == "conversations":
                    return self._paged(path, self.conversations[int(parts[1])], params)
        if method == "PUT" and parts[0] == "tickets" and len(parts) == 2:
            return self._update(int(parts[1]), body)
        if method == "POST" and parts[0] == "tickets" and len(parts) == 3 and parts[2] == "notes":
            ticket_id = int(parts[1])
            if ticket_id not in self.tickets:
                return Reply(404)
            note = self.converse(ticket_id, ME, body["body"], incoming=False, private=bool(body.get("private")))
            note["body"], note["body_text"] = body["body"], body["body"].replace("<p>", "").replace("</p>", "\n")
            self.writes.append(("POST note", ticket_id, body))
            return Reply(201, note)
        if method == "POST" and api == "tickets/outbound_email":
            return self._outbound(body)
        return Reply(404)

    def _list_tickets(self, path: str, params: dict[str, str]) -> Reply:
        if "requester_id" in params:
            mine = [t for t in self.tickets.values() if t["requester_id"] == int(params["requester_id"])]
            mine.sort(key=lambda t: (t["updated_at"], t["id"]), reverse=True)
            return self._paged(path, mine, params)
        since = parse(params["updated_since"])
        found = sorted(
            (t for t in self.tickets.values() if parse(t["updated_at"]) >= since),
            key=lambda t: (t["updated_at"], t["id"]),
        )
        if "requester" not in params.get("include", ""):
            found = [{k: v for k, v in t.items() if k != "requester"} for t in found]
        return self._paged(path, found, params)

    def _update(self, ticket_id: int, fields: dict[str, Any]) -> Reply:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return Reply(404)
        someone = self.interleave.pop(ticket_id, None)
        if someone is not None:
            self.person_changes(ticket_id, **{"tags" if someone[0] == "tags" else "group_id": someone[1]})
        if "group_id" in fields and fields["group_id"] not in self.groups:
            return Reply(400, fixture("error_validation.json"))
        ticket.update(fields, updated_at=iso(self.tick()))
        self.writes.append(("PUT", ticket_id, fields))
        return Reply(200, {k: v for k, v in ticket.items() if k != "requester"})

    def _outbound(self, fields: dict[str, Any]) -> Reply:
        contact = next((i for i, c in self.contacts.items() if c["email"] == fields["email"]), None)
        requester = contact or self.add_contact(fields["email"])
        ticket_id = self.add_ticket(
            fields["subject"],
            requester=requester,
            status=fields.get("status", 5),
            priority=fields.get("priority", 1),
            group_id=fields.get("group_id"),
            source=10,
        )
        self.tickets[ticket_id]["tags"] = list(fields.get("tags", []))
        self.writes.append(("POST outbound", ticket_id, fields))
        return Reply(201, {k: v for k, v in self.tickets[ticket_id].items() if k != "requester"})
