"""Zendesk's JSON as canonical records: tickets with their comments, end users as customers, CSAT ratings.

People are named by e-mail address where Zendesk gives one (that is how deskroute's agent user, a ticket's
requester and a comment's author are compared), else as ``zendesk-user:ID``; Zendesk itself (automations,
author ``-1``) is ``zendesk``. A customer's ``external_id`` is the Zendesk user id, which outlives an e-mail
change; the store finds a ticket's customer by either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.records import Comment, Customer, Priority, SatisfactionRating, Ticket, TicketStatus, as_utc

SYSTEM_AUTHOR = "zendesk"
STATUSES: dict[str, TicketStatus] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "hold",
    "solved": "solved",
    "closed": "closed",
    "deleted": "deleted",
}
PRIORITY_WORDS: tuple[Priority, ...] = ("low", "normal", "high", "urgent")


def parse_time(value: Any) -> datetime | None:
    """A Zendesk time (ISO 8601, UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def person(user_id: Any, people: Mapping[int, Mapping[str, Any]]) -> str | None:
    """How deskroute names a Zendesk user: the e-mail address, else ``zendesk-user:ID``."""
    if user_id is None:
        return None
    if user_id == -1:
        return SYSTEM_AUTHOR
    found = people.get(user_id) if isinstance(user_id, int) else None
    email = found.get("email") if found else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else f"zendesk-user:{user_id}"


class Vocabulary:
    """Queue (group) names and priorities between Zendesk's words and deskroute's."""

    def __init__(self, queue_map: Mapping[str, str], priority_map: Mapping[str, str]):
        self.queue_map = dict(queue_map)
        for canonical, vendor in priority_map.items():
            if canonical not in PRIORITY_WORDS:
                raise ValueError(
                    f"priority_map key {canonical!r} is not a canonical priority ({', '.join(PRIORITY_WORDS)})"
                )
            if vendor not in PRIORITY_WORDS:
                raise ValueError(
                    f"priority_map.{canonical} = {vendor!r} is not a Zendesk priority ({', '.join(PRIORITY_WORDS)})"
                )
        self.priority_map: dict[str, str] = dict(priority_map)

    def group_name(self, canonical: str) -> str:
        return self.queue_map.get(canonical, canonical)

    def canonical_queue(self, group: str | None) -> str | None:
        if group is None:
            return None
        for canonical, vendor in self.queue_map.items():
            if vendor == group:
                return canonical
        return group

    def zendesk_priority(self, canonical: str) -> str:
        return self.priority_map.get(canonical, canonical)

    def canonical_priority(self, value: Any) -> Priority | None:
        if not isinstance(value, str):
            return None
        for canonical in PRIORITY_WORDS:
            if self.priority_map.get(canonical) == value:
                return canonical
        return next((word for word in PRIORITY_WORDS if word == value), None)


def customer_from(
    user: Mapping[str, Any], source: str, organizations: Mapping[int, str] | None = None
) -> Customer | None:
    """An end user as a customer (agents and admins are not customers); RecordError when it does not validate."""
    if user.get("role") not in (None, "end-user"):
        return None
    email = user.get("email")
    org_id = user.get("organization_id")
    attributes = {
        key: user[key] for key in ("locale", "time_zone", "tags", "user_fields") if user.get(key) not in (None, [], {})
    }
    return Customer.parse(
        {
            "source": source,
            "external_id": str(user["id"]),
            "email": email.strip().lower() if isinstance(email, str) and email.strip() else None,
            "name": user.get("name") or None,
            "organization": (organizations or {}).get(org_id) if isinstance(org_id, int) else None,
            "attributes": attributes,
            "created_at": parse_time(user.get("created_at")),
        },
        where=f"Zendesk user {user['id']}",
    )


def comment_from(
    item: Mapping[str, Any], *, ticket_id: int, requester_id: Any, people: Mapping[int, Mapping[str, Any]], source: str
) -> Comment:
    """A ticket comment; the author's role tells a customer's reply from an agent's."""
    author_id = item.get("author_id")
    author = people.get(author_id) if isinstance(author_id, int) else None
    is_customer = author_id == requester_id or bool(author and author.get("role") == "end-user")
    body = item.get("plain_body") if isinstance(item.get("plain_body"), str) else item.get("body")
    return Comment.parse(
        {
            "source": source,
            "external_id": str(item["id"]),
            "ticket_external_id": str(ticket_id),
            "author": person(author_id, people),
            "author_is_customer": is_customer,
            "public": item.get("public", True),
            "body": body or "",
            "created_at": parse_time(item.get("created_at")),
        },
        where=f"Zendesk ticket {ticket_id} comment {item['id']}",
    )


ROUTING_FIELDS = frozenset({"group_id", "assignee_id", "priority"})


def _ordered(audits: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    timed = [(when, int(a.get("id") or 0), a) for a in audits if (when := parse_time(a.get("created_at")))]
    return [a for _, _, a in sorted(timed, key=lambda t: (t[0], t[1]))]


def routing_changes(audit: Mapping[str, Any]) -> list[str]:
    """The routing fields (group, assignee, priority) an audit changed by hand: not by a trigger or an automation."""
    changed = []
    for event in audit.get("events") or []:
        if not isinstance(event, Mapping) or event.get("type") != "Change":
            continue
        via = event.get("via") if isinstance(event.get("via"), Mapping) else audit.get("via")
        if isinstance(via, Mapping) and via.get("channel") == "rule":
            continue
        if event.get("field_name") in ROUTING_FIELDS:
            changed.append(str(event["field_name"]))
    return changed


def is_persons(author: Any, *, requester_id: Any, agent: str | None, people: Mapping[int, Mapping[str, Any]]) -> bool:
    """Whether ``author`` is a person of the support team: not Zendesk itself, the requester or deskroute."""
    return author not in (None, -1, requester_id) and person(author, people) != agent


def change_author(
    audits: Iterable[Mapping[str, Any]],
    *,
    requester_id: Any,
    agent: str | None,
    people: Mapping[int, Mapping[str, Any]],
) -> Any:
    """Who made the ticket's latest change, as deskroute must see it: the latest audit's author, except that a
    person's re-routing is not hidden by deskroute's own writes after it (a note or tags written after an agent
    moved the ticket must not make the move look like deskroute's)."""
    ordered = _ordered(audits)
    if not ordered:
        return None
    latest = ordered[-1].get("author_id")
    if person(latest, people) != agent:
        return latest
    for audit in reversed(ordered):
        if "group_id" in routing_changes(audit) or "assignee_id" in routing_changes(audit):
            author = audit.get("author_id")
            return author if is_persons(author, requester_id=requester_id, agent=agent, people=people) else latest
    return latest


def ticket_from(
    item: Mapping[str, Any],
    *,
    source: str,
    people: Mapping[int, Mapping[str, Any]],
    groups: Mapping[int, str],
    organizations: Mapping[int, str],
    vocabulary: Vocabulary,
    updated_by: Any,
    band_field_id: int | None = None,
) -> Ticket:
    """A ticket as a canonical record; RecordError names the ticket and field when it does not validate."""
    ticket_id = item["id"]
    custom: dict[str, Any] = {}
    for entry in item.get("custom_fields") or []:
        if entry.get("value") not in (None, "", []):
            custom[str(entry["id"])] = entry["value"]
    if band_field_id is not None and str(band_field_id) in custom:
        custom["deskroute_band"] = custom[str(band_field_id)]
    custom["zendesk_status"] = item.get("status")
    if item.get("type"):
        custom["zendesk_type"] = item.get("type")
    group_id = item.get("group_id")
    org_id = item.get("organization_id")
    via = item.get("via") or {}
    status = STATUSES.get(str(item.get("status") or "new"), "open")
    raw = {
        k: v
        for k, v in item.items()
        if k
        in (
            "id",
            "status",
            "priority",
            "group_id",
            "assignee_id",
            "requester_id",
            "organization_id",
            "tags",
            "via",
            "updated_at",
            "type",
            "external_id",
        )
    }
    return Ticket.parse(
        {
            "source": source,
            "external_id": str(ticket_id),
            "subject": item.get("subject") or item.get("raw_subject") or "",
            "body": item.get("description") or "",
            "requester": person(item.get("requester_id"), people),
            "organization": organizations.get(org_id) if isinstance(org_id, int) else None,
            "channel": via.get("channel") if isinstance(via.get("channel"), str) else None,
            "status": status,
            "priority": vocabulary.canonical_priority(item.get("priority")),
            "priority_raw": item.get("priority"),
            "queue": vocabulary.canonical_queue(groups.get(group_id) if isinstance(group_id, int) else None),
            "assignee": person(item.get("assignee_id"), people),
            "tags": list(item.get("tags") or []),
            "custom_fields": custom,
            "created_at": parse_time(item.get("created_at")),
            "updated_at": parse_time(item.get("updated_at")),
            "updated_by": person(updated_by, people),
            "raw": raw,
        },
        where=f"Zendesk ticket {ticket_id}",
    )


def rating_from(item: Mapping[str, Any], *, source: str) -> SatisfactionRating | None:
    """A received satisfaction rating (``good``/``bad``); offered and unoffered ones are not ratings yet."""
    score = item.get("score")
    if score not in ("good", "bad"):
        return None
    return SatisfactionRating.parse(
        {
            "source": source,
            "external_id": str(item["id"]),
            "ticket_external_id": str(item["ticket_id"]) if item.get("ticket_id") else None,
            "customer_external_id": str(item["requester_id"]),
            "rating": score,
            "comment": item.get("comment") or None,
            "created_at": parse_time(item.get("created_at")),
        },
        where=f"Zendesk satisfaction rating {item['id']}",
    )
