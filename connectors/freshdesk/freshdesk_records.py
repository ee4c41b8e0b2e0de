"""Freshdesk's JSON as canonical records, and its numeric codes as deskroute's words.

Priorities and statuses are numbers in Freshdesk (priority 1-4; status 2-5 plus an account's own statuses).
Their names come from the instance's ticket fields (``GET /api/v2/ticket_fields``: the ``default_priority``
and ``default_status`` fields' choices), so an account's own statuses ("Waiting on Customer") are mapped by
name, and ``status_map`` (Freshdesk status name or code -> canonical status) decides where names alone do not.

People are named by e-mail address where Freshdesk gives one, else ``freshdesk-contact:ID`` /
``freshdesk-agent:ID``. A customer's ``external_id`` is the contact id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.records import (
    PRIORITIES,
    Comment,
    Customer,
    Priority,
    SatisfactionRating,
    Ticket,
    TicketStatus,
    as_utc,
    normalise_priority,
)

# Freshdesk's documented defaults, used until (or where) the instance's ticket fields say otherwise.
DEFAULT_PRIORITY_NAMES: dict[int, str] = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
DEFAULT_STATUS_NAMES: dict[int, str] = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
SOURCE_NAMES: dict[int, str] = {
    1: "email",
    2: "portal",
    3: "phone",
    7: "chat",
    9: "feedback_widget",
    10: "outbound_email",
}
_STATUS_WORDS: dict[str, TicketStatus] = {
    "open": "open",
    "pending": "pending",
    "resolved": "solved",
    "closed": "closed",
}
CANONICAL_STATUSES: tuple[TicketStatus, ...] = ("new", "open", "pending", "hold", "solved", "closed")
# Freshdesk's satisfaction scale: 103 (extremely happy) .. -103 (extremely unhappy); 100 is neutral.
HAPPY_FROM = 101
_TAG_SPACE = re.compile(r"\s+")


def parse_time(value: Any) -> datetime | None:
    """A Freshdesk time (ISO 8601, UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def freshdesk_tag(text: str) -> str:
    """A tag as deskroute writes it to Freshdesk: trimmed, inner white space as one dash."""
    return _TAG_SPACE.sub("-", text.strip())


class Codes:
    """Freshdesk's numeric priorities and statuses against deskroute's words, from the instance's fields."""

    def __init__(
        self,
        *,
        queue_map: Mapping[str, str] | None = None,
        priority_map: Mapping[str, str] | None = None,
        status_map: Mapping[str, str] | None = None,
    ):
        self.queue_map = dict(queue_map or {})
        self.priority_names = dict(DEFAULT_PRIORITY_NAMES)
        self.status_names = dict(DEFAULT_STATUS_NAMES)
        self.priority_map: dict[str, str] = {}
        for canonical, vendor in (priority_map or {}).items():
            if canonical not in PRIORITIES:
                raise ValueError(
                    f"priority_map key {canonical!r} is not a canonical priority ({', '.join(PRIORITIES)})"
                )
            self.priority_map[canonical] = str(vendor)
        self.status_map: dict[str, TicketStatus] = {}
        for vendor, canonical in (status_map or {}).items():
            if canonical not in CANONICAL_STATUSES:
                raise ValueError(
                    f"status_map.{vendor} = {canonical!r} is not a canonical status ({', '.join(CANONICAL_STATUSES)})"
                )
            self.status_map[str(vendor).strip().lower()] = canonical

    def learn(self, fields: list[dict[str, Any]]) -> None:
        """Read the names of the priority and status codes from ``GET /api/v2/ticket_fields``."""
        for item in fields:
            choices = item.get("choices")
            if item.get("type") == "default_priority" and isinstance(choices, Mapping):
                names = {v: str(k) for k, v in choices.items() if isinstance(v, int) and not isinstance(v, bool)}
                if names:
                    self.priority_names = names
            if item.get("type") == "default_status" and isinstance(choices, Mapping):
                statuses: dict[int, str] = {}
                for code, labels in choices.items():
                    label = labels[0] if isinstance(labels, list) and labels else labels
                    if str(code).isdigit() and isinstance(label, str):
                        statuses[int(code)] = label
                if statuses:
                    self.status_names = statuses

    # -- priorities -------------------------------------------------------------------------------------

    def priority_code(self, canonical: str) -> int:
        """The Freshdesk priority code for a canonical priority; ValueError when the instance has none."""
        wanted = self.priority_map.get(canonical)
        for code, name in self.priority_names.items():
            if wanted is not None and (name.lower() == wanted.lower() or str(code) == wanted):
                return code
        if wanted is None:
            for code, name in self.priority_names.items():
                if normalise_priority(name) == canonical:
                    return code
        raise ValueError(
            f"no Freshdesk priority for {canonical!r} (the instance has "
            f"{', '.join(f'{c} {n}' for c, n in sorted(self.priority_names.items()))}); set priority_map.{canonical}"
        )

    def canonical_priority(self, code: Any) -> Priority | None:
        name = self.priority_names.get(code) if isinstance(code, int) else None
        if name is None:
            return None
        for canonical, vendor in self.priority_map.items():
            if vendor.lower() in (name.lower(), str(code)):
                return canonical  # type: ignore[return-value]
        return normalise_priority(name)

    # -- statuses ---------------------------------------------------------------------------------------

    def status_name(self, code: Any) -> str:
        return self.status_names.get(code, str(code)) if isinstance(code, int) else str(code)

    def canonical_status(self, code: Any) -> TicketStatus:
        """A status code as a canonical status: ``status_map`` by name or code, then the default names; an
        account's own status no one mapped waits on someone, like Freshdesk's Pending."""
        name = self.status_name(code)
        for key in (name.strip().lower(), str(code)):
            if key in self.status_map:
                return self.status_map[key]
        return _STATUS_WORDS.get(name.strip().lower(), "pending")

    # -- queues -----------------------------------------------------------------------------------------

    def group_name(self, canonical: str) -> str:
        return self.queue_map.get(canonical, canonical)

    def canonical_queue(self, group: str | None) -> str | None:
        if group is None:
            return None
        for canonical, vendor in self.queue_map.items():
            if vendor == group:
                return canonical
        return group


def contact_name(contact_id: Any, contacts: Mapping[int, Mapping[str, Any]]) -> str | None:
    """How deskroute names a Freshdesk contact: the e-mail address, else ``freshdesk-contact:ID``."""
    if not isinstance(contact_id, int):
        return None
    email = (contacts.get(contact_id) or {}).get("email")
    return email.strip().lower() if isinstance(email, str) and email.strip() else f"freshdesk-contact:{contact_id}"


def agent_name(agent_id: Any, agents: Mapping[int, str]) -> str | None:
    """An agent by e-mail address (``agents``: id -> address), else ``freshdesk-agent:ID``."""
    if not isinstance(agent_id, int):
        return None
    return agents.get(agent_id) or f"freshdesk-agent:{agent_id}"


def customer_from(contact: Mapping[str, Any], source: str, companies: Mapping[int, str]) -> Customer:
    """A contact as a customer; RecordError when it does not validate."""
    email = contact.get("email")
    company = contact.get("company_id")
    attributes = {
        key: contact[key]
        for key in ("language", "time_zone", "tags", "custom_fields", "job_title")
        if contact.get(key) not in (None, [], {}, "")
    }
    return Customer.parse(
        {
            "source": source,
            "external_id": str(contact["id"]),
            "email": email.strip().lower() if isinstance(email, str) and email.strip() else None,
            "name": contact.get("name") or None,
            "organization": companies.get(company) if isinstance(company, int) else None,
            "attributes": attributes,
            "created_at": parse_time(contact.get("created_at")),
        },
        where=f"Freshdesk contact {contact['id']}",
    )


def comment_from(
    item: Mapping[str, Any],
    *,
    ticket_id: int,
    requester_id: Any,
    contacts: Mapping[int, Mapping[str, Any]],
    agents: Mapping[int, str],
    source: str,
) -> Comment:
    """A conversation: a customer's reply (``incoming``) or an agent's reply or note (``private``)."""
    user = item.get("user_id")
    from_customer = bool(item.get("incoming")) or (user == requester_id and user not in agents)
    author = contact_name(user, contacts) if from_customer else agent_name(user, agents)
    body = item.get("body_text") if isinstance(item.get("body_text"), str) else item.get("body")
    return Comment.parse(
        {
            "source": source,
            "external_id": str(item["id"]),
            "ticket_external_id": str(ticket_id),
            "author": author,
            "author_is_customer": from_customer,
            "public": not item.get("private", False),
            "body": body or "",
            "created_at": parse_time(item.get("created_at")),
        },
        where=f"Freshdesk ticket {ticket_id} conversation {item['id']}",
    )


def ticket_from(
    item: Mapping[str, Any],
    *,
    source: str,
    codes: Codes,
    contacts: Mapping[int, Mapping[str, Any]],
    agents: Mapping[int, str],
    groups: Mapping[int, str],
    companies: Mapping[int, str],
    updated_by: str | None,
) -> Ticket:
    """A ticket as a canonical record; RecordError names the ticket and field when it does not validate."""
    ticket_id = item["id"]
    group_id, company, channel = item.get("group_id"), item.get("company_id"), item.get("source")
    custom = {k: v for k, v in (item.get("custom_fields") or {}).items() if v not in (None, "", [])}
    custom["freshdesk_status"] = codes.status_name(item.get("status"))
    if item.get("type"):
        custom["freshdesk_type"] = item["type"]
    raw_keys = ("id", "status", "priority", "source", "group_id", "responder_id", "requester_id", "company_id")
    raw = {k: item.get(k) for k in (*raw_keys, "tags", "updated_at", "type")}
    body = item.get("description_text") if isinstance(item.get("description_text"), str) else item.get("description")
    return Ticket.parse(
        {
            "source": source,
            "external_id": str(ticket_id),
            "subject": item.get("subject") or "",
            "body": body or "",
            "requester": contact_name(item.get("requester_id"), contacts),
            "organization": companies.get(company) if isinstance(company, int) else None,
            "channel": SOURCE_NAMES.get(channel) if isinstance(channel, int) else None,
            "status": codes.canonical_status(item.get("status")),
            "priority": codes.canonical_priority(item.get("priority")),
            "priority_raw": str(item.get("priority")) if item.get("priority") is not None else None,
            "queue": codes.canonical_queue(groups.get(group_id) if isinstance(group_id, int) else None),
            "assignee": agent_name(item.get("responder_id"), agents),
            "tags": list(item.get("tags") or []),
            "custom_fields": custom,
            "created_at": parse_time(item.get("created_at")),
            "updated_at": parse_time(item.get("updated_at")),
            "updated_by": updated_by,
            "raw": raw,
        },
        where=f"Freshdesk ticket {ticket_id}",
    )


def rating_from(item: Mapping[str, Any], *, source: str) -> SatisfactionRating | None:
    """A satisfaction rating: its default question's answer, good from 101 (happy), bad from -101; a neutral
    (100) answer or a survey without the default question is not a good/bad rating."""
    ratings = item.get("ratings") or {}
    score = ratings.get("default_question") if isinstance(ratings, Mapping) else None
    if not isinstance(score, int) or isinstance(score, bool) or -HAPPY_FROM < score < HAPPY_FROM:
        return None
    return SatisfactionRating.parse(
        {
            "source": source,
            "external_id": str(item["id"]),
            "ticket_external_id": str(item["ticket_id"]) if item.get("ticket_id") else None,
            "customer_external_id": str(item["user_id"]),
            "rating": "good" if score > 0 else "bad",
            "score": float(score),
            "comment": item.get("feedback") or None,
            "created_at": parse_time(item.get("created_at")),
        },
        where=f"Freshdesk satisfaction rating {item['id']}",
    )
