"""Loading a customer's history (``connectors.CustomerHistory``) from the store, as the behaviour features see it.

The loaders only return what happened up to a time; the feature function filters again, so a loader bug can
never leak the future into a prediction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from connectors import BehaviorEvent, Comment, Customer, CustomerHistory, SatisfactionRating, Ticket
from connectors.records import as_utc
from router.behaviour.identity import IdentityLinks, linked_events
from router.store import (
    BehaviorEventRow,
    CommentRow,
    CustomerRow,
    SatisfactionRatingRow,
    TicketRow,
    to_record,
)


def _requester_keys(customer: Customer | None, external_id: str) -> list[str]:
    # Tickets name their requester by the customer's id or e-mail address, depending on the helpdesk.
    keys = [external_id]
    if customer is not None and customer.email:
        keys.append(customer.email)
    return keys


def load_history(
    session: Session, source: str, customer_external_id: str, until: datetime, links: IdentityLinks | None = None
) -> CustomerHistory:
    """One customer's history from the store, with nothing after ``until``.

    With ``links``, the product events of the same person (by e-mail or the linking attribute) are part of it.
    """
    until = as_utc(until)
    row = session.exec(
        select(CustomerRow).where(CustomerRow.source == source, CustomerRow.external_id == customer_external_id)
    ).first()
    customer: Customer | None = to_record(row) if row is not None else None
    keys = _requester_keys(customer, customer_external_id)
    tickets = [
        to_record(t)
        for t in session.exec(
            select(TicketRow).where(
                TicketRow.source == source,
                col(TicketRow.requester).in_(keys),
                col(TicketRow.created_at) <= until,
            )
        ).all()
    ]
    ticket_ids = [t.external_id for t in tickets]
    comments = (
        [
            to_record(c)
            for c in session.exec(
                select(CommentRow).where(
                    CommentRow.source == source,
                    col(CommentRow.ticket_external_id).in_(ticket_ids),
                    col(CommentRow.created_at) <= until,
                )
            ).all()
        ]
        if ticket_ids
        else []
    )
    ratings = [
        to_record(r)
        for r in session.exec(
            select(SatisfactionRatingRow).where(
                SatisfactionRatingRow.source == source,
                SatisfactionRatingRow.customer_external_id == customer_external_id,
                col(SatisfactionRatingRow.created_at) <= until,
            )
        ).all()
    ]
    events = [
        to_record(e)
        for e in session.exec(
            select(BehaviorEventRow).where(
                BehaviorEventRow.source == source,
                BehaviorEventRow.customer_external_id == customer_external_id,
                col(BehaviorEventRow.occurred_at) <= until,
            )
        ).all()
    ]
    if links is not None:
        known = {(e.source, e.external_id) for e in events}
        linked = linked_events(session, links, source, [customer] if customer else [], customer_external_id, until)
        events += [e for e in linked if (e.source, e.external_id) not in known]
    return CustomerHistory(customer, tuple(tickets), tuple(comments), tuple(ratings), tuple(events))


def load_histories(
    session: Session,
    source: str,
    until: datetime | None = None,
    customers: Iterable[str] | None = None,
    links: IdentityLinks | None = None,
) -> dict[str, CustomerHistory]:
    """Every customer's history in one pass (for training), keyed by customer id; ``until`` bounds it.

    Customers are those with a customer record, an event or a rating; ``customers`` narrows the set. With
    ``links``, each customer's history also holds the product events of the same person, as at prediction time.
    """
    cut = as_utc(until) if until is not None else None
    wanted = set(customers) if customers is not None else None

    def keep(key: str) -> bool:
        return wanted is None or key in wanted

    def before(query, column):  # type: ignore[no-untyped-def]
        return query.where(column <= cut) if cut is not None else query

    records: dict[str, Customer] = {}
    for row in session.exec(select(CustomerRow).where(CustomerRow.source == source)).all():
        if keep(row.external_id):
            records[row.external_id] = to_record(row)
    events: dict[str, list[BehaviorEvent]] = defaultdict(list)
    event_query = before(
        select(BehaviorEventRow).where(BehaviorEventRow.source == source), BehaviorEventRow.occurred_at
    )
    for row in session.exec(event_query).all():
        if keep(row.customer_external_id):
            events[row.customer_external_id].append(to_record(row))
    ratings: dict[str, list[SatisfactionRating]] = defaultdict(list)
    rating_query = before(
        select(SatisfactionRatingRow).where(SatisfactionRatingRow.source == source), SatisfactionRatingRow.created_at
    )
    for row in session.exec(rating_query).all():
        if keep(row.customer_external_id):
            ratings[row.customer_external_id].append(to_record(row))

    ids = set(records) | set(events) | set(ratings)
    # Map every requester key (id or e-mail) to its customer id.
    owner = {cid: cid for cid in ids}
    for cid, customer in records.items():
        if customer.email:
            owner.setdefault(customer.email, cid)
    tickets: dict[str, list[Ticket]] = defaultdict(list)
    ticket_owner: dict[str, str] = {}
    ticket_query = before(select(TicketRow).where(TicketRow.source == source), TicketRow.created_at)
    for row in session.exec(ticket_query).all():
        requester_of = owner.get(row.requester or "")
        if requester_of is not None:
            tickets[requester_of].append(to_record(row))
            ticket_owner[row.external_id] = requester_of
    comments: dict[str, list[Comment]] = defaultdict(list)
    comment_query = before(select(CommentRow).where(CommentRow.source == source), CommentRow.created_at)
    for row in session.exec(comment_query).all():
        commenter = ticket_owner.get(row.ticket_external_id)
        if commenter is not None:
            comments[commenter].append(to_record(row))
    if links is not None:
        # The same person's product events, found as load_history finds them for a prediction: a model trained
        # without them would meet features at prediction time it never saw in training.
        latest = cut if cut is not None else datetime.max.replace(tzinfo=UTC)
        for cid, customer in records.items():
            known = {(e.source, e.external_id) for e in events[cid]}
            linked = linked_events(session, links, source, [customer], cid, latest)
            events[cid].extend(e for e in linked if (e.source, e.external_id) not in known)
    return {
        cid: CustomerHistory(
            records.get(cid), tuple(tickets[cid]), tuple(comments[cid]), tuple(ratings[cid]), tuple(events[cid])
        )
        for cid in sorted(ids)
    }


def ticket_writer(session: Session, ticket: Ticket) -> Customer | None:
    """The stored customer who wrote ``ticket``: its requester by customer id or e-mail, in the same source."""
    if not ticket.requester:
        return None
    row = session.exec(
        select(CustomerRow).where(
            CustomerRow.source == ticket.source,
            or_(col(CustomerRow.external_id) == ticket.requester, col(CustomerRow.email) == ticket.requester),
        )
    ).first()
    return to_record(row) if row is not None else None


def writer_history(
    session: Session, ticket: Ticket, customer: Customer | None, until: datetime, links: IdentityLinks | None = None
) -> CustomerHistory:
    """The history of whoever wrote ``ticket`` (the stored customer, else its requester key) up to ``until``.

    Empty for a ticket with no requester: nothing is known about its writer.
    """
    writer = customer.external_id if customer is not None else ticket.requester
    if not writer:
        return CustomerHistory()
    return load_history(session, customer.source if customer is not None else ticket.source, writer, until, links)
