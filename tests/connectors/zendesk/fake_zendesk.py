"""A small stand-in for Zendesk Support, built from the documented payloads in ``fixtures/``.

One model of an account (tickets with comments and audits, users, groups, organizations, ratings, a band
field, a webhook) answers the requests the adapter makes, in Zendesk's shapes: the fixtures' records are the
templates every answer is made from. It keeps the behaviour the adapter depends on: the cursor-based exports
(exact cursors, the last minute held back, ``end_of_stream``), cursor pagination of lists, the safe-update
guard (409 on a stale ``updated_stamp``), ``additional_tags``, private comments, ``Idempotency-Key`` on
ticket creation, and an audit naming the author of every change.

It serves through respx or on a loopback socket, with injected faults and a SIGKILL at a chosen request, as
every fake helpdesk does (:mod:`tests.connectors.fake_vendor`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.connectors.fake_vendor import FakeVendor, Reply

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = "https://example.zendesk.com"
AGENT_EMAIL = "deskroute@support.example.com"
TOKEN = "zd-T0ken-5ecret-value"
ME = 8100
BOB = 8001  # an agent
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(*parts: int) -> str:
    return base64.urlsafe_b64encode(":".join(str(p) for p in parts).encode()).decode()


def _decode(cursor: str) -> list[int]:
    return [int(p) for p in base64.urlsafe_b64decode(cursor.encode()).decode().split(":")]


@dataclass
class FakeTicket:
    id: int
    subject: str
    description: str
    requester_id: int
    created_at: datetime
    updated_at: datetime
    group_id: int | None = 5002
    priority: str | None = None
    status: str = "new"
    assignee_id: int | None = None
    organization_id: int | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[int, Any] = field(default_factory=dict)
    external_id: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)


class FakeZendesk(FakeVendor):
    name = "the fake Zendesk"

    def __init__(self, *, now: datetime = T0 + timedelta(hours=1)) -> None:
        super().__init__()
        self.now = now
        self.ticket_template = fixture("incremental_tickets_cursor.json")["tickets"][0]
        users = {u["id"]: u for u in fixture("incremental_tickets_cursor.json")["users"]}
        self.users: dict[int, dict[str, Any]] = {**users, ME: fixture("users_me.json")["user"]}
        self.user_updated: dict[int, datetime] = {i: T0 - timedelta(days=1) for i in self.users}
        self.groups = {g["id"]: g for g in fixture("groups.json")["groups"]}
        self.organizations = {o["id"]: o for o in fixture("organizations_show_many.json")["organizations"]}
        self.ratings = fixture("satisfaction_ratings.json")["satisfaction_ratings"]
        self.band_field = fixture("ticket_field_band.json")["ticket_field"]
        self.webhooks = fixture("webhooks.json")["webhooks"]
        self.tickets: dict[int, FakeTicket] = {}
        self.writes: list[tuple[str, int, dict[str, Any]]] = []
        self.idempotency: dict[str, tuple[str, int]] = {}
        # Before the next PUT to a ticket someone else changes it: "person:GROUP" re-routes, "customer" replies.
        self.interleave: dict[int, str] = {}
        # The account's quota headers on every answer (Zendesk's documented names).
        self.quota = {"ratelimit-limit": "700", "ratelimit-remaining": "650", "ratelimit-reset": "30"}
        self._next_id = 90000

    # -- the account ------------------------------------------------------------------------------------

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def tick(self) -> datetime:
        """The time of a change: now, and the clock moves on a second."""
        moment = self.now
        self.now += timedelta(seconds=1)
        return moment

    def add_group(self, name: str) -> int:
        group_id = max(self.groups) + 1
        self.groups[group_id] = {**self.groups[5002], "id": group_id, "name": name, "default": False}
        return group_id

    def group_id(self, name: str) -> int:
        return next(g for g, v in self.groups.items() if v["name"] == name)

    def add_user(self, email: str, *, role: str = "end-user", name: str = "") -> int:
        user_id = self.next_id()
        template = copy.deepcopy(self.users[9002])
        template.update(id=user_id, email=email, role=role, name=name or email.split("@")[0], organization_id=None)
        self.users[user_id] = template
        self.user_updated[user_id] = self.now - timedelta(minutes=5)
        return user_id

    def user_by_email(self, email: str) -> int | None:
        return next((i for i, u in self.users.items() if str(u.get("email")).lower() == email.lower()), None)

    def add_ticket(
        self, subject: str, body: str = "", *, requester: int = 9001, updated: datetime | None = None, **kw: Any
    ) -> FakeTicket:
        """A ticket a customer wrote (its first comment and audit by the requester)."""
        ticket_id = kw.pop("id", None) or self.next_id()
        moment = updated or self.tick()
        ticket = FakeTicket(
            id=ticket_id,
            subject=subject,
            description=body or subject,
            requester_id=requester,
            created_at=moment,
            updated_at=moment,
            **kw,
        )
        self.tickets[ticket_id] = ticket
        self._comment(ticket, requester, ticket.description, public=True, at=moment)
        self._audit(
            ticket, requester, [{"type": "Create", "field_name": "group_id", "value": str(ticket.group_id)}], moment
        )
        return ticket

    def _comment(self, ticket: FakeTicket, author: int, body: str, *, public: bool, at: datetime) -> dict[str, Any]:
        template = copy.deepcopy(fixture("ticket_comments.json")["comments"][0])
        comment = {
            **template,
            "id": self.next_id(),
            "author_id": author,
            "body": body,
            "plain_body": body,
            "html_body": f'<div class="zd-comment"><p>{body}</p></div>',
            "public": public,
            "created_at": iso(at),
        }
        ticket.comments.append(comment)
        return comment

    def _audit(self, ticket: FakeTicket, author: int, events: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
        audit = {
            "id": self.next_id(),
            "ticket_id": ticket.id,
            "created_at": iso(at),
            "author_id": author,
            "metadata": {"system": {}, "custom": {}},
            "via": {"channel": "api" if author == ME else "web", "source": {"from": {}, "to": {}, "rel": None}},
            "events": [{"id": self.next_id(), **e} for e in events],
        }
        ticket.audits.append(audit)
        return audit

    def person_reroutes(self, ticket_id: int, group: str, *, who: int = BOB) -> None:
        """An agent moves the ticket to another group in Zendesk's UI."""
        ticket = self.tickets[ticket_id]
        new = self.group_id(group)
        moment = self.tick()
        self._audit(
            ticket,
            who,
            [{"type": "Change", "field_name": "group_id", "value": str(new), "previous_value": str(ticket.group_id)}],
            moment,
        )
        ticket.group_id, ticket.updated_at = new, moment

    def customer_replies(self, ticket_id: int, text: str) -> None:
        """The requester answers by e-mail; a trigger reopens the ticket in the same update."""
        ticket = self.tickets[ticket_id]
        moment = self.tick()
        comment = self._comment(ticket, ticket.requester_id, text, public=True, at=moment)
        trigger = {"channel": "rule", "source": {"from": {"id": 30001, "title": "Reopen on reply"}, "rel": "trigger"}}
        self._audit(
            ticket,
            ticket.requester_id,
            [
                {
                    "type": "Comment",
                    "body": text,
                    "public": True,
                    "author_id": ticket.requester_id,
                    "audit_id": comment["audit_id"],
                },
                {
                    "type": "Change",
                    "field_name": "status",
                    "value": "open",
                    "previous_value": ticket.status,
                    "via": trigger,
                },
            ],
            moment,
        )
        ticket.status, ticket.updated_at = "open", moment

    def render(self, ticket: FakeTicket) -> dict[str, Any]:
        item = copy.deepcopy(self.ticket_template)
        custom = [{"id": 360001, "value": ticket.custom_fields.get(360001)}] + [
            {"id": k, "value": v} for k, v in ticket.custom_fields.items() if k != 360001
        ]
        item.update(
            url=f"{ROOT}/api/v2/tickets/{ticket.id}.json",
            id=ticket.id,
            external_id=ticket.external_id,
            created_at=iso(ticket.created_at),
            updated_at=iso(ticket.updated_at),
            generated_timestamp=int(ticket.updated_at.timestamp()),
            subject=ticket.subject,
            raw_subject=ticket.subject,
            description=ticket.description,
            priority=ticket.priority,
            status=ticket.status,
            requester_id=ticket.requester_id,
            submitter_id=ticket.requester_id,
            assignee_id=ticket.assignee_id,
            organization_id=ticket.organization_id,
            group_id=ticket.group_id,
            tags=list(ticket.tags),
            custom_fields=custom,
            fields=custom,
        )
        return item

    # -- serving ----------------------------------------------------------------------------------------

    def authorized(self, headers: dict[str, str]) -> Reply | None:
        expected = "Basic " + base64.b64encode(f"{AGENT_EMAIL}/token:{TOKEN}".encode()).decode()
        return None if headers.get("authorization") == expected else Reply(401, {"error": "Couldn't authenticate you"})

    def _page(self, items: list[dict[str, Any]], key: str, params: dict[str, str]) -> Reply:
        size = int(params.get("page[size]", "100"))
        start = _decode(params["page[after]"])[0] if params.get("page[after]") else 0
        chunk = items[start : start + size]
        more = start + size < len(items)
        after = _encode(start + size) if more else None
        return Reply(
            200,
            {
                key: chunk,
                "meta": {"has_more": more, "after_cursor": after, "before_cursor": None},
                "links": {"prev": None, "next": f"{ROOT}/x?page[after]={after}" if after else None},
            },
        )

    def _export(
        self, keyed: list[tuple[int, int, dict[str, Any]]], key: str, params: dict[str, str], path: str
    ) -> Reply:
        per_page = int(params.get("per_page", "1000"))
        if "cursor" in params:
            position = tuple(_decode(params["cursor"]))
        else:
            start = int(params.get("start_time", "0"))
            if start > self.now.timestamp() - 60:
                return Reply(
                    422,
                    {
                        "error": "InvalidValue",
                        "description": "Too recent start_time. Use a start_time older than 1 minute",
                    },
                )
            position = (start - 1, 2**62)
        # Changes of the last minute are held back until it has passed.
        visible = sorted((k for k in keyed if k[0] <= self.now.timestamp() - 60), key=lambda k: (k[0], k[1]))
        after = [k for k in visible if (k[0], k[1]) > position]
        chunk = after[:per_page]
        last = (chunk[-1][0], chunk[-1][1]) if chunk else position
        cursor = _encode(*last)
        return Reply(
            200,
            {
                key: [k[2] for k in chunk],
                "after_url": f"{ROOT}{path}?cursor={cursor}",
                "after_cursor": cursor,
                "before_url": None,
                "before_cursor": None,
                "end_of_stream": len(after) <= per_page,
            },
        )

    def route(self, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: Any) -> Reply:
        api = path.removeprefix("/api/v2/")
        if method == "GET":
            if api == "incremental/tickets/cursor.json":
                keyed = [(int(t.updated_at.timestamp()), t.id, self.render(t)) for t in self.tickets.values()]
                reply = self._export(keyed, "tickets", params, path)
                if "users" in params.get("include", "") and reply.status == 200:
                    ids = {i for t in reply.body["tickets"] for i in (t["requester_id"], t["assignee_id"]) if i}
                    reply.body["users"] = [self.users[i] for i in sorted(ids) if i in self.users]
                return reply
            if api == "incremental/users/cursor.json":
                keyed = [(int(self.user_updated[i].timestamp()), i, u) for i, u in self.users.items()]
                return self._export(keyed, "users", params, path)
            if api == "users/me.json":
                return Reply(200, {"user": self.users[ME]})
            if api == "users/show_many.json":
                ids = [int(i) for i in params.get("ids", "").split(",") if i]
                found = [self.users[i] for i in ids if i in self.users]
                return Reply(200, {"users": found, "next_page": None, "previous_page": None, "count": len(found)})
            if api == "organizations/show_many.json":
                ids = [int(i) for i in params.get("ids", "").split(",") if i]
                found = [self.organizations[i] for i in ids if i in self.organizations]
                return Reply(
                    200, {"organizations": found, "next_page": None, "previous_page": None, "count": len(found)}
                )
            if api == "users/search.json":
                found = [
                    u for u in self.users.values() if str(u.get("email")).lower() == params.get("query", "").lower()
                ]
                return Reply(200, {"users": found, "next_page": None, "previous_page": None, "count": len(found)})
            if api == "groups.json":
                return self._page(list(self.groups.values()), "groups", params)
            if api == "satisfaction_ratings.json":
                start = int(params.get("start_time", "0"))
                found = [
                    r
                    for r in self.ratings
                    if datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")).timestamp() >= start
                ]
                return self._page(found, "satisfaction_ratings", params)
            if api == "tickets.json":
                found = [self.render(t) for t in self.tickets.values() if t.external_id == params.get("external_id")]
                return Reply(200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)})
            if api == "webhooks":
                return self._page(self.webhooks, "webhooks", params)
            if m := re.fullmatch(r"ticket_fields/(\d+)\.json", api):
                if int(m.group(1)) != self.band_field["id"]:
                    return Reply(404, fixture("error_record_not_found.json"))
                return Reply(200, {"ticket_field": self.band_field})
            if m := re.fullmatch(r"users/(\d+)/tickets/requested\.json", api):
                mine = [self.render(t) for t in self.tickets.values() if t.requester_id == int(m.group(1))]
                return self._page(mine, "tickets", params)
            if m := re.fullmatch(r"tickets/(\d+)(\.json|/comments\.json|/audits\.json)", api):
                ticket = self.tickets.get(int(m.group(1)))
                if ticket is None:
                    return Reply(404, fixture("error_record_not_found.json"))
                if m.group(2) == ".json":
                    return Reply(200, {"ticket": self.render(ticket)})
                if m.group(2) == "/comments.json":
                    return self._page(ticket.comments, "comments", params)
                return self._page(ticket.audits, "audits", params)
        if method == "PUT" and (m := re.fullmatch(r"tickets/(\d+)\.json", api)):
            return self._update(int(m.group(1)), body["ticket"])
        if method == "POST" and api == "tickets.json":
            return self._create(body["ticket"], headers.get("idempotency-key"))
        return Reply(404, fixture("error_record_not_found.json"))

    def _update(self, ticket_id: int, changes: dict[str, Any]) -> Reply:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return Reply(404, fixture("error_record_not_found.json"))
        someone = self.interleave.pop(ticket_id, None)
        if someone is not None and someone.startswith("person:"):
            self.person_reroutes(ticket_id, someone.removeprefix("person:"))
        elif someone == "customer":
            self.customer_replies(ticket_id, "Any news? It is still broken.")
        if changes.get("safe_update") and changes.get("updated_stamp") != iso(ticket.updated_at):
            return Reply(409, fixture("error_update_conflict.json"))
        moment = self.tick()
        events: list[dict[str, Any]] = []
        for name in ("group_id", "priority", "assignee_id", "status"):
            if name in changes and getattr(ticket, name) != changes[name]:
                events.append(
                    {
                        "type": "Change",
                        "field_name": name,
                        "value": str(changes[name]),
                        "previous_value": str(getattr(ticket, name)),
                    }
                )
                setattr(ticket, name, changes[name])
        if "tags" in changes:
            ticket.tags = list(changes["tags"])
        for tag in changes.get("additional_tags", []):
            if tag not in ticket.tags:
                ticket.tags.append(tag)
        ticket.tags = [t for t in ticket.tags if t not in changes.get("remove_tags", [])]
        for custom in changes.get("custom_fields", []):
            ticket.custom_fields[custom["id"]] = custom["value"]
        if "comment" in changes:
            comment = self._comment(
                ticket, ME, changes["comment"]["body"], public=changes["comment"].get("public", True), at=moment
            )
            events.append({"type": "Comment", "body": comment["body"], "public": comment["public"], "author_id": ME})
        audit = self._audit(ticket, ME, events, moment)
        ticket.updated_at = moment
        self.writes.append(("PUT", ticket_id, changes))
        return Reply(200, {"ticket": self.render(ticket), "audit": audit})

    def _create(self, fields: dict[str, Any], key: str | None) -> Reply:
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        if key and key in self.idempotency:
            seen_digest, ticket_id = self.idempotency[key]
            if seen_digest != digest:
                return Reply(400, fixture("error_idempotent_request.json"))
            return Reply(201, {"ticket": self.render(self.tickets[ticket_id])}, {"x-idempotency-lookup": "hit"})
        requester = fields.get("requester_id")
        if requester is None:
            email = fields["requester"]["email"]
            requester = self.user_by_email(email) or self.add_user(email)
        ticket = self.add_ticket(
            fields["subject"],
            fields["comment"]["body"],
            requester=requester,
            tags=list(fields.get("tags", [])),
            external_id=fields.get("external_id"),
            priority=fields.get("priority"),
            group_id=fields.get("group_id", 5002),
        )
        if key:
            self.idempotency[key] = (digest, ticket.id)
        self.writes.append(("POST", ticket.id, fields))
        return Reply(201, {"ticket": self.render(ticket)}, {"x-idempotency-lookup": "miss"})
