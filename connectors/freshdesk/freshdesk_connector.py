"""The Freshdesk adapter: tickets by ``updated_since``, customer history, every action, shared-secret webhooks.

Pull. Tickets in ascending ``updated_at`` order, each with its conversations; then contacts changed since the
last pull, then satisfaction ratings. Each ticket page asks from the latest ``updated_at`` read so far (the
``Link`` header only says whether more follows): a ticket updated while the listing is read moves to its end
and cannot shift an unread ticket onto a page already read, and Freshdesk's 300-page cap is never reached;
pages are followed only while a whole page shares one second. Contacts and ratings come in no stated order,
so their cursor moves once their listing is read to its end (a pull stopped half way reads it again; records
are stored by id).

Whose change. Freshdesk's ticket API does not say who changed a ticket. A conversation written in the same
second as the ticket's update names its author (a customer's reply, an agent's note, deskroute's own note);
otherwise the ticket is compared with the state deskroute itself last wrote to it: the same ``updated_at``
is deskroute's own write, anything else is a person's (or an automation's) change, left unnamed, which the
engine records as a correction when the routing differs from its decision. Before writing a group, priority
or responder, deskroute checks that nobody changed that field since it pulled the ticket (the state it
decided on) or last wrote it, and leaves it to them when someone did. Both memories last as long as the
connector (one ``deskroute run``); a process started later knows only what the store's decisions say, which
the engine compares in the same way.

Writes. Fields are PUT on the ticket; tags replace the whole list in Freshdesk, so the ticket is read right
before the write and deskroute's tags are merged into everyone else's. A private note carries the action's
marker and is looked for before writing. Outreach is an outbound e-mail from the configured mailbox, a new
ticket carrying a tag unique to the action's key; the requester's tickets are searched for it before creating.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.actions import Action, ActionResult
from connectors.base import CheckItem, CheckReport, Connector, Cursor, CustomerHistory, PullBatch, Refused
from connectors.errors import ConnectorError, MalformedResponse, RequestRejected
from connectors.freshdesk import freshdesk_payloads as payloads
from connectors.freshdesk.freshdesk_api import PAGE_CAP, PER_PAGE, FreshdeskApi
from connectors.freshdesk.freshdesk_records import (
    Codes,
    agent_name,
    comment_from,
    customer_from,
    freshdesk_tag,
    parse_time,
    rating_from,
    ticket_from,
)
from connectors.freshdesk.updated_since_cursor import FreshdeskCursor, StreamPosition
from connectors.http import DEFAULT_MAX_RESPONSE_BYTES, BasicCredentials, HttpClient, RateBudget
from connectors.records import Comment, Customer, RecordError, SatisfactionRating, Ticket
from connectors.redaction import mask_url
from connectors.webhooks import DEFAULT_REPLAY_WINDOW

# Without ``updated_since`` Freshdesk lists only the last 30 days: a full pull asks from before any account.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
OUTREACH_TAG = "deskroute-outreach"
# A conversation this close to the ticket's update is taken as that update.
SAME_UPDATE = timedelta(seconds=2)
ROUTING_FIELDS: dict[str, str] = {"route": "group_id", "set_priority": "priority", "assign": "responder_id"}
FIELD_WORDS = {"group_id": "group", "priority": "priority", "responder_id": "agent"}
# Freshdesk's agent ticket scopes: only global access sees every ticket the pull must read.
GLOBAL_ACCESS = 1
OUTBOUND_CLOSED = 5  # Freshdesk's default status for an outbound e-mail: no SLA timer runs until a reply


@dataclass(frozen=True)
class FreshdeskSettings:
    """How to reach one Freshdesk account and how its words map to deskroute's."""

    base_url: str
    api_key: SecretStr
    timeout: float = 30.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    rate_limit_per_minute: int | None = None
    # The plan's ticket-list limit per minute (Growth 20, Pro 100, Enterprise 200): listings are paced by it.
    list_per_minute: int | None = 20
    page_size: int = PER_PAGE
    queue_map: Mapping[str, str] = field(default_factory=dict)
    priority_map: Mapping[str, str] = field(default_factory=dict)
    status_map: Mapping[str, str] = field(default_factory=dict)
    agent_user: str | None = None
    email_config_id: int | None = None
    outreach_group: str | None = None
    history_limit: int = 100
    page_cap: int = PAGE_CAP


