"""The Request Tracker 5 adapter: incremental pull by ``LastUpdated``, customer history, and every action.

Pull. RT's ``LastUpdated`` has one-second resolution, so the search asks for ``LastUpdated >= cursor`` and
drops the (ticket, second) pairs the cursor has already seen; tickets updated in the same second as the
cursor are therefore never lost, and none is pulled twice. The seen tickets are kept in the stored cursor only
once RT's clock is two seconds past that second; before that, a ticket can change again within the same
second, so the next pull reads that second once more. Each page is searched afresh from the advanced cursor
(not by page number), so a ticket updated during the pull cannot shift a page and be skipped.

TicketSQL reads dates in the RT user's time zone while REST 2 answers in UTC. Set ``timezone`` where the RT
user's zone is known; otherwise the adapter measures the offset on the instance itself (a handful of
searches on one ticket's ``Created``) and widens the search by an hour when the cursor is old enough to lie
on the other side of a daylight-saving change. Results are always filtered exactly in UTC.

Writes. ``route`` sets the queue, ``set_priority`` the number for the queue's priority name, ``add_tags``
adds values to the multi-value custom field ``tags_field``, ``assign`` sets the owner, ``add_note`` writes an
internal comment and ``create_outreach`` a new ticket to the requestor. Field writes read the ticket first and
report ``already_applied`` when it already holds the value; comments and outreach carry the action's marker
and are looked up by it before writing, so applying an action twice changes RT once.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import SecretStr

from connectors.actions import Action, ActionResult
from connectors.base import CheckItem, CheckReport, Connector, Cursor, CustomerHistory, PullBatch
from connectors.errors import ConnectorError, MalformedResponse, RequestRejected
from connectors.http import BasicCredentials, HttpClient, RateBudget, TokenCredentials
from connectors.records import Comment, Customer, RecordError, Ticket, as_utc
from connectors.rt.api import MAX_PER_PAGE, RTApi, quote
from connectors.rt.vocabulary import (
    DEFAULT_PRIORITY_NAMES,
    PriorityScale,
    Vocabulary,
    VocabularyError,
)

_RT_TIME = "%Y-%m-%d %H:%M:%S"
_NOBODY = {"nobody", ""}
_CALIBRATION_TTL = 3600.0
_TAG_RE = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class RTSettings:
    """How to reach one RT instance and how its vocabulary maps to deskroute's."""

    base_url: str
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    timeout: float = 30.0
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


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith("1970-01-01"):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _http_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None


def _name(ref: Any) -> str | None:
    """A user or queue reference's name (expanded ``Name``, else its ``id``)."""
    if isinstance(ref, Mapping):
        value = ref.get("Name") or ref.get("id")
        return str(value) if value not in (None, "") else None
    return str(ref) if ref not in (None, "") else None


