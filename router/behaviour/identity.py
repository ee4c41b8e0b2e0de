"""One person across sources: a helpdesk customer and the product events posted about them.

Product events are keyed by the product's user id or an e-mail address; helpdesk customers by source and id.
They are the same person when the e-mail addresses match (case aside), when the helpdesk customer carries the
product's user id in a configured attribute (``identity_attribute``), or when an ``identify`` call tied a user id
to the helpdesk customer's e-mail. Resolution happens when a history is read, so events that match nobody yet
stay where they are (a provisional profile under the product's source) and count for the person from the
moment they first write in, with nothing to merge or rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from connectors import BehaviorEvent, Customer
from connectors.records import as_utc
from router.store import BehaviorEventRow, CustomerRow, to_record


@dataclass(frozen=True)
class IdentityLinks:
    """How product events find their person: the source they are stored under and the linking attribute."""

    events_source: str = "product"
    attribute: str | None = None


@dataclass(frozen=True)
class ResolvedPerson:
    """A person as every source knows them: helpdesk and product records, and the keys product events use."""

    customers: list[Customer] = field(default_factory=list)
    product_people: list[Customer] = field(default_factory=list)
    product_keys: list[str] = field(default_factory=list)


def _emails(customers: list[Customer], requester: str | None) -> set[str]:
    found = {c.email.lower() for c in customers if c.email}
    if requester and "@" in requester:
        found.add(requester.lower())
    return found


def product_keys(
    session: Session, links: IdentityLinks, customers: list[Customer], requester: str | None = None
) -> tuple[list[str], list[Customer]]:
    """The user ids and e-mails product events may be keyed by for these customers, and the product people."""
    emails = _emails(customers, requester)
    keys = set(emails)
    if links.attribute:
        for customer in customers:
            value = customer.attributes.get(links.attribute)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                keys.add(str(value).strip())
    people: list[Customer] = []
    if keys:
        rows = session.exec(
            select(CustomerRow).where(
                CustomerRow.source == links.events_source,
                or_(col(CustomerRow.external_id).in_(keys), func.lower(col(CustomerRow.email)).in_(emails or {""})),
            )
        ).all()
        people = [to_record(r) for r in rows]
        for person in people:
            keys.add(person.external_id)
            if person.email:
                keys.add(person.email.lower())
    if emails:
        # A track call that names both a user id and an e-mail is keyed by the user id and keeps the e-mail in its
        # properties: that is a link too, even before any identify call ties the two.
        email_property = func.lower(BehaviorEventRow.properties["email"].as_string())
        keys.update(
            session.exec(
                select(BehaviorEventRow.customer_external_id)
                .where(BehaviorEventRow.source == links.events_source, email_property.in_(sorted(emails)))
                .distinct()
            ).all()
        )
    return sorted(keys), people


def linked_events(
    session: Session,
    links: IdentityLinks,
    source: str,
    customers: list[Customer],
    requester: str | None,
    until: datetime,
) -> list[BehaviorEvent]:
    """Product events of the person behind ``customers`` (of ``source``) up to ``until``; none for the same source."""
    if source == links.events_source:
        return []
    keys, _ = product_keys(session, links, customers, requester)
    if not keys:
        return []
    rows = session.exec(
        select(BehaviorEventRow).where(
            BehaviorEventRow.source == links.events_source,
            col(BehaviorEventRow.customer_external_id).in_(keys),
            col(BehaviorEventRow.occurred_at) <= as_utc(until),
        )
    ).all()
    return [to_record(r) for r in rows]


def resolve_person(session: Session, links: IdentityLinks, key: str) -> ResolvedPerson:
    """Everyone ``key`` (a helpdesk customer id, an e-mail or a product user id) names, across sources."""
    lowered = key.strip().lower()
    rows = session.exec(
        select(CustomerRow).where(
            CustomerRow.source != links.events_source,
            or_(col(CustomerRow.external_id) == key.strip(), func.lower(col(CustomerRow.email)) == lowered),
        )
    ).all()
    customers = [to_record(r) for r in rows]
    if not customers:
        # A product user id: the helpdesk customers with its e-mail, or carrying it in the linking attribute.
        people = session.exec(
            select(CustomerRow).where(
                CustomerRow.source == links.events_source,
                or_(col(CustomerRow.external_id) == key.strip(), func.lower(col(CustomerRow.email)) == lowered),
            )
        ).all()
        emails = {p.email.lower() for p in people if p.email}
        if emails:
            customers = [
                to_record(r)
                for r in session.exec(
                    select(CustomerRow).where(
                        CustomerRow.source != links.events_source, func.lower(col(CustomerRow.email)).in_(emails)
                    )
                ).all()
            ]
        if links.attribute:
            everyone = session.exec(select(CustomerRow).where(CustomerRow.source != links.events_source)).all()
            # Attributes are JSON, which SQLite and PostgreSQL query differently: compared here instead.
            known = {(c.source, c.external_id) for c in customers}
            customers += [
                to_record(r)
                for r in everyone
                if str(r.attributes.get(links.attribute, "")) == key.strip() and (r.source, r.external_id) not in known
            ]
    keys, people_found = product_keys(session, links, customers, key if "@" in key else None)
    if key.strip() not in keys and not customers:
        keys = sorted({*keys, key.strip()})
    return ResolvedPerson(customers, people_found, keys)