@dataclass(frozen=True)
class OwnWrite:
    """What deskroute last wrote to a ticket: the ticket's ``updated_at`` after it, and its routing fields."""

    updated_at: str
    routing: Mapping[str, Any]


def routing_of(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: item.get(name) for name in ROUTING_FIELDS.values()}


class FreshdeskConnector(Connector):
    """Freshdesk through its REST API (v2)."""

    type = "freshdesk"
    supports_webhooks = False  # automation webhooks are unsigned: deskroute's shared-secret form only

    def __init__(
        self,
        name: str,
        settings: FreshdeskSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        webhook_secret: SecretStr | None = None,
        webhook_replay_seconds: float = DEFAULT_REPLAY_WINDOW,
    ):
        super().__init__(name, webhook_secret=webhook_secret, webhook_replay_seconds=webhook_replay_seconds)
        if not settings.api_key.get_secret_value().strip():
            raise ConnectorError("Freshdesk needs an API key", connector=name)
        self.settings = settings
        self.codes = Codes(
            queue_map=settings.queue_map, priority_map=settings.priority_map, status_map=settings.status_map
        )
        auth = BasicCredentials(settings.api_key.get_secret_value().strip(), "X")

        def client(per_minute: int | None) -> HttpClient:
            return HttpClient(
                settings.base_url,
                connector=name,
                auth=auth,
                timeout=settings.timeout,
                max_response_bytes=settings.max_response_bytes,
                budget=RateBudget(per_minute),
                sleep=sleep,
                transport=transport,
                credentials_hint="Check the API key in the environment variable the connector names (Profile "
                "settings > View API key in Freshdesk).",
            )

        self.api = FreshdeskApi(client(settings.rate_limit_per_minute), client(settings.list_per_minute))
        self._contacts: dict[int, dict[str, Any]] = {}
        self._companies: dict[int, str] = {}
        self._agents: dict[int, str] | None = None
        self._groups: dict[int, str] | None = None
        self._codes_known = False
        self._me: dict[str, Any] | None = None
        # What this connector last wrote to a ticket, and how it last pulled it: see "Whose change" above.
        self._written: dict[int, OwnWrite] = {}
        self._pulled: dict[int, OwnWrite] = {}

    def close(self) -> None:
        self.api.close()

    @property
    def agent_identity(self) -> str | None:
        if self.settings.agent_user:
            return self.settings.agent_user.strip().lower()
        try:
            email = (self.me().get("contact") or {}).get("email")
        except ConnectorError:
            return None
        return email.strip().lower() if isinstance(email, str) and email.strip() else None

    def me(self) -> dict[str, Any]:
        if self._me is None:
            self._me = self.api.me()
        return self._me

    # -- the account's names ----------------------------------------------------------------------------

    def _know_codes(self) -> None:
        if not self._codes_known:
            self.codes.learn(self.api.ticket_fields())
            self._codes_known = True

    def agents(self, *, refresh: bool = False) -> dict[int, str]:
        """Agent id -> e-mail address."""
        if self._agents is None or refresh:
            found: dict[int, str] = {}
            for agent in self.api.agents():
                email = (agent.get("contact") or {}).get("email") if isinstance(agent.get("contact"), Mapping) else None
                found[agent["id"]] = email.strip().lower() if isinstance(email, str) and email.strip() else ""
            self._agents = {k: v for k, v in found.items() if v}
        return self._agents

    def group_names(self, *, refresh: bool = False) -> dict[int, str]:
        if self._groups is None or refresh:
            self._groups = {g["id"]: str(g.get("name") or g["id"]) for g in self.api.groups()}
        return self._groups

    def _group_id(self, name: str) -> int | None:
        for refresh in (False, True):
            for group_id, group in self.group_names(refresh=refresh).items():
                if group == name:
                    return group_id
        return None

    def _agent_id(self, who: str) -> int | None:
        key = who.strip().lower()
        for refresh in (False, True):
            for agent_id, email in self.agents(refresh=refresh).items():
                if email == key or str(agent_id) == key:
                    return agent_id
        return None

    def _company(self, company_id: Any) -> None:
        if payloads.is_id(company_id) and company_id not in self._companies:
            company = self.api.company(company_id)
            self._companies[company_id] = str((company or {}).get("name") or company_id)

    # -- pulling ----------------------------------------------------------------------------------------

    def cursor_since(self, since: datetime) -> Cursor:
        return FreshdeskCursor.starting_at(since)

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        """Tickets (with conversations), then contacts, then satisfaction ratings changed since the cursor."""
        state = FreshdeskCursor.load(cursor)
        self._know_codes()
        yield from self._pull_tickets(state)
        yield from self._pull_unordered(state, "contacts")
        yield from self._pull_unordered(state, "ratings")

    def _pull_tickets(self, state: FreshdeskCursor) -> Iterator[PullBatch]:
        position = state.tickets
        since, page = position.since or BEGINNING, 1
        while True:
            listed = self.api.tickets_page(updated_since=since, page=page, per_page=self.settings.page_size)
            fresh: list[dict[str, Any]] = []
            refused: list[Refused] = []
            for item in listed.items:
                changed = parse_time(item.get("updated_at"))
                if changed is None:
                    refused.append(self._refuse("ticket", item, "updated_at", "is not an ISO 8601 time"))
                elif position.is_new(item["id"], changed):
                    fresh.append(item)
            tickets, comments, customers, more_refused = self._records(fresh)
            for item in fresh:
                changed = parse_time(item["updated_at"])
                assert changed is not None
                position.advance(item["id"], changed)
            if fresh or refused or more_refused:
                yield PullBatch(
                    cursor=state.dump(),
                    tickets=tickets,
                    comments=comments,
                    customers=customers,
                    refused=[*refused, *more_refused],
                )
            if not listed.has_next or not listed.items:
                return
            if position.since is not None and position.since > since:
                since, page = position.since, 1  # ask from the latest second read: never past the page cap
                continue
            page += 1  # a whole page within one second: only then page on
            if page > self.settings.page_cap:
                raise MalformedResponse(
                    f"GET /api/v2/tickets: more than {self.settings.page_cap} pages of tickets updated in the second "
                    f"{since.isoformat()}; Freshdesk refuses deeper pages, so the pull cannot go on past it",
                    connector=self.name,
                )

    def _pull_unordered(self, state: FreshdeskCursor, stream: str) -> Iterator[PullBatch]:
        before: StreamPosition = getattr(state, stream)
        after = before.copy()
        since = before.since or BEGINNING
        for page in range(1, self.settings.page_cap + 1):
            if stream == "contacts":
                listed = self.api.contacts_page(updated_since=since, page=page, per_page=self.settings.page_size)
            else:
                listed = self.api.ratings_page(created_since=since, page=page, per_page=self.settings.page_size)
            customers: list[Customer] = []
            ratings: list[SatisfactionRating] = []
            refused: list[Refused] = []
            for item in listed.items:
                stamp = "updated_at" if stream == "contacts" else "created_at"
                changed = parse_time(item.get(stamp))
                if changed is None:
                    refused.append(self._refuse(stream[:-1], item, stamp, "is not an ISO 8601 time"))
                    continue
                if not before.is_new(item["id"], changed):
                    continue
                if stream == "contacts":
                    found = self._customer(item, refused)
                    if found is not None:
                        customers.append(found)
                else:
                    rating = self._rating(item, refused)
                    if rating is not None:
                        ratings.append(rating)
                after.advance(item["id"], changed)
            done = not listed.has_next or not listed.items
            cut = not done and page == self.settings.page_cap
            setattr(state, stream, after if done else before)
            problems = [f"{stream}: more than {page} pages changed since the last pull; the rest is read next time"]
            if customers or ratings or refused or cut or (done and after.dump() != before.dump()):
                yield PullBatch(
                    cursor=state.dump(),
                    customers=customers,
                    ratings=ratings,
                    refused=refused,
                    problems=problems if cut else [],
                )
            if done or cut:
                return

    def _refuse(self, kind: str, item: Mapping[str, Any], where: str, what: str) -> Refused:
        label = {"ticket": "ticket", "contact": "contact", "rating": "satisfaction rating"}[kind]
        return Refused(kind, str(item["id"]), f"Freshdesk {label} {item['id']}: field '{where}' {what}", where, item)

    def _customer(self, contact: dict[str, Any], refused: list[Refused]) -> Customer | None:
        bad = payloads.problem(contact, payloads.CONTACT)
        if bad is not None:
            refused.append(self._refuse("contact", contact, *bad))
            return None
        self._contacts[contact["id"]] = contact
        self._company(contact.get("company_id"))
        try:
            return customer_from(contact, self.name, self._companies)
        except RecordError as exc:
            refused.append(Refused("customer", str(contact["id"]), str(exc), exc.field, contact))
            return None

    def _rating(self, item: dict[str, Any], refused: list[Refused]) -> SatisfactionRating | None:
        bad = payloads.problem(item, payloads.RATING)
        if bad is not None:
            refused.append(self._refuse("rating", item, *bad))
            return None
        try:
            return rating_from(item, source=self.name)
        except RecordError as exc:
            refused.append(Refused("rating", str(item["id"]), str(exc), exc.field, item))
            return None

    def _records(
        self, items: Sequence[dict[str, Any]]
    ) -> tuple[list[Ticket], list[Comment], list[Customer], list[Refused]]:
        refused: list[Refused] = []
        readable: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for item in items:
            bad = payloads.problem(item, payloads.TICKET)
            if bad is not None:
                refused.append(self._refuse("ticket", item, *bad))
                continue
            try:
                conversations = self.api.conversations(item["id"])
            except MalformedResponse as exc:
                refused.append(Refused("ticket", str(item["id"]), f"Freshdesk ticket {item['id']}: {exc}", None, item))
                continue
            wrong = next(
                (
                    (f"conversations[{n}].{p[0]}", p[1])
                    for n, c in enumerate(conversations)
                    if (p := payloads.problem(c, payloads.CONVERSATION)) is not None
                ),
                None,
            )
            if wrong is not None:
                refused.append(self._refuse("ticket", item, *wrong))
                continue
            readable.append((item, conversations))
        if not readable:
            return [], [], [], refused
        agents, groups = self.agents(), self.group_names()
        known = {
            i
            for item, conversations in readable
            for i in (item.get("responder_id"), *(c.get("user_id") for c in conversations if not c.get("incoming")))
        }
        if any(payloads.is_id(i) and i not in agents and i not in self._contacts for i in known):
            agents = self.agents(refresh=True)
        if any(payloads.is_id(item.get("group_id")) and item["group_id"] not in groups for item, _ in readable):
            groups = self.group_names(refresh=True)
        tickets: list[Ticket] = []
        comments: list[Comment] = []
        customers: dict[str, Customer] = {}
        for item, conversations in readable:
            requester = item.get("requester")
            if isinstance(requester, dict) and payloads.is_id(requester.get("id")):
                self._contacts.setdefault(requester["id"], requester)
            self._company(item.get("company_id"))
            try:
                ticket = ticket_from(
                    item,
                    source=self.name,
                    codes=self.codes,
                    contacts=self._contacts,
                    agents=agents,
                    groups=groups,
                    companies=self._companies,
                    updated_by=self._change_author(item, conversations, agents),
                )
                ticket_comments = [
                    comment_from(
                        c,
                        ticket_id=item["id"],
                        requester_id=item.get("requester_id"),
                        contacts=self._contacts,
                        agents=agents,
                        source=self.name,
                    )
                    for c in conversations
                ]
            except RecordError as exc:
                refused.append(Refused("ticket", str(item["id"]), str(exc), exc.field, item))
                continue
            tickets.append(ticket)
            comments.extend(ticket_comments)
            self._pulled[item["id"]] = OwnWrite(str(item["updated_at"]), routing_of(item))
            contact = self._contacts.get(item.get("requester_id") or 0)
            if contact is not None and "created_at" in contact:  # a whole contact, not the embedded summary
                found = self._customer(contact, refused)
                if found is not None:
                    customers[found.external_id] = found
        return tickets, comments, list(customers.values()), refused

    def _change_author(
        self, item: Mapping[str, Any], conversations: Sequence[Mapping[str, Any]], agents: Mapping[int, str]
    ) -> str | None:
        """Who made the ticket's latest change, as far as Freshdesk lets it be known (see the module's notes)."""
        updated = parse_time(item.get("updated_at"))
        written = self._written.get(item["id"])
        if written is not None and written.updated_at == item.get("updated_at"):
            return self.agent_identity
        latest = max(
            (c for c in conversations if parse_time(c.get("created_at")) is not None),
            key=lambda c: (parse_time(c.get("created_at")), c["id"]),
            default=None,
        )
        when = parse_time(latest.get("created_at")) if latest is not None else None
        if latest is not None and updated is not None and when is not None and updated - when <= SAME_UPDATE:
            if latest.get("incoming"):
                user = latest.get("user_id")
                contact = self._contacts.get(user) if isinstance(user, int) else None
                email = (contact or {}).get("email")
                return (
                    email.strip().lower() if isinstance(email, str) and email.strip() else f"freshdesk-contact:{user}"
                )
            return agent_name(latest.get("user_id"), agents)
        return None

    # -- customer history -------------------------------------------------------------------------------

    def _find_contact(self, customer: str) -> dict[str, Any] | None:
        key = customer.strip()
        if key.isascii() and key.isdigit() and 0 < len(key) <= 18:
            contact = self.api.contact(int(key))
        elif "@" in key:
            matches = [c for c in self.api.contacts_by_email(key) if str(c.get("email") or "").lower() == key.lower()]
            contact = matches[0] if matches else None
        else:
            return None
        if contact is not None:
            self._contacts[contact["id"]] = contact
        return contact

    def customer_history(self, customer: str) -> CustomerHistory:
        """The contact's tickets (up to ``history_limit``, newest change first) with their conversations, and
        their company; ratings come with the pull, not here (one listing call per ticket is too dear)."""
        contact = self._find_contact(customer)
        if contact is None:
            return CustomerHistory(customer=None)
        self._know_codes()
        pages = max(1, -(-self.settings.history_limit // PER_PAGE))
        items = self.api.tickets_of(requester_id=contact["id"], pages=pages)[: self.settings.history_limit]
        tickets, comments, _, _ = self._records(items)
        refused: list[Refused] = []
        return CustomerHistory(customer=self._customer(contact, refused), tickets=tickets, comments=comments)

    # -- writing ----------------------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        """Do the action in Freshdesk once (see the module's notes)."""
        try:
            if action.kind == "create_outreach":
                return self._create_outreach(action)
            item = self.api.ticket(action.target)
            if item is None:
                return ActionResult(
                    status="failed",
                    detail=f"Freshdesk ticket {action.target} does not exist or the agent cannot see it",
                )
            if action.kind == "add_note":
                return self._add_note(action, item["id"])
            if action.kind == "add_tags":
                return self._add_tags(action, item)
            return self._set_field(action, item)
        except RequestRejected as exc:
            # Freshdesk refused this action (400 invalid value, unknown agent): retrying it unchanged cannot succeed.
            return ActionResult(status="failed", detail=str(exc))

    def _wanted(self, action: Action) -> tuple[str, Any, str]:
        """The field an action sets, the value, and how to say it."""
        if action.kind == "route":
            group = self.codes.group_name(str(action.params["queue"]))
            group_id = self._group_id(group)
            if group_id is None:
                raise RequestRejected(
                    f"no Freshdesk group named {group!r}; create it, or map the queue to a group in queue_map",
                    connector=self.name,
                )
            return "group_id", group_id, f"group {group}"
        if action.kind == "set_priority":
            self._know_codes()
            try:
                code = self.codes.priority_code(str(action.params["priority"]))
            except ValueError as exc:
                raise RequestRejected(str(exc), connector=self.name) from None
            return "priority", code, f"priority {self.codes.priority_names.get(code, code)}"
        who = str(action.params["assignee"])
        agent_id = self._agent_id(who)
        if agent_id is None:
            raise RequestRejected(
                f"no Freshdesk agent {who!r}; assign to an agent's e-mail address or id", connector=self.name
            )
        return "responder_id", agent_id, f"agent {who}"

    def _set_field(self, action: Action, item: dict[str, Any]) -> ActionResult:
        name, value, what = self._wanted(action)
        if item.get(name) == value:
            return ActionResult(status="already_applied", detail=what)
        # The state deskroute decided on (as pulled) or last wrote: a field changed since is a person's to keep.
        remembered = [m for m in (self._written.get(item["id"]), self._pulled.get(item["id"])) if m is not None]
        known = max(remembered, key=lambda m: parse_time(m.updated_at) or BEGINNING, default=None)
        if known is not None and known.routing.get(name) != item.get(name):
            return ActionResult(
                status="skipped",
                detail=f"someone changed the ticket's {FIELD_WORDS[name]} since deskroute last read or wrote it; "
                "deskroute leaves that to them (the correction is recorded when the ticket is pulled)",
            )
        self._remember(self.api.update(item["id"], {name: value}))
        return ActionResult(status="applied", detail=f"set {what}")

    def _remember(self, item: Mapping[str, Any]) -> None:
        if payloads.is_id(item.get("id")) and isinstance(item.get("updated_at"), str):
            self._written[item["id"]] = OwnWrite(str(item["updated_at"]), routing_of(item))

    def _add_tags(self, action: Action, item: dict[str, Any]) -> ActionResult:
        wanted = list(dict.fromkeys(t for t in (freshdesk_tag(str(x)) for x in action.params["tags"]) if t))
        # Freshdesk replaces the whole list: read it right before writing, so other people's tags stay.
        current = self.api.ticket(str(item["id"])) or item
        have = [str(t) for t in current.get("tags") or []]
        lower = {t.lower() for t in have}
        missing = [t for t in wanted if t.lower() not in lower]
        if not missing:
            return ActionResult(status="already_applied", detail=f"tags {', '.join(wanted)}")
        self._remember(self.api.update(item["id"], {"tags": [*have, *missing]}))
        return ActionResult(status="applied", detail=f"added tags {', '.join(missing)}")

    def _add_note(self, action: Action, ticket_id: int) -> ActionResult:
        marker = action.marker()
        for conversation in self.api.conversations(ticket_id):
            text = f"{conversation.get('body') or ''}\n{conversation.get('body_text') or ''}"
            if marker in text:
                return ActionResult(
                    status="already_applied", detail="the note is on the ticket", external_ref=str(conversation["id"])
                )
        paragraphs = [p for p in str(action.params["body"]).strip().split("\n\n") if p.strip()]
        body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        note = self.api.add_note(ticket_id, f"{body}<p>{html.escape(marker)}</p>")
        return ActionResult(status="applied", detail="private note", external_ref=str(note["id"]))

    def _create_outreach(self, action: Action) -> ActionResult:
        channel = str(action.params.get("channel", "email")).lower()
        if channel != "email":
            return ActionResult(status="failed", detail=f"Freshdesk outreach goes by e-mail here, not {channel!r}")
        if self.settings.email_config_id is None:
            return ActionResult(
                status="failed",
                detail="outreach needs the mailbox to send from: set options.email_config_id (see connectors check)",
            )
        contact = self._find_contact(action.target)
        email = action.target.strip() if "@" in action.target else str((contact or {}).get("email") or "")
        if not email:
            return ActionResult(
                status="failed",
                detail=f"outreach needs a customer's e-mail address or Freshdesk contact id, not {action.target!r}",
            )
        key_tag = outreach_tag(action.idempotency_key)
        # Looked for before creating: a create whose answer was lost has left its tagged ticket behind.
        if contact is not None:
            pages = max(1, -(-self.settings.history_limit // PER_PAGE))
            for ticket in self.api.tickets_of(requester_id=contact["id"], pages=pages):
                if key_tag in (ticket.get("tags") or []):
                    return ActionResult(
                        status="already_applied",
                        detail=f"outreach ticket {ticket['id']} exists",
                        external_ref=str(ticket["id"]),
                    )
        paragraphs = [p for p in str(action.params["body"]).strip().split("\n\n") if p.strip()]
        fields: dict[str, Any] = {
            "email": email,
            "subject": str(action.params["subject"]),
            "description": "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs),
            "email_config_id": self.settings.email_config_id,
            "status": OUTBOUND_CLOSED,
            "tags": [OUTREACH_TAG, key_tag],
        }
        priority = action.params.get("priority")
        if priority:
            self._know_codes()
            try:
                fields["priority"] = self.codes.priority_code(str(priority))
            except ValueError as exc:
                return ActionResult(status="failed", detail=str(exc))
        group = action.params.get("queue") or self.settings.outreach_group
        if group:
            group_id = self._group_id(self.codes.group_name(str(group)))
            if group_id is None:
                return ActionResult(status="failed", detail=f"no Freshdesk group named {group!r} for outreach")
            fields["group_id"] = group_id
        created = self.api.outbound_email(fields)
        return ActionResult(
            status="applied", detail=f"created Freshdesk ticket {created['id']}", external_ref=str(created["id"])
        )

    # -- checking ---------------------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """The API key and its agent's access, the ticket fields, the mapped groups, the outreach mailbox."""
        items: list[CheckItem] = []
        try:
            me = self.me()
        except ConnectorError as exc:
            return CheckReport(self.name, [CheckItem("credentials", False, str(exc))])
        contact = me.get("contact") if isinstance(me.get("contact"), Mapping) else {}
        email = str((contact or {}).get("email") or "").lower()
        items.append(CheckItem("credentials", True, f"{email or me['id']} at {mask_url(self.settings.base_url)}"))
        scope = me.get("ticket_scope")
        items.append(
            CheckItem(
                "ticket access",
                scope == GLOBAL_ACCESS,
                "global"
                if scope == GLOBAL_ACCESS
                else f"scope {scope}: the pull needs an agent with global ticket "
                "access (Admin > Agents > the agent > Ticket scope: Global), or tickets outside its groups are missed",
            )
        )
        if self.settings.agent_user and self.settings.agent_user.strip().lower() != email:
            items.append(
                CheckItem(
                    "agent user",
                    False,
                    f"agent_user is {self.settings.agent_user} but the API key belongs to {email}: deskroute would "
                    "not recognise its own notes",
                )
            )
        try:
            self._codes_known = False
            self._know_codes()
            statuses = ", ".join(
                f"{code} {name}->{self.codes.canonical_status(code)}"
                for code, name in sorted(self.codes.status_names.items())
            )
            items.append(CheckItem("statuses", True, statuses))
            names = set(self.group_names(refresh=True).values())
            wanted = {self.codes.group_name(q) for q in self.settings.queue_map}
            if self.settings.outreach_group:
                wanted.add(self.codes.group_name(self.settings.outreach_group))
            unknown = sorted(wanted - names)
            items.append(
                CheckItem(
                    "groups",
                    not unknown,
                    f"{len(names)} visible"
                    + (f"; not found: {', '.join(unknown)} (create them or fix queue_map)" if unknown else ""),
                )
            )
            items.append(self._check_mailbox())
        except ConnectorError as exc:
            items.append(CheckItem("permissions", False, str(exc)))
        return CheckReport(self.name, items)

    def _check_mailbox(self) -> CheckItem:
        wanted = self.settings.email_config_id
        if wanted is None:
            return CheckItem("mailbox", True, "not configured (options.email_config_id): outreach is not sent")
        found = next((c for c in self.api.email_configs() if c["id"] == wanted), None)
        if found is None:
            return CheckItem("mailbox", False, f"no e-mail config {wanted}; Admin > Channels > Email lists them")
        if found.get("active") is False:
            return CheckItem("mailbox", False, f"{found.get('reply_email')} ({wanted}) is not active")
        return CheckItem("mailbox", True, f"{found.get('reply_email')} ({wanted})")


def outreach_tag(idempotency_key: str) -> str:
    """The tag unique to one outreach action: how a retry finds the ticket a lost answer created."""
    return f"deskroute-{idempotency_key[:32]}"
