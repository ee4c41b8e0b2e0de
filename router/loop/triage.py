"""Triage: which stored tickets need a decision, and which changes were a person's correction.

- finished tickets (solved, closed, deleted, merged, spam) never do;
- a ticket version (update time and routed state) already decided does not (the same update seen twice gives
  one decision);
- a change made by deskroute itself (the change's author is the connector's agent user) does not;
- once a person has re-routed a ticket after our decision, deskroute records the correction and leaves the
  ticket alone for good;
- a new ticket does; so does a customer's reply on a ticket no person re-routed, but then only urgency,
  tags and notes may change: the queue stays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors import Customer, Ticket
from router.store import to_record
from router.store.decision_log import (
    corrections,
    decision_for_version,
    latest_decision,
    outbox_for_decision,
    record_correction,
    withdraw_ticket_writes,
)
from router.store.tables import CustomerRow, DecisionRow, TicketRow

Outcome = Literal[
    "decided_new",
    "decided_reply",
    "skipped_finished",
    "skipped_seen",
    "skipped_own_change",
    "skipped_person_owns",
    "skipped_other_change",
    "correction",
]


def ticket_version(ticket: Ticket) -> str:
    """The update time plus a digest of the state a person could change.

    Helpdesk clocks count whole seconds (RT's ``LastUpdated``), so a person's re-routing in the same second as
    the version deskroute decided on would otherwise look like that version seen again, and the writes still
    queued for the ticket would undo the person's change.
    """
    state = [
        ticket.status,
        ticket.priority,
        ticket.priority_raw,
        ticket.queue,
        ticket.assignee,
        sorted(ticket.tags),
        ticket.updated_by,
        ticket.subject,
        ticket.body,
    ]
    digest = hashlib.sha256(json.dumps(state, ensure_ascii=False).encode()).hexdigest()[:12]
    return f"{ticket.updated_at.astimezone(UTC).isoformat()}#{digest}"


def find_customer(session: Session, ticket: Ticket) -> Customer | None:
    """The ticket's requester as a stored customer, by external id or e-mail within the same source."""
    if not ticket.requester:
        return None
    row = session.exec(
        select(CustomerRow).where(
            CustomerRow.source == ticket.source,
            sa.or_(col(CustomerRow.external_id) == ticket.requester, col(CustomerRow.email) == ticket.requester),
        )
    ).first()
    return to_record(row) if row else None


def _is_customer(ticket: Ticket, customer: Customer | None, who: str | None) -> bool:
    if not who:
        return False
    names = [ticket.requester] + ([customer.email, customer.external_id] if customer else [])
    return who.lower() in {n.lower() for n in names if n}


def _routed_by_us(session: Session, prior: DecisionRow) -> bool:
    assert prior.id is not None
    return any(r.kind == "route" and r.state == "applied" for r in outbox_for_decision(session, prior.id))


def triage(
    session: Session, ticket: Ticket, customer: Customer | None, now: datetime, *, agent_user: str | None = None
) -> tuple[Outcome, DecisionRow | None]:
    """Whether (and why) this ticket version needs a decision; records a person's correction.

    ``agent_user`` is the helpdesk user deskroute writes as: its changes are deskroute's own."""
    if ticket.finished:
        return "skipped_finished", None
    if decision_for_version(session, ticket.source, ticket.external_id, ticket_version(ticket)):
        return "skipped_seen", None
    if agent_user and ticket.updated_by and ticket.updated_by.lower() == agent_user.lower():
        return "skipped_own_change", None
    prior = latest_decision(session, ticket.source, ticket.external_id)
    if prior is None:
        return "decided_new", None
    if corrections(session, ticket.source, ticket.external_id):
        return "skipped_person_owns", prior
    # The queue we left the ticket in: ours if we routed it, else where it was when we decided.
    expected = prior.queue if _routed_by_us(session, prior) else prior.ticket_queue
    if ticket.queue != expected and not _is_customer(ticket, customer, ticket.updated_by):
        if ticket.queue != prior.queue:
            record_correction(
                session,
                prior,
                field="queue",
                predicted=prior.queue,
                corrected=ticket.queue,
                corrected_by=ticket.updated_by,
                now=now,
            )
            _hand_over(session, ticket)
            return "correction", prior
        # A person moved it where we suggested: agreement, and from now on it is theirs.
        record_correction(
            session,
            prior,
            field="queue_confirmed",
            predicted=prior.queue,
            corrected=ticket.queue,
            corrected_by=ticket.updated_by,
            now=now,
        )
        _hand_over(session, ticket)
        return "skipped_person_owns", prior
    if _is_customer(ticket, customer, ticket.updated_by):
        return "decided_reply", prior
    return "skipped_other_change", prior


def _hand_over(session: Session, ticket: Ticket) -> None:
    # The ticket is the person's now: writes still queued for it must not undo their routing.
    who = ticket.updated_by or "a person"
    withdraw_ticket_writes(session, ticket.source, ticket.external_id, f"withdrawn: {who} routed the ticket by hand")


def needs_signals(session: Session, tickets: Iterable[Ticket]) -> list[Ticket]:
    """The tickets whose current version has no decision yet: the only ones worth encoding ahead."""
    return [
        t
        for t in tickets
        if not t.finished and decision_for_version(session, t.source, t.external_id, ticket_version(t)) is None
    ]


def open_tickets(session: Session, source: str) -> list[Ticket]:
    """The connector's stored tickets that could still need a decision, oldest change first."""
    from connectors import FINISHED_STATUSES

    rows = session.exec(
        select(TicketRow)
        .where(TicketRow.source == source, sa.not_(TicketRow.status.in_(FINISHED_STATUSES)))  # type: ignore[attr-defined]
        .order_by(TicketRow.updated_at)  # type: ignore[arg-type]
    ).all()
    return [to_record(r) for r in rows]


def claim_pending(session: Session, source: str, limit: int) -> list[TicketRow]:
    """Up to ``limit`` of the connector's tickets waiting for triage, oldest change first, locked until the
    session's transaction ends; rows another transaction holds are skipped, not waited for (SKIP LOCKED).

    On SQLite (one process) there are no row locks and the clause is left out: the same claims, one at a time.
    """
    query = (
        select(TicketRow)
        .where(TicketRow.source == source, col(TicketRow.triage_pending))
        .order_by(col(TicketRow.updated_at), col(TicketRow.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(query).all())


def mark_triaged(session: Session, ids: list[int]) -> None:
    """These ticket rows' current versions have been triaged; a later insert or update sets them waiting again."""
    if ids:
        session.execute(sa.update(TicketRow).where(col(TicketRow.id).in_(ids)).values(triage_pending=False))
