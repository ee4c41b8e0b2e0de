"""The Request Tracker 5 adapter: incremental pull by ``LastUpdated``, customer history, and every action.

Pull. Tickets changed since the cursor (``LastUpdated >= since``, see :mod:`connectors.rt.cursor` for the
one-second resolution and :mod:`connectors.rt.clock` for time zones), one batch per search page. Each page is
searched afresh from the advanced cursor, not by page number, so a ticket updated during the pull cannot shift
a page and be skipped. Every ticket comes with its messages, its requestors as customers, and who changed it.

Writes. ``route`` sets the queue, ``set_priority`` the number for the queue's priority name, ``add_tags``
adds values to the multi-value custom field ``tags_field``, ``assign`` sets the owner, ``add_note`` writes an
internal comment and ``create_outreach`` a new ticket to the requestor. Field writes read the ticket first and
report ``already_applied`` when it already holds the value; comments and outreach carry the action's marker
and are looked up by it before writing, so applying an action twice changes RT once.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.actions import Action, ActionResult
from connectors.base import CheckItem, CheckReport, Connector, Cursor, CustomerHistory, PullBatch, Refused
from connectors.errors import ConnectorError, MalformedResponse, RequestRejected
from connectors.http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    BasicCredentials,
    HttpClient,
    RateBudget,
    TokenCredentials,
)
from connectors.records import Comment, Customer, RecordError, Ticket
from connectors.redaction import mask_url
from connectors.rt.api import MAX_PER_PAGE, RTApi, quote
from connectors.rt.clock import TicketSqlClock
from connectors.rt.convert import customer_from, message_texts, name_of, queue_id_of, ticket_from
from connectors.rt.cursor import PullCursor, http_date, parse_time
from connectors.rt.vocabulary import (
    DEFAULT_PRIORITY_NAMES,
    PriorityScale,
    Vocabulary,
    VocabularyError,
)
from connectors.webhooks import DEFAULT_REPLAY_WINDOW


@dataclass(frozen=True)
class RTSettings:
    """How to reach one RT instance and how its vocabulary maps to deskroute's."""

    base_url: str
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    timeout: float = 30.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    rate_limit_per_minute: int | None = None
    page_size: int = MAX_PER_PAGE
    ticket_filter: str | None = None
    queue_map: Mapping[str, str] = field(default_factory=dict)
    priority_map: Mapping[str, str] = field(default_factory=dict)
    status_map: Mapping[str, str] = field(default_factory=dict)
    tags_field: str = "deskroute tags"
    agent_user: str | None = None
    outreach_queue: str = "General"
    timezone: str | None = None
    history_limit: int = 200

    @property
    def web_url(self) -> str:
        """RT's web root (the base URL without a trailing ``/REST/2.0``)."""
        base = self.base_url.rstrip("/")
        return base[: -len("/REST/2.0")] if base.endswith("/REST/2.0") else base

    @property
    def rest_url(self) -> str:
        return f"{self.web_url}/REST/2.0"


