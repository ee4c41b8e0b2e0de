"""The Zendesk Support adapter: incremental exports, customer history, every action, signed webhooks.

Pull. Tickets from the cursor-based incremental export (one batch per export page, the export's own cursor
stored with it), each with its comments and who changed it (Zendesk tickets carry no "updated by": the
ticket's audits name the author of each update, so deskroute recognises its own writes and a person's
re-routing, see :func:`~connectors.zendesk.canonical.change_author`). Then end users
from the incremental user export, then satisfaction ratings. Requesters, authors and organizations are
looked up in batches and kept for the life of the connector.

Writes. A routing write (group, assignee, priority) is skipped when the ticket's audits show a person (not
deskroute, not the requester, not a trigger or automation) set that by hand: the routing is theirs, and the
engine records the correction when it pulls the ticket. Every ticket update is guarded by Zendesk's safe
update (``safe_update`` with the ``updated_stamp`` read just before): when someone changed the ticket in
between, Zendesk answers 409 and nothing is written; deskroute reads the ticket again and decides again (a
person's re-routing: skipped; a customer's reply or a trigger: retried against the new stamp). Tags are
added with ``additional_tags`` (never the whole list, so other people's tags stay); an internal note carries
the action's marker and is looked up by it; outreach is a new ticket whose ``external_id`` holds the action's
key, created under an ``Idempotency-Key``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.actions import Action, ActionResult
from connectors.base import CheckItem, CheckReport, Connector, Cursor, CustomerHistory, PullBatch, Refused
from connectors.errors import ConnectorError, MalformedResponse, RequestRejected, Unavailable, WebhookUnsupported
from connectors.http import DEFAULT_MAX_RESPONSE_BYTES, BasicCredentials, HttpClient, RateBudget
from connectors.records import Comment, Customer, RecordError, SatisfactionRating, Ticket
from connectors.redaction import mask_url
from connectors.webhooks import (
    DEFAULT_REPLAY_WINDOW,
    WebhookDelivery,
    WebhookRefused,
    check_fresh,
    check_size,
    delivery_id,
    header,
    hinted_tickets,
    parse_sent_at,
    same_secret,
)
from connectors.zendesk import shapes
from connectors.zendesk.band import BAND_ORDER, DEFAULT_BAND_VALUES, check_band_field
from connectors.zendesk.canonical import (
    Vocabulary,
    change_author,
    comment_from,
    customer_from,
    is_persons,
    person,
    rating_from,
    routing_changes,
    ticket_from,
)
from connectors.zendesk.export_cursor import ExportCursor
from connectors.zendesk.support_api import PAGE_SIZE, ZendeskApi

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
SIGNATURE_TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
# The export refuses a start time within the last minute (it holds that minute back): ask from before it.
HELD_BACK_SECONDS = 61
# Once a person has set these by hand, deskroute does not write them: moving a ticket to another group would
# also take it from the agent a person assigned it to, so group and assignee go together.
HAND_SET_FIELDS: dict[str, frozenset[str]] = {
    "route": frozenset({"group_id", "assignee_id"}),
    "assign": frozenset({"group_id", "assignee_id"}),
    "set_priority": frozenset({"priority"}),
}
FIELD_WORDS = {"group_id": "group", "assignee_id": "assignee", "priority": "priority"}
OUTREACH_TAG = "deskroute_outreach"
# Ratings are few (one per solved ticket at most): a listing longer than this is cut, and read again next time.
MAX_RATING_PAGES = 1000


@dataclass(frozen=True)
class ZendeskSettings:
    """How to reach one Zendesk account and how its words map to deskroute's."""

    base_url: str
    email: str
    token: SecretStr
    timeout: float = 30.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    rate_limit_per_minute: int | None = None
    export_per_minute: int = 10
    page_size: int = PAGE_SIZE
    queue_map: Mapping[str, str] = field(default_factory=dict)
    priority_map: Mapping[str, str] = field(default_factory=dict)
    agent_user: str | None = None
    band_field_id: int | None = None
    band_values: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_BAND_VALUES))
    outreach_group: str | None = None
    webhook_id: str | None = None
    history_limit: int = 200
    max_conflicts: int = 3