def _iso(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _html_text(content: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\n", content)
    return html.unescape(_TAG_RE.sub("", text)).strip()


@dataclass
class _PullState:
    """The cursor while a pull runs: the latest second seen and the tickets already pulled in that second.

    ``seen`` is only written into the stored cursor once RT's clock has moved two seconds past ``since``: until
    then a ticket pulled in that second may change again within it (same ``LastUpdated``), so the next pull
    reads that second again rather than miss the change.
    """

    since: datetime | None = None
    seen: set[str] = field(default_factory=set)
    settled: bool = False

    @classmethod
    def load(cls, cursor: Cursor | None) -> _PullState:
        if not cursor or not cursor.get("since"):
            return cls()
        since = _parse_time(str(cursor["since"]))
        if since is None:
            raise ValueError(f"RT cursor has an unreadable 'since': {cursor['since']!r}; run a --full sync")
        return cls(since=since, seen={str(i) for i in cursor.get("seen", [])}, settled=True)

    def is_new(self, ticket_id: str, updated: datetime) -> bool:
        if self.since is None or updated > self.since:
            return True
        return updated == self.since and ticket_id not in self.seen

    def advance(self, ticket_id: str, updated: datetime) -> None:
        if self.since is None or updated > self.since:
            self.since, self.seen, self.settled = updated, {ticket_id}, False
        elif updated == self.since:
            self.seen.add(ticket_id)

    def observe_clock(self, server_time: datetime | None) -> None:
        """RT's clock at a search: two seconds past ``since``, no change can still land in that second."""
        if self.since is not None and server_time is not None and server_time >= self.since + timedelta(seconds=2):
            self.settled = True

    def dump(self) -> Cursor:
        if self.since is None:
            return {}
        seen = sorted(self.seen, key=lambda s: (len(s), s)) if self.settled else []
        return {"since": _iso(self.since), "seen": seen}


class RTConnector(Connector):
    """Request Tracker 5 through REST 2."""

    type = "rt"

    def __init__(
        self,
        name: str,
        settings: RTSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = time.sleep,
    ):
        super().__init__(name)
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
            budget=RateBudget(settings.rate_limit_per_minute),
            sleep=sleep,
            transport=transport,
            credentials_hint=hint,
        )
        login = None
        if settings.token is None and settings.username and settings.password is not None:
            login = (settings.username, settings.password.get_secret_value())
        self.api = RTApi(http, login=login)
        self._scales: dict[str, PriorityScale] = {}
        self._offset: tuple[float, timedelta] | None = None

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

    # -- time zones -------------------------------------------------------------------------------------

    def _measured_offset(self) -> timedelta:
        """How far RT's reading of a TicketSQL date is from UTC, measured on the newest ticket's Created."""
        now = time.monotonic()
        if self._offset is not None and now - self._offset[0] < _CALIBRATION_TTL:
            return self._offset[1]
        newest = self.api.search_tickets(
            "id > 0", per_page=1, orderby=("id",), order=("DESC",), fields="Created", expand=False
        )
        offset = timedelta(0)
        if newest["items"]:
            ticket_id = str(newest["items"][0]["id"])
            created = _parse_time(newest["items"][0].get("Created"))
            if created is not None:
                step = timedelta(minutes=15)

                def reads_later(quarters: int) -> bool:
                    moment = (created + quarters * step).strftime(_RT_TIME)
                    found = self.api.search_tickets(
                        f"id = {ticket_id} AND Created >= '{moment}'", per_page=1, fields="id", expand=False
                    )
                    return bool(found["items"])

                # True for offsets at or beyond the probe; time zones lie within -14 h .. +14 h.
                low, high = -56, 57
                while high - low > 1:
                    middle = (low + high) // 2
                    if reads_later(middle):
                        low = middle
                    else:
                        high = middle
                offset = low * step
        self._offset = (now, offset)
        return offset

    def rt_time(self, moment: datetime) -> str:
        """``moment`` written as RT will read it in a TicketSQL date comparison."""
        if self.settings.timezone:
            try:
                zone = ZoneInfo(self.settings.timezone)
            except ZoneInfoNotFoundError:
                raise ConnectorError(
                    f"timezone {self.settings.timezone!r} is not a known time zone (e.g. Europe/Berlin)",
                    connector=self.name,
                ) from None
            return as_utc(moment).astimezone(zone).strftime(_RT_TIME)
        return (as_utc(moment) + self._measured_offset()).strftime(_RT_TIME)

    def _search_from(self, since: datetime) -> str:
        margin = timedelta(seconds=2)
        if not self.settings.timezone and datetime.now(UTC) - since > timedelta(hours=12):
            # A measured offset is today's; across a daylight-saving change it can be an hour off.
            margin += timedelta(hours=1)
        return self.rt_time(since - margin)

    # -- pulling ----------------------------------------------------------------------------------------

    def _query(self, since: datetime | None) -> str:
        parts = [f"({self.settings.ticket_filter})"] if self.settings.ticket_filter else []
        if since is not None:
            parts.append(f"LastUpdated >= '{self._search_from(since)}'")
        return " AND ".join(parts) or "id > 0"

    def cursor_since(self, since: datetime) -> Cursor:
        # Anything updated at `since` is new: the second just before is the cursor, with nothing seen.
        return {"since": _iso(as_utc(since) - timedelta(seconds=1)), "seen": []}

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        """Tickets (with comments and requestors) updated since the cursor, one batch per search page."""
        state = _PullState.load(cursor)
        per_page = max(1, min(self.settings.page_size, MAX_PER_PAGE))
        page = 1
        while True:
            data = self.api.search_tickets(self._query(state.since), page=page, per_page=per_page)
            items = data["items"]
            fresh: list[tuple[dict[str, Any], datetime]] = []
            problems: list[str] = []
            for item in items:
                updated = _parse_time(item.get("LastUpdated"))
                if updated is None:
                    problems.append(f"RT ticket {item.get('id')}: field 'LastUpdated': missing or unreadable")
                    continue
                if state.is_new(str(item.get("id")), updated):
                    fresh.append((item, updated))
            fresh.sort(
                key=lambda pair: (
                    pair[1],
                    int(str(pair[0].get("id", "0"))) if str(pair[0].get("id", "")).isdigit() else 0,
                )
            )
            if fresh or problems:
                tickets, comments, customers, more_problems = self._records([item for item, _ in fresh])
                for item, updated in fresh:
                    state.advance(str(item["id"]), updated)
                state.observe_clock(_http_date(data.get("_server_time")))
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
                    problems=[*problems, *more_problems],
                    remaining=remaining,
                )
            if len(items) < per_page:
                return
            # New tickets moved the cursor: search again from it. A full page of already-seen tickets (many
            # updated in one second) means the next page of the same search.
            page = 1 if fresh else page + 1

    def _records(
        self, items: Sequence[dict[str, Any]]
    ) -> tuple[list[Ticket], list[Comment], list[Customer], list[str]]:
        tickets: list[Ticket] = []
        comments: list[Comment] = []
        customers: dict[str, Customer] = {}
        problems: list[str] = []
        for item in items:
            ticket_id = str(item.get("id"))
            try:
                ticket, ticket_comments = self._ticket(item)
            except RecordError as exc:
                problems.append(str(exc))
                continue
            except MalformedResponse as exc:
                problems.append(f"RT ticket {ticket_id}: {exc}")
                continue
            tickets.append(ticket)
            comments.extend(ticket_comments)
            for person in item.get("Requestor") or []:
                customer = self._customer(person)
                if customer is not None:
                    customers[customer.external_id] = customer
        return tickets, comments, list(customers.values()), problems

    def _customer(self, person: Any) -> Customer | None:
        if not isinstance(person, Mapping):
            return None
        email = person.get("EmailAddress") or None
        key = email or _name(person)
        if not key:
            return None
        return Customer(
            source=self.name,
            external_id=str(key),
            email=str(email) if email else None,
            name=str(person.get("RealName")) if person.get("RealName") else None,
            organization=str(person.get("Organization")) if person.get("Organization") else None,
        )

    def _ticket(self, item: Mapping[str, Any]) -> tuple[Ticket, list[Comment]]:
        """A listing item plus its messages as a canonical ticket and comments."""
        ticket_id = str(item.get("id"))
        plain: dict[str, str] = {}
        rich: dict[str, str] = {}
        for attachment in self.api.texts(ticket_id):
            txn = str(attachment.get("TransactionId"))
            content = attachment.get("Content")
            if not isinstance(content, str) or not content.strip():
                continue
            # The first text part of a message is its body; plain text wins over HTML.
            if attachment.get("ContentType") == "text/html":
                rich.setdefault(txn, _html_text(content))
            else:
                plain.setdefault(txn, content.strip())
        texts = {**rich, **plain}
        requestors = [p for p in item.get("Requestor") or [] if isinstance(p, Mapping)]
        requester_ids = {str(v).lower() for p in requestors for v in (p.get("EmailAddress"), _name(p)) if v}
        body = ""
        comments: list[Comment] = []
        for message in self.api.messages(ticket_id):
            txn_id = str(message.get("id"))
            author = _name(message.get("Creator"))
            created = _parse_time(message.get("Created"))
            if message.get("Type") == "Create":
                body = body or texts.get(txn_id, "")
                continue
            if created is None:
                continue
            comments.append(
                Comment(
                    source=self.name,
                    external_id=txn_id,
                    ticket_external_id=ticket_id,
                    author=author,
                    author_is_customer=bool(author and author.lower() in requester_ids),
                    public=message.get("Type") == "Correspond",
                    body=texts.get(txn_id, ""),
                    created_at=created,
                )
            )
        queue_ref = item.get("Queue")
        queue_name = _name(queue_ref)
        queue_id = str(queue_ref.get("id")) if isinstance(queue_ref, Mapping) and queue_ref.get("id") else None
        raw_priority = str(item.get("Priority", "")).strip()
        number = int(raw_priority) if raw_priority.lstrip("-").isdigit() else None
        scale = self.priority_scale(queue_id)
        owner = _name(item.get("Owner"))
        tags: list[str] = []
        custom: dict[str, Any] = {}
        for cf in item.get("CustomFields") or []:
            if not isinstance(cf, Mapping):
                continue
            values = [str(v) for v in cf.get("values") or [] if v not in (None, "")]
            if cf.get("name") == self.settings.tags_field:
                tags = values
            elif values:
                custom[str(cf.get("name"))] = values if len(values) > 1 else values[0]
        custom["rt_status"] = item.get("Status")
        requester = next(
            (str(p.get("EmailAddress") or _name(p)) for p in requestors if p.get("EmailAddress") or _name(p)), None
        )
        ticket = Ticket.parse(
            {
                "source": self.name,
                "external_id": ticket_id,
                "subject": str(item.get("Subject") or ""),
                "body": body,
                "requester": requester,
                "organization": next((str(p["Organization"]) for p in requestors if p.get("Organization")), None),
                "channel": None,
                "status": self.vocabulary.canonical_status(item.get("Status")),
                "priority": self.vocabulary.canonical_priority(number, scale),
                "priority_raw": raw_priority or None,
                "queue": self.vocabulary.canonical_queue(queue_name),
                "assignee": None if (owner or "").lower() in _NOBODY else owner,
                "tags": tags,
                "custom_fields": custom,
                "created_at": _parse_time(item.get("Created")) or _parse_time(item.get("LastUpdated")),
                "updated_at": _parse_time(item.get("LastUpdated")),
                "updated_by": _name(item.get("LastUpdatedBy")),
                "raw": {k: v for k, v in item.items() if k not in ("_url", "CustomFields")},
            },
            where=f"RT ticket {ticket_id}",
        )
        return ticket, comments

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
            person = self._customer(found) if found else None
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
        if _name(item.get("Queue")) == queue:
            return ActionResult(status="already_applied", detail=f"ticket is in queue {queue}")
        messages = self.api.update(action.target, {"Queue": queue})
        return self._verify(action.target, messages, lambda t: _name(t.get("Queue")) == queue, f"queue {queue}")

    def _set_priority(self, action: Action, item: Mapping[str, Any]) -> ActionResult:
        queue_ref = item.get("Queue")
        queue_id = str(queue_ref.get("id")) if isinstance(queue_ref, Mapping) else None
        scale = self.priority_scale(queue_id)
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
            names = {_name(ref)} | ({ref.get("EmailAddress")} if isinstance(ref, Mapping) else set())
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
        items.append(CheckItem("reachable and credentials", True, f"RT {version} at {self.settings.rest_url}"))
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
            if self.settings.timezone:
                items.append(CheckItem("time zone", True, f"{self.settings.timezone} (configured)"))
            else:
                offset = self._measured_offset()
                hours = offset.total_seconds() / 3600
                items.append(
                    CheckItem(
                        "time zone",
                        True,
                        f"TicketSQL dates read at UTC{hours:+.2f} h (measured); set timezone for exactness "
                        "across daylight-saving changes",
                    )
                )
        except ConnectorError as exc:
            items.append(CheckItem("permissions", False, str(exc)))
        return CheckReport(self.name, items)