class RTConnector(Connector):
    """Request Tracker 5 through REST 2."""

    type = "rt"

    def __init__(
        self,
        name: str,
        settings: RTSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        webhook_secret: SecretStr | None = None,
        webhook_replay_seconds: float = DEFAULT_REPLAY_WINDOW,
    ):
        super().__init__(name, webhook_secret=webhook_secret, webhook_replay_seconds=webhook_replay_seconds)
        self.settings = settings
        self.vocabulary = Vocabulary(settings.queue_map, settings.priority_map, settings.status_map)
        if settings.token is not None:
            auth: httpx.Auth = TokenCredentials(settings.token, scheme="token")
        elif settings.username and settings.password is not None:
            auth = BasicCredentials(settings.username, settings.password)
        else:
            raise ConnectorError(
                "RT needs a token (token_env) or a username and password (username_env, password_env)",
                connector=name,
            )
        hint = "Check the RT user name and password (or token) in the environment variables the connector names."
        http = HttpClient(
            settings.web_url,
            connector=name,
            auth=auth,
            timeout=settings.timeout,
            max_response_bytes=settings.max_response_bytes,
            budget=RateBudget(settings.rate_limit_per_minute),
            sleep=sleep,
            transport=transport,
            credentials_hint=hint,
        )
        login = None
        if settings.token is None and settings.username and settings.password is not None:
            login = (settings.username, settings.password)
        self.api = RTApi(http, login=login)
        self._scales: dict[str, PriorityScale] = {}
        self.clock = TicketSqlClock(self.api, settings.timezone)

    def close(self) -> None:
        self.api.close()

    @property
    def agent_identity(self) -> str | None:
        return self.settings.agent_user or self.settings.username

    # -- vocabulary -------------------------------------------------------------------------------------

    def priority_scale(self, queue_id: str | None) -> PriorityScale:
        """The queue's priority names: from the instance where readable, else RT's documented default."""
        key = queue_id or ""
        if key not in self._scales:
            names: tuple[tuple[str, int], ...] = ()
            if queue_id:
                try:
                    names = self.api.priority_names(queue_id)
                except ConnectorError:
                    names = ()  # the web form is a nicety; REST is what must work
            self._scales[key] = (
                PriorityScale.from_pairs(names, "instance")
                if names
                else PriorityScale.from_pairs(DEFAULT_PRIORITY_NAMES, "default")
            )
        return self._scales[key]

    # -- pulling ----------------------------------------------------------------------------------------

    def _query(self, since: datetime | None) -> str:
        parts = [f"({self.settings.ticket_filter})"] if self.settings.ticket_filter else []
        if since is not None:
            parts.append(f"LastUpdated >= '{self.clock.search_from(since)}'")
        return " AND ".join(parts) or "id > 0"

    def cursor_since(self, since: datetime) -> Cursor:
        return PullCursor.starting_at(since)

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        """Tickets (with comments and requestors) updated since the cursor, one batch per search page."""
        state = PullCursor.load(cursor)
        per_page = max(1, min(self.settings.page_size, MAX_PER_PAGE))
        page = 1
        previous: list[str] = []
        while True:
            data = self.api.search_tickets(self._query(state.since), page=page, per_page=per_page)
            items = data["items"]
            ids = [str(item["id"]) for item in items]
            fresh: list[tuple[dict[str, Any], datetime]] = []
            unreadable: list[Refused] = []
            for item in items:
                updated = parse_time(item.get("LastUpdated"))
                if updated is None:
                    unreadable.append(
                        Refused(
                            "ticket",
                            str(item.get("id")),
                            f"RT ticket {item.get('id')}: field 'LastUpdated': missing or unreadable",
                            "LastUpdated",
                            item,
                        )
                    )
                    continue
                if state.is_new(str(item.get("id")), updated):
                    fresh.append((item, updated))
            fresh.sort(
                key=lambda pair: (
                    pair[1],
                    int(str(pair[0].get("id", "0"))) if str(pair[0].get("id", "")).isdigit() else 0,
                )
            )
            if fresh or unreadable:
                tickets, comments, customers, refused = self._records([item for item, _ in fresh])
                for item, updated in fresh:
                    state.advance(str(item["id"]), updated)
                state.observe_clock(http_date(data.get("_server_time")))
                total = data.get("total")
                remaining = (
                    max(0, int(total) - page * per_page)
                    if isinstance(total, int | str) and str(total).isdigit()
                    else None
                )
                yield PullBatch(
                    cursor=state.dump(),
                    tickets=tickets,
                    comments=comments,
                    customers=customers,
                    refused=[*unreadable, *refused],
                    remaining=remaining,
                )
            if len(items) < per_page:
                return
            if not fresh and page > 1 and ids == previous:
                # Paging on would ask for page after page of the same tickets, for ever.
                raise MalformedResponse(
                    f"GET /tickets: page {page} holds the same tickets as page {page - 1}: RT, or a proxy in "
                    "front of it, ignores the page parameter",
                    connector=self.name,
                )
            previous = ids
            # New tickets moved the cursor: search again from it. A full page of already-seen tickets (many
            # updated in one second) means the next page of the same search.
            page = 1 if fresh else page + 1

    def _records(
        self, items: Sequence[dict[str, Any]]
    ) -> tuple[list[Ticket], list[Comment], list[Customer], list[Refused]]:
        """Canonical records for listing items; an item that does not validate is refused whole (its ticket
        with its messages), naming the ticket and field, for the caller to keep in quarantine."""
        tickets: list[Ticket] = []
        comments: list[Comment] = []
        customers: dict[str, Customer] = {}
        refused: list[Refused] = []
        for item in items:
            ticket_id = str(item.get("id"))
            try:
                ticket, ticket_comments = self._ticket(item)
            except RecordError as exc:
                refused.append(Refused("ticket", ticket_id, str(exc), exc.field, item))
                continue
            except MalformedResponse as exc:
                refused.append(Refused("ticket", ticket_id, f"RT ticket {ticket_id}: {exc}", None, item))
                continue
            tickets.append(ticket)
            comments.extend(ticket_comments)
            for person in item.get("Requestor") or []:
                try:
                    customer = customer_from(person, self.name)
                except RecordError as exc:
                    key = (person.get("EmailAddress") or name_of(person)) if isinstance(person, Mapping) else None
                    refused.append(Refused("customer", str(key), str(exc), exc.field, person))
                    continue
                if customer is not None:
                    customers[customer.external_id] = customer
        return tickets, comments, list(customers.values()), refused

    def _ticket(self, item: Mapping[str, Any]) -> tuple[Ticket, list[Comment]]:
        """A listing item with its messages (two more requests) as a canonical ticket and comments."""
        ticket_id = str(item.get("id"))
        return ticket_from(
            item,
            texts=message_texts(self.api.texts(ticket_id)),
            messages=self.api.messages(ticket_id),
            source=self.name,
            vocabulary=self.vocabulary,
            scale=self.priority_scale(queue_id_of(item)),
            tags_field=self.settings.tags_field,
        )

    def customer_history(self, customer: str) -> CustomerHistory:
        """The customer's tickets (newest first, up to ``history_limit``) with their comments; RT has no CSAT."""
        query = f"Requestor.EmailAddress = {quote(customer)}"
        items: list[dict[str, Any]] = []
        page = 1
        while len(items) < self.settings.history_limit:
            data = self.api.search_tickets(query, page=page, orderby=("Created", "id"), order=("DESC", "DESC"))
            items.extend(data["items"])
            if len(data["items"]) < MAX_PER_PAGE:
                break
            page += 1
        tickets, comments, customers, _ = self._records(items[: self.settings.history_limit])
        person = next((c for c in customers if (c.email or c.external_id).lower() == customer.lower()), None)
        if person is None:
            found = self.api.user(customer)
            try:
                person = customer_from(found, self.name) if found else None
            except RecordError:
                person = None  # history without the person's record, as for an unknown user
        return CustomerHistory(customer=person, tickets=tickets, comments=comments)

    # -- writing ----------------------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        """Do the action in RT once (see the module's notes on idempotency)."""
        if action.kind == "create_outreach":
            return self._create_outreach(action)
        item = self.api.ticket(action.target)
        if item is None:
            return ActionResult(
                status="failed",
                detail=f"RT ticket {action.target} does not exist or the RT user cannot see it",
            )
        try:
            if action.kind == "route":
                return self._route(action, item)
            if action.kind == "set_priority":
                return self._set_priority(action, item)
            if action.kind == "add_tags":
                return self._add_tags(action, item)
            if action.kind == "assign":
                return self._assign(action, item)
            return self._add_note(action)
        except (VocabularyError, RequestRejected) as exc:
            # RT refused this action (bad value, unknown field): retrying it unchanged cannot succeed.
            return ActionResult(status="failed", detail=str(exc))

    def _verify(self, ticket_id: str, messages: list[str], holds: Any, what: str) -> ActionResult:
        # RT answers 200 with a message list even when it refused a change: read the ticket back to know.
        after = self.api.ticket(ticket_id)
        if after is None:
            # Moved out of the RT user's sight (a queue it cannot see): RT's own messages are all we have.
            changed = any("changed" in m.lower() or "added" in m.lower() for m in messages)
            detail = "; ".join(messages) + " (the ticket can no longer be read back)"
            return ActionResult(status="applied" if changed else "failed", detail=detail)
        if holds(after):
            return ActionResult(status="applied", detail="; ".join(messages) or what)
        return ActionResult(status="failed", detail=f"RT did not take the change ({'; '.join(messages) or what})")

    def _route(self, action: Action, item: Mapping[str, Any]) -> ActionResult:
        queue = self.vocabulary.rt_queue(str(action.params["queue"]))
        if name_of(item.get("Queue")) == queue:
            return ActionResult(status="already_applied", detail=f"ticket is in queue {queue}")
        messages = self.api.update(action.target, {"Queue": queue})
        return self._verify(action.target, messages, lambda t: name_of(t.get("Queue")) == queue, f"queue {queue}")

    def _set_priority(self, action: Action, item: Mapping[str, Any]) -> ActionResult:
        scale = self.priority_scale(queue_id_of(item))
        number = self.vocabulary.rt_priority(action.params["priority"], scale)
        label = scale.name_for(number) or str(number)
        if str(item.get("Priority")) == str(number):
            return ActionResult(status="already_applied", detail=f"priority is {label} ({number})")
        messages = self.api.update(action.target, {"Priority": number})
        return self._verify(
            action.target, messages, lambda t: str(t.get("Priority")) == str(number), f"priority {label} ({number})"
        )

    def _tag_values(self, item: Mapping[str, Any]) -> list[str] | None:
        for cf in item.get("CustomFields") or []:
            if isinstance(cf, Mapping) and cf.get("name") == self.settings.tags_field:
                return [str(v) for v in cf.get("values") or []]
        return None

    def _add_tags(self, action: Action, item: Mapping[str, Any]) -> ActionResult:
        current = self._tag_values(item)
        field_name = self.settings.tags_field
        if current is None:
            return ActionResult(
                status="failed",
                detail=f"the custom field '{field_name}' is not applied to this ticket's queue; "
                "run scripts/rt-setup.sh or create it as a multi-value field for all queues",
            )
        wanted = [str(t) for t in action.params["tags"]]
        missing = [t for t in dict.fromkeys(wanted) if t not in current]
        if not missing:
            return ActionResult(status="already_applied", detail=f"tags {', '.join(wanted)} are present")
        messages = self.api.update(action.target, {"CustomFields": {field_name: [*current, *missing]}})
        return self._verify(
            action.target,
            messages,
            lambda t: set(wanted) <= set(self._tag_values(t) or []),
            f"tags {', '.join(missing)}",
        )

    def _assign(self, action: Action, item: Mapping[str, Any]) -> ActionResult:
        owner = str(action.params["assignee"])

        def is_owner(t: Mapping[str, Any]) -> bool:
            ref = t.get("Owner")
            names = {name_of(ref)} | ({ref.get("EmailAddress")} if isinstance(ref, Mapping) else set())
            return owner.lower() in {str(n).lower() for n in names if n}

        if is_owner(item):
            return ActionResult(status="already_applied", detail=f"owner is {owner}")
        messages = self.api.update(action.target, {"Owner": owner})
        return self._verify(action.target, messages, is_owner, f"owner {owner}")

    def _marked_transaction(self, ticket_id: str, marker: str) -> str | None:
        for attachment in self.api.texts(ticket_id):
            content = attachment.get("Content")
            if isinstance(content, str) and marker in content:
                return str(attachment.get("TransactionId"))
        return None

    def _add_note(self, action: Action) -> ActionResult:
        marker = action.marker()
        found = self._marked_transaction(action.target, marker)
        if found is not None:
            return ActionResult(status="already_applied", detail="the note is on the ticket", external_ref=found)
        body = str(action.params["body"]).rstrip()
        messages = self.api.comment(action.target, f"{body}\n\n{marker}", subject=action.params.get("subject") or None)
        if not any("comment" in m.lower() for m in messages):
            return ActionResult(status="failed", detail="; ".join(messages) or "RT added no comment")
        return ActionResult(
            status="applied",
            detail="; ".join(messages),
            external_ref=self._marked_transaction(action.target, marker),
        )

    def _create_outreach(self, action: Action) -> ActionResult:
        channel = str(action.params.get("channel", "email")).lower()
        if channel != "email":
            return ActionResult(status="failed", detail=f"RT reaches customers by e-mail only, not {channel!r}")
        email = action.target
        marker = action.marker()
        # Only tickets this RT user created for the customer can hold the marker: a short list to scan.
        mine = self.api.search_tickets(
            f"Requestor.EmailAddress = {quote(email)} AND Creator = '__CurrentUser__'",
            per_page=MAX_PER_PAGE,
            orderby=("id",),
            order=("DESC",),
            fields="Subject",
            expand=False,
        )
        for item in mine["items"]:
            if self._marked_transaction(str(item["id"]), marker) is not None:
                return ActionResult(
                    status="already_applied",
                    detail=f"outreach ticket {item['id']} exists",
                    external_ref=str(item["id"]),
                )
        queue = self.vocabulary.rt_queue(str(action.params.get("queue") or self.settings.outreach_queue))
        paragraphs = "".join(
            f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>" for part in str(action.params["body"]).split("\n\n")
        )
        # The marker rides in an HTML comment: RT keeps it, the customer does not see it.
        content = f"{paragraphs}\n<!-- {marker} -->"
        payload: dict[str, Any] = {
            "Queue": queue,
            "Subject": str(action.params["subject"]),
            "Requestor": email,
            "Content": content,
            "ContentType": "text/html",
        }
        priority = action.params.get("priority")
        if priority:
            found = self.api.queue(queue)
            try:
                scale = self.priority_scale(str(found["id"]) if found else None)
                payload["Priority"] = self.vocabulary.rt_priority(priority, scale)
            except VocabularyError as exc:
                return ActionResult(status="failed", detail=str(exc))
        try:
            ticket_id = self.api.create_ticket(payload)
        except RequestRejected as exc:
            return ActionResult(status="failed", detail=str(exc))
        return ActionResult(
            status="applied", detail=f"created RT ticket {ticket_id} in {queue}", external_ref=ticket_id
        )

    # -- checking ---------------------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Reachability and credentials, the agent user, queues, the tags field, priorities and time zone."""
        items: list[CheckItem] = []
        try:
            version = self.api.version()
        except ConnectorError as exc:
            return CheckReport(self.name, [CheckItem("reachable and credentials", False, str(exc))])
        items.append(
            CheckItem("reachable and credentials", True, f"RT {version} at {mask_url(self.settings.rest_url)}")
        )
        try:
            agent = self.agent_identity
            if agent:
                user = self.api.user(agent)
                items.append(
                    CheckItem("agent user", user is not None, f"{agent}" + ("" if user else ": no such RT user"))
                )
            else:
                items.append(
                    CheckItem(
                        "agent user",
                        True,
                        "unknown with token auth: set agent_user so deskroute recognises its own changes",
                    )
                )
            queues = {str(q.get("Name")) for q in self.api.queues() if str(q.get("Disabled", "0")) == "0"}
            wanted = {self.vocabulary.rt_queue(q) for q in self.settings.queue_map} | {self.settings.outreach_queue}
            unknown = sorted(q for q in wanted if q not in queues)
            items.append(
                CheckItem(
                    "queues",
                    not unknown,
                    f"{len(queues)} visible" + (f"; not found: {', '.join(unknown)}" if unknown else ""),
                )
            )
            tags = self.api.custom_field(self.settings.tags_field)
            items.append(
                CheckItem(
                    "tags field",
                    tags is not None,
                    f"'{self.settings.tags_field}'"
                    + (" exists" if tags else " is missing: run scripts/rt-setup.sh or create it for all queues"),
                )
            )
            general = self.api.queue(self.settings.outreach_queue)
            scale = self.priority_scale(str(general["id"]) if general else None)
            try:
                mapped = {p: self.vocabulary.rt_priority(p, scale) for p in ("low", "normal", "high", "urgent")}
                items.append(
                    CheckItem(
                        "priorities",
                        True,
                        scale.describe() + "; " + ", ".join(f"{k}->{v}" for k, v in mapped.items()),
                    )
                )
            except VocabularyError as exc:
                items.append(CheckItem("priorities", False, str(exc)))
            items.append(CheckItem("time zone", True, self.clock.describe()))
        except ConnectorError as exc:
            items.append(CheckItem("permissions", False, str(exc)))
        return CheckReport(self.name, items)