class ZendeskConnector(Connector):
    """Zendesk Support through its REST API (v2)."""

    type = "zendesk"
    supports_webhooks = True

    def __init__(
        self,
        name: str,
        settings: ZendeskSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        webhook_secret: SecretStr | None = None,
        webhook_replay_seconds: float = DEFAULT_REPLAY_WINDOW,
    ):
        super().__init__(name, webhook_secret=webhook_secret, webhook_replay_seconds=webhook_replay_seconds)
        if not settings.email or not settings.token.get_secret_value():
            raise ConnectorError("Zendesk needs the agent's e-mail address and an API token", connector=name)
        self.settings = settings
        self.vocabulary = Vocabulary(settings.queue_map, settings.priority_map)
        self._clock = clock
        auth = BasicCredentials(f"{settings.email}/token", settings.token)
        hint = (
            "Check the agent's e-mail address and API token in the environment variables the connector names, "
            "and that token access is enabled in Admin Center."
        )

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
                credentials_hint=hint,
            )

        self.api = ZendeskApi(client(settings.rate_limit_per_minute), client(settings.export_per_minute))
        self._people: dict[int, dict[str, Any]] = {}
        self._groups: dict[int, str] | None = None
        self._organizations: dict[int, str] = {}
        self._me: dict[str, Any] | None = None

    def close(self) -> None:
        self.api.close()

    @property
    def agent_identity(self) -> str | None:
        return (self.settings.agent_user or self.settings.email).strip().lower()

    # -- people, groups, organizations ------------------------------------------------------------------

    def _learn(self, users: Sequence[Mapping[str, Any]]) -> None:
        for user in users:
            if shapes.is_id(user.get("id")):
                self._people[user["id"]] = dict(user)

    def _know_people(self, ids: Sequence[Any]) -> None:
        unknown = sorted({i for i in ids if shapes.is_id(i) and i not in self._people})
        if unknown:
            self._learn(self.api.users(unknown))

    def _know_organizations(self, ids: Sequence[Any]) -> None:
        unknown = sorted({i for i in ids if shapes.is_id(i) and i not in self._organizations})
        if unknown:
            for org in self.api.organizations(unknown):
                self._organizations[org["id"]] = str(org.get("name") or org["id"])

    def group_names(self, *, refresh: bool = False) -> dict[int, str]:
        if self._groups is None or refresh:
            self._groups = {g["id"]: str(g.get("name") or g["id"]) for g in self.api.groups() if not g.get("deleted")}
        return self._groups

    def _group_id(self, name: str) -> int | None:
        for refresh in (False, True):
            for group_id, group in self.group_names(refresh=refresh).items():
                if group == name:
                    return group_id
        return None

    def me(self) -> dict[str, Any]:
        if self._me is None:
            self._me = self.api.me()
        return self._me

    # -- pulling ----------------------------------------------------------------------------------------

    def cursor_since(self, since: datetime) -> Cursor:
        return ExportCursor.starting_at(since)

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        """Tickets (with comments), then end users, then satisfaction ratings changed since the cursor."""
        state = ExportCursor.load(cursor)
        yield from self._pull_tickets(state)
        yield from self._pull_users(state)
        yield from self._pull_ratings(state)

    def _start(self, start: int | None) -> int:
        return max(0, min(start or 0, int(self._clock()) - HELD_BACK_SECONDS))

    def _pull_tickets(self, state: ExportCursor) -> Iterator[PullBatch]:
        while True:
            before = state.tickets
            page = self.api.export_tickets(
                start_time=None if before else self._start(state.tickets_start),
                cursor=before,
                per_page=self.settings.page_size,
            )
            self._learn(page.users)
            tickets, comments, customers, refused = self._records(page.items)
            if page.after_cursor is not None:
                state.tickets = page.after_cursor
            if page.items or state.tickets != before:
                yield PullBatch(
                    cursor=state.dump(), tickets=tickets, comments=comments, customers=customers, refused=refused
                )
            if page.end_of_stream:
                return
            if state.tickets == before:
                raise MalformedResponse(
                    "GET /api/v2/incremental/tickets/cursor.json: the export handed back the cursor it was given "
                    "without reaching its end; Zendesk (or a proxy) ignores the cursor parameter",
                    connector=self.name,
                )

    def _pull_users(self, state: ExportCursor) -> Iterator[PullBatch]:
        while True:
            before = state.users
            page = self.api.export_users(
                start_time=None if before else self._start(state.users_start),
                cursor=before,
                per_page=self.settings.page_size,
            )
            self._learn(page.items)
            self._know_organizations([u.get("organization_id") for u in page.items])
            customers: list[Customer] = []
            refused: list[Refused] = []
            for user in page.items:
                found = self._customer(user, refused)
                if found is not None:
                    customers.append(found)
            if page.after_cursor is not None:
                state.users = page.after_cursor
            if page.items or state.users != before:
                yield PullBatch(cursor=state.dump(), customers=customers, refused=refused)
            if page.end_of_stream or state.users == before:
                return

    def _pull_ratings(self, state: ExportCursor) -> Iterator[PullBatch]:
        # The listing's order is Zendesk's, not by time: the cursor moves only once the listing is read to
        # its end, and a pull stopped half way reads it again (ratings are stored by id: no duplicates).
        start = state.ratings_start or 0
        before = ExportCursor(**{**state.__dict__, "ratings_seen": set(state.ratings_seen)})
        after: str | None = None
        pages = 0
        while True:
            page = self.api.ratings_page(start_time=start, after=after)
            pages += 1
            ratings: list[SatisfactionRating] = []
            refused: list[Refused] = []
            for item in page.items:
                rating = self._rating(item, refused)
                created = rating.created_at if rating is not None else None
                if rating is not None and created is not None and before.rating_is_new(rating.external_id, created):
                    ratings.append(rating)
                    state.advance_ratings(rating.external_id, created)
            done = not page.has_more or not page.items
            cut = not done and pages >= MAX_RATING_PAGES
            cursor = state.dump() if done else before.dump()
            problems = (
                [
                    f"satisfaction ratings: more than {MAX_RATING_PAGES} pages since the last sync; "
                    "the rest is read next time"
                ]
                if cut
                else []
            )
            if ratings or refused or problems or (done and cursor != before.dump()):
                yield PullBatch(cursor=cursor, ratings=ratings, refused=refused, problems=problems)
            if done or cut:
                return
            after = page.after_cursor

    def _customer(self, user: Mapping[str, Any], refused: list[Refused]) -> Customer | None:
        problem = shapes.user_problem(user)
        if problem is not None:
            where, what = problem
            refused.append(
                Refused("customer", str(user["id"]), f"Zendesk user {user['id']}: field '{where}' {what}", where, user)
            )
            return None
        try:
            return customer_from(user, self.name, self._organizations)
        except RecordError as exc:
            refused.append(Refused("customer", str(user["id"]), str(exc), exc.field, user))
            return None

    def _rating(self, item: Mapping[str, Any], refused: list[Refused]) -> SatisfactionRating | None:
        problem = shapes.rating_problem(item)
        if problem is not None:
            where, what = problem
            refused.append(
                Refused(
                    "rating",
                    str(item["id"]),
                    f"Zendesk satisfaction rating {item['id']}: field '{where}' {what}",
                    where,
                    item,
                )
            )
            return None
        try:
            return rating_from(item, source=self.name)
        except RecordError as exc:
            refused.append(Refused("rating", str(item["id"]), str(exc), exc.field, item))
            return None

    def _records(
        self, items: Sequence[dict[str, Any]], *, with_audits: bool = True
    ) -> tuple[list[Ticket], list[Comment], list[Customer], list[Refused]]:
        """Canonical records for export or list items; an item that does not validate is refused whole (the
        ticket with its comments), naming the ticket and field, for the caller to keep in quarantine."""
        if not items:
            return [], [], [], []
        refused: list[Refused] = []
        readable: list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = []
        for item in items:
            ticket_id = item["id"]
            problem = shapes.ticket_problem(item)
            if problem is not None:
                where, what = problem
                refused.append(
                    Refused(
                        "ticket", str(ticket_id), f"Zendesk ticket {ticket_id}: field '{where}' {what}", where, item
                    )
                )
                continue
            try:
                comments = self.api.comments(ticket_id)
                audits = self.api.audits(ticket_id) if with_audits else []
            except MalformedResponse as exc:
                refused.append(Refused("ticket", str(ticket_id), f"Zendesk ticket {ticket_id}: {exc}", None, item))
                continue
            bad = next(
                (
                    (f"comments[{n}].{p[0]}", p[1])
                    for n, c in enumerate(comments)
                    if (p := shapes.comment_problem(c)) is not None
                ),
                None,
            ) or next(
                (
                    (f"audits[{n}].{p[0]}", p[1])
                    for n, a in enumerate(audits)
                    if (p := shapes.audit_problem(a)) is not None
                ),
                None,
            )
            if bad is not None:
                refused.append(
                    Refused(
                        "ticket", str(ticket_id), f"Zendesk ticket {ticket_id}: field '{bad[0]}' {bad[1]}", bad[0], item
                    )
                )
                continue
            readable.append((item, comments, audits))
        self._know_people(
            [
                i
                for item, comments, audits in readable
                for i in (
                    item.get("requester_id"),
                    item.get("assignee_id"),
                    *(c.get("author_id") for c in comments),
                    *(a.get("author_id") for a in audits),
                )
            ]
        )
        self._know_organizations(
            [item.get("organization_id") for item, _, _ in readable]
            + [self._people.get(item.get("requester_id") or 0, {}).get("organization_id") for item, _, _ in readable]
        )
        groups = self.group_names()
        if any(isinstance(item.get("group_id"), int) and item["group_id"] not in groups for item, _, _ in readable):
            groups = self.group_names(refresh=True)
        tickets: list[Ticket] = []
        comments_out: list[Comment] = []
        customers: dict[str, Customer] = {}
        for item, comments, audits in readable:
            ticket_id = item["id"]
            author = change_author(
                audits, requester_id=item.get("requester_id"), agent=self.agent_identity, people=self._people
            )
            try:
                ticket = ticket_from(
                    item,
                    source=self.name,
                    people=self._people,
                    groups=groups,
                    organizations=self._organizations,
                    vocabulary=self.vocabulary,
                    updated_by=author,
                    band_field_id=self.settings.band_field_id,
                )
                ticket_comments = [
                    comment_from(
                        c,
                        ticket_id=ticket_id,
                        requester_id=item.get("requester_id"),
                        people=self._people,
                        source=self.name,
                    )
                    for c in comments
                ]
            except RecordError as exc:
                refused.append(Refused("ticket", str(ticket_id), str(exc), exc.field, item))
                continue
            tickets.append(ticket)
            comments_out.extend(ticket_comments)
            requester = self._people.get(item.get("requester_id") or 0)
            if requester is not None:
                found = self._customer(requester, refused)
                if found is not None:
                    customers[found.external_id] = found
        return tickets, comments_out, list(customers.values()), refused

    # -- customer history -------------------------------------------------------------------------------

    def _find_user(self, customer: str) -> dict[str, Any] | None:
        key = customer.strip()
        if key.isascii() and key.isdigit() and 0 < len(key) <= 19:
            self._know_people([int(key)])
            return self._people.get(int(key))
        if "@" not in key:
            return None
        matches = [u for u in self.api.search_users(key) if str(u.get("email") or "").lower() == key.lower()]
        self._learn(matches)
        return matches[0] if matches else None

    def customer_history(self, customer: str) -> CustomerHistory:
        """The customer's requested tickets (up to ``history_limit``) with their comments, the ratings they gave
        on them, and their organization."""
        user = self._find_user(customer)
        if user is None:
            return CustomerHistory(customer=None)
        pages = max(1, -(-self.settings.history_limit // PAGE_SIZE))
        items = self.api.requested_tickets(user["id"], max_pages=pages)[: self.settings.history_limit]
        self._know_organizations([user.get("organization_id")])
        tickets, comments, _, _ = self._records(items, with_audits=False)
        ratings: list[SatisfactionRating] = []
        for item in items:
            given = item.get("satisfaction_rating")
            if isinstance(given, Mapping) and shapes.is_id(given.get("id")):
                try:
                    rating = rating_from(
                        {
                            **given,
                            "ticket_id": item["id"],
                            "requester_id": user["id"],
                            "created_at": item.get("updated_at"),
                        },
                        source=self.name,
                    )
                except RecordError:
                    rating = None
                if rating is not None:
                    ratings.append(rating)
        refused: list[Refused] = []
        return CustomerHistory(
            customer=self._customer(user, refused), tickets=tickets, comments=comments, ratings=ratings
        )

    # -- writing ----------------------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        """Do the action in Zendesk once (see the module's notes on idempotency and the safe-update guard)."""
        try:
            if action.kind == "create_outreach":
                return self._create_outreach(action)
            item = self.api.ticket(action.target)
            if item is None:
                return ActionResult(
                    status="failed", detail=f"Zendesk ticket {action.target} does not exist or the agent cannot see it"
                )
            plan = self._plan(action)
            return self._write(action, item, plan)
        except RequestRejected as exc:
            # Zendesk refused this action (422 invalid value, unknown user): retrying it unchanged cannot succeed.
            return ActionResult(status="failed", detail=str(exc))

    def _plan(self, action: Action) -> Callable[[dict[str, Any]], tuple[dict[str, Any] | None, str]]:
        """What the ticket must get for ``action``: ({changes} or None when it holds already, what it is)."""
        kind = action.kind
        if kind == "route":
            group = self.vocabulary.group_name(str(action.params["queue"]))
            group_id = self._group_id(group)
            if group_id is None:
                raise RequestRejected(
                    f"no Zendesk group named {group!r}; create it, or map the queue to a group in queue_map",
                    connector=self.name,
                )
            return lambda t: (None if t.get("group_id") == group_id else {"group_id": group_id}, f"group {group}")
        if kind == "set_priority":
            canonical = str(action.params["priority"])
            priority = self.vocabulary.zendesk_priority(canonical)
            band = self.settings.band_values.get(canonical)
            field_id = self.settings.band_field_id

            def priority_plan(t: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
                changes: dict[str, Any] = {}
                if t.get("priority") != priority:
                    changes["priority"] = priority
                if field_id is not None and band is not None:
                    current = next(
                        (c.get("value") for c in t.get("custom_fields") or [] if c.get("id") == field_id), None
                    )
                    if current != band:
                        changes["custom_fields"] = [{"id": field_id, "value": band}]
                return changes or None, f"priority {priority}" + (f", band {band}" if field_id is not None else "")

            return priority_plan
        if kind == "add_tags":
            wanted = list(dict.fromkeys(zendesk_tag(str(t)) for t in action.params["tags"] if zendesk_tag(str(t))))

            def tags_plan(t: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
                have = {str(x).lower() for x in t.get("tags") or []}
                missing = [x for x in wanted if x not in have]
                return ({"additional_tags": missing} if missing else None), f"tags {', '.join(wanted)}"

            return tags_plan
        if kind == "assign":
            who = str(action.params["assignee"])
            user = self._find_user(who)
            if user is None or user.get("role") not in ("agent", "admin"):
                raise RequestRejected(
                    f"no Zendesk agent {who!r}; assign to an agent's e-mail address or id", connector=self.name
                )
            user_id = user["id"]
            return lambda t: (None if t.get("assignee_id") == user_id else {"assignee_id": user_id}, f"assignee {who}")
        marker = action.marker()
        body = f"{str(action.params['body']).rstrip()}\n\n{marker}"

        def note_plan(t: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
            if self._marked_comment(int(t["id"]), marker) is not None:
                return None, "the note is on the ticket"
            return {"comment": {"body": body, "public": False}}, "internal note"

        return note_plan

    def _marked_comment(self, ticket_id: int, marker: str) -> str | None:
        for comment in self.api.comments(ticket_id):
            text = comment.get("body")
            if isinstance(text, str) and marker in text:
                return str(comment["id"])
        return None

    def _write(
        self,
        action: Action,
        item: dict[str, Any],
        plan: Callable[[dict[str, Any]], tuple[dict[str, Any] | None, str]],
    ) -> ActionResult:
        for _ in range(self.settings.max_conflicts + 1):
            changes, what = plan(item)
            if changes is None:
                return ActionResult(status="already_applied", detail=what)
            fields = HAND_SET_FIELDS.get(action.kind)
            who = self._set_by_hand(item, fields) if fields else None
            if who is not None:
                return ActionResult(
                    status="skipped",
                    detail=f"{who} set the ticket's {' or '.join(FIELD_WORDS[f] for f in sorted(fields or ()))} by "
                    "hand; deskroute leaves that to them (the correction is recorded when the ticket is pulled)",
                )
            stamp = str(item.get("updated_at") or "")
            response = self.api.update(action.target, {**changes, "safe_update": True, "updated_stamp": stamp})
            if response.status_code != 409:
                return ActionResult(status="applied", detail=f"set {what}")
            # Someone changed the ticket since it was read: read it again, and decide again whether to write.
            fresh = self.api.ticket(action.target)
            if fresh is None:
                return ActionResult(
                    status="failed", detail=f"Zendesk ticket {action.target} disappeared during the update"
                )
            item = fresh
        raise Unavailable(
            f"Zendesk ticket {action.target} changed {self.settings.max_conflicts + 1} times while deskroute wrote "
            f"its {action.kind}; it will try again later",
            connector=self.name,
        )

    def _set_by_hand(self, ticket: Mapping[str, Any], fields: frozenset[str]) -> str | None:
        """The person (not deskroute, the requester, a trigger or an automation) who last changed one of
        ``fields`` on the ticket by hand; None when nobody did."""
        audits = self.api.audits(int(ticket["id"]))
        self._know_people([a.get("author_id") for a in audits])
        for audit in reversed(audits):
            author = audit.get("author_id")
            persons = is_persons(
                author, requester_id=ticket.get("requester_id"), agent=self.agent_identity, people=self._people
            )
            if persons and fields.intersection(routing_changes(audit)):
                return person(author, self._people)
        return None

    def _create_outreach(self, action: Action) -> ActionResult:
        channel = str(action.params.get("channel", "email")).lower()
        if channel != "email":
            return ActionResult(status="failed", detail=f"Zendesk outreach goes by e-mail here, not {channel!r}")
        external_id = f"deskroute-{action.idempotency_key}"
        # The Idempotency-Key covers a retry within Zendesk's two hours; the external id, any time after.
        existing = self.api.tickets_by_external_id(external_id)
        if existing:
            return ActionResult(
                status="already_applied",
                detail=f"outreach ticket {existing[0]['id']} exists",
                external_ref=str(existing[0]["id"]),
            )
        target = action.target.strip()
        ticket: dict[str, Any] = {
            "subject": str(action.params["subject"]),
            "comment": {"body": str(action.params["body"]), "public": True},
            "external_id": external_id,
            "tags": [OUTREACH_TAG],
        }
        if target.isascii() and target.isdigit():
            ticket["requester_id"] = int(target)
        elif "@" in target:
            ticket["requester"] = {"email": target}
        else:
            return ActionResult(
                status="failed", detail=f"outreach needs a customer's e-mail address or Zendesk id, not {target!r}"
            )
        priority = action.params.get("priority")
        if priority:
            ticket["priority"] = self.vocabulary.zendesk_priority(str(priority))
        group = action.params.get("queue") or self.settings.outreach_group
        if group:
            group_id = self._group_id(self.vocabulary.group_name(str(group)))
            if group_id is None:
                return ActionResult(status="failed", detail=f"no Zendesk group named {group!r} for outreach")
            ticket["group_id"] = group_id
        created, repeated = self.api.create_ticket(ticket, idempotency_key=action.idempotency_key)
        return ActionResult(
            status="already_applied" if repeated else "applied",
            detail=f"{'found' if repeated else 'created'} Zendesk ticket {created['id']}",
            external_ref=str(created["id"]),
        )

    # -- webhooks ---------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookDelivery:
        """A webhook Zendesk signed with the webhook's signing secret (``webhook_secret_env``)."""
        check_size(body, self.name)
        if self.webhook_secret is None:
            raise WebhookUnsupported(
                "no webhook signing secret: set webhook_secret_env to the variable holding the Zendesk webhook's "
                "signing secret",
                connector=self.name,
            )
        signature = header(headers, SIGNATURE_HEADER)
        stamp = header(headers, SIGNATURE_TIMESTAMP_HEADER)
        if not signature or not stamp:
            raise WebhookRefused(
                "forged",
                f"webhook is not signed ({SIGNATURE_HEADER} and {SIGNATURE_TIMESTAMP_HEADER} are required)",
                connector=self.name,
            )
        expected = zendesk_signature(self.webhook_secret.get_secret_value(), stamp, body)
        if not same_secret(signature.strip(), expected):
            raise WebhookRefused(
                "forged",
                "webhook signature does not match; check that webhook_secret_env holds this webhook's signing secret",
                connector=self.name,
            )
        sent_at = parse_sent_at(stamp, SIGNATURE_TIMESTAMP_HEADER, self.name)
        check_fresh(sent_at, now, self.webhook_replay_seconds, self.name)
        ident = delivery_id(header(headers, INVOCATION_HEADER), INVOCATION_HEADER, self.name)
        return WebhookDelivery(ident, hinted_tickets(body, self.name), sent_at)

    # -- checking ---------------------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Credentials and role, groups for the mapped queues, the band field, the webhook."""
        items: list[CheckItem] = []
        try:
            me = self.me()
        except ConnectorError as exc:
            return CheckReport(self.name, [CheckItem("credentials", False, str(exc))])
        email = str(me.get("email") or "")
        items.append(CheckItem("credentials", True, f"{email} at {mask_url(self.settings.base_url)}"))
        role = me.get("role")
        items.append(
            CheckItem(
                "role",
                role == "admin",
                f"{role}"
                + ("" if role == "admin" else ": the incremental exports need an admin; use an admin's token"),
            )
        )
        if self.agent_identity != email.lower():
            items.append(
                CheckItem(
                    "agent user",
                    False,
                    f"agent_user is {self.agent_identity} but the token belongs to {email}: deskroute would not "
                    "recognise its own changes",
                )
            )
        try:
            names = set(self.group_names(refresh=True).values())
            wanted = {self.vocabulary.group_name(q) for q in self.settings.queue_map}
            if self.settings.outreach_group:
                wanted.add(self.vocabulary.group_name(self.settings.outreach_group))
            unknown = sorted(wanted - names)
            mapped = ", ".join(f"{k}->{v}" for k, v in sorted(self.settings.queue_map.items()))
            items.append(
                CheckItem(
                    "groups",
                    not unknown,
                    f"{len(names)} visible"
                    + (f"; mapped {mapped}" if mapped else "")
                    + (f"; not found: {', '.join(unknown)} (create them or fix queue_map)" if unknown else ""),
                )
            )
            if self.settings.band_field_id is None:
                items.append(
                    CheckItem(
                        "band field",
                        True,
                        "not configured: set options.band_field_id to a drop-down field so agents' views sort by "
                        "deskroute's band",
                    )
                )
            else:
                ok, detail = check_band_field(
                    self.api.ticket_field(self.settings.band_field_id),
                    self.settings.band_field_id,
                    {p: self.settings.band_values[p] for p in BAND_ORDER},
                )
                items.append(CheckItem("band field", ok, detail))
            items.append(self._check_webhook())
        except ConnectorError as exc:
            items.append(CheckItem("permissions", False, str(exc)))
        return CheckReport(self.name, items)

    def _check_webhook(self) -> CheckItem:
        wanted = self.settings.webhook_id
        if wanted is None:
            return CheckItem("webhook", True, "not configured (options.webhook_id): deskroute polls Zendesk")
        found = next((w for w in self.api.webhooks() if str(w.get("id")) == wanted), None)
        if found is None:
            return CheckItem("webhook", False, f"no webhook {wanted}; create one in Admin Center > Webhooks")
        problems = []
        if found.get("status") != "active":
            problems.append(f"its status is {found.get('status')}, not active")
        if found.get("request_format") not in (None, "json"):
            problems.append("its request format must be JSON")
        if self.webhook_secret is None:
            problems.append("webhook_secret_env is not set, so its signature cannot be checked")
        endpoint = mask_url(str(found.get("endpoint") or "?"))
        if problems:
            return CheckItem("webhook", False, f"{wanted} -> {endpoint}: " + "; ".join(problems))
        return CheckItem("webhook", True, f"{wanted} -> {endpoint}, active, signed")


def zendesk_tag(text: str) -> str:
    """A tag as Zendesk stores it: lower case, white space as underscores (a space separates tags)."""
    return "_".join(text.split()).lower()


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)): how Zendesk signs a webhook."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
