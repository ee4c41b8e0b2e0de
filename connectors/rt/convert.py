"""RT's REST 2 JSON as canonical records: tickets with their messages, comments, requestors as customers."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.records import Comment, Customer, Ticket
from connectors.rt.cursor import parse_time
from connectors.rt.vocabulary import PriorityScale, Vocabulary

_NOBODY = {"nobody", ""}
_TAG_RE = re.compile(r"<[^>]+>")


def name_of(ref: Any) -> str | None:
    """A user or queue reference's name (the expanded ``Name``, else its ``id``)."""
    if isinstance(ref, Mapping):
        value = ref.get("Name") or ref.get("id")
        return str(value) if value not in (None, "") else None
    return str(ref) if ref not in (None, "") else None


def html_text(content: str) -> str:
    """Readable text from an HTML message part."""
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\n", content)
    return html.unescape(_TAG_RE.sub("", text)).strip()


def queue_id_of(item: Mapping[str, Any]) -> str | None:
    ref = item.get("Queue")
    return str(ref["id"]) if isinstance(ref, Mapping) and ref.get("id") else None


def customer_from(person: Any, source: str) -> Customer | None:
    """A requestor reference (expanded with EmailAddress, RealName, Organization) as a customer.

    Raises RecordError naming the requestor and field when RT's data does not validate.
    """
    if not isinstance(person, Mapping):
        return None
    email = person.get("EmailAddress") or None
    key = email or name_of(person)
    if not key:
        return None
    return Customer.parse(
        {
            "source": source,
            "external_id": str(key),
            "email": str(email) if email else None,
            "name": str(person["RealName"]) if person.get("RealName") else None,
            "organization": str(person["Organization"]) if person.get("Organization") else None,
        },
        where=f"RT requestor {str(key)[:80]!r}",
    )


def message_texts(attachments: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each transaction's text: its first plain-text part, else its first HTML part as text."""
    plain: dict[str, str] = {}
    rich: dict[str, str] = {}
    for attachment in attachments:
        txn = str(attachment.get("TransactionId"))
        content = attachment.get("Content")
        if not isinstance(content, str) or not content.strip():
            continue
        if attachment.get("ContentType") == "text/html":
            rich.setdefault(txn, html_text(content))
        else:
            plain.setdefault(txn, content.strip())
    return {**rich, **plain}


def ticket_from(
    item: Mapping[str, Any],
    *,
    texts: Mapping[str, str],
    messages: Iterable[Mapping[str, Any]],
    source: str,
    vocabulary: Vocabulary,
    scale: PriorityScale,
    tags_field: str,
) -> tuple[Ticket, list[Comment]]:
    """A ticket listing item, its messages (Create/Correspond/Comment) and their texts, as canonical records.

    Raises RecordError naming the ticket and field when RT's data does not validate.
    """
    ticket_id = str(item.get("id"))
    requestors = [p for p in item.get("Requestor") or [] if isinstance(p, Mapping)]
    requester_ids = {str(v).lower() for p in requestors for v in (p.get("EmailAddress"), name_of(p)) if v}
    body = ""
    comments: list[Comment] = []
    for message in messages:
        txn_id = str(message.get("id"))
        if message.get("Type") == "Create":
            body = body or texts.get(txn_id, "")
            continue
        created = parse_time(message.get("Created"))
        if created is None:
            continue
        author = name_of(message.get("Creator"))
        comments.append(
            Comment.parse(
                {
                    "source": source,
                    "external_id": txn_id,
                    "ticket_external_id": ticket_id,
                    "author": author,
                    "author_is_customer": bool(author and author.lower() in requester_ids),
                    "public": message.get("Type") == "Correspond",
                    "body": texts.get(txn_id, ""),
                    "created_at": created,
                },
                where=f"RT ticket {ticket_id} transaction {txn_id}",
            )
        )
    raw_priority = str(item.get("Priority", "")).strip()
    number = int(raw_priority) if raw_priority.lstrip("-").isdigit() else None
    owner = name_of(item.get("Owner"))
    tags: list[str] = []
    custom: dict[str, Any] = {}
    for cf in item.get("CustomFields") or []:
        if not isinstance(cf, Mapping):
            continue
        values = [str(v) for v in cf.get("values") or [] if v not in (None, "")]
        if cf.get("name") == tags_field:
            tags = values
        elif values:
            custom[str(cf.get("name"))] = values if len(values) > 1 else values[0]
    custom["rt_status"] = item.get("Status")
    requester = next(
        (str(p.get("EmailAddress") or name_of(p)) for p in requestors if p.get("EmailAddress") or name_of(p)), None
    )
    ticket = Ticket.parse(
        {
            "source": source,
            "external_id": ticket_id,
            "subject": str(item.get("Subject") or ""),
            "body": body,
            "requester": requester,
            "organization": next((str(p["Organization"]) for p in requestors if p.get("Organization")), None),
            "status": vocabulary.canonical_status(item.get("Status")),
            "priority": vocabulary.canonical_priority(number, scale),
            "priority_raw": raw_priority or None,
            "queue": vocabulary.canonical_queue(name_of(item.get("Queue"))),
            "assignee": None if (owner or "").lower() in _NOBODY else owner,
            "tags": tags,
            "custom_fields": custom,
            "created_at": parse_time(item.get("Created")) or parse_time(item.get("LastUpdated")),
            "updated_at": parse_time(item.get("LastUpdated")),
            "updated_by": name_of(item.get("LastUpdatedBy")),
            "raw": {k: v for k, v in item.items() if k not in ("_url", "CustomFields")},
        },
        where=f"RT ticket {ticket_id}",
    )
    return ticket, comments
