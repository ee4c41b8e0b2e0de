"""The decision log: what deskroute decided for each ticket version, its outbox rows, and people's corrections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from connectors import Action
from router.store.tables import DecisionRow, FeedbackRow, OutboxRow

# Outreach counts against caps and cool-downs from the moment it is queued, not only once applied.
OUTREACH_COUNTED_STATES = ("pending", "applying", "applied", "failed")


def decision_for_version(session: Session, source: str, ticket_id: str, version: str) -> DecisionRow | None:
    return session.exec(
        select(DecisionRow).where(
            DecisionRow.source == source,
            DecisionRow.ticket_external_id == ticket_id,
            DecisionRow.ticket_version == version,
        )
    ).first()


def decisions_for_ticket(session: Session, source: str | None, ticket_id: str) -> list[DecisionRow]:
    """Every decision for a ticket, oldest first."""
    query = select(DecisionRow).where(DecisionRow.ticket_external_id == ticket_id)
    if source:
        query = query.where(DecisionRow.source == source)
    return list(session.exec(query.order_by(col(DecisionRow.id))).all())


def latest_decision(session: Session, source: str, ticket_id: str) -> DecisionRow | None:
    rows = decisions_for_ticket(session, source, ticket_id)
    return rows[-1] if rows else None


def outbox_for_decision(session: Session, decision_id: int) -> list[OutboxRow]:
    return list(session.exec(select(OutboxRow).where(OutboxRow.decision_id == decision_id)).all())


def corrections(session: Session, source: str, ticket_id: str) -> list[FeedbackRow]:
    return list(
        session.exec(
            select(FeedbackRow).where(FeedbackRow.source == source, FeedbackRow.ticket_external_id == ticket_id)
        ).all()
    )


def record_correction(
    session: Session,
    decision: DecisionRow,
    *,
    field: str,
    predicted: str | None,
    corrected: str | None,
    corrected_by: str | None,
    now: datetime,
) -> FeedbackRow:
    """A person changed what deskroute decided: keep the label it should have given."""
    row = FeedbackRow(
        source=decision.source,
        ticket_external_id=decision.ticket_external_id,
        decision_id=decision.id,
        field=field,
        predicted=predicted,
        corrected=corrected,
        corrected_by=corrected_by,
        recorded_at=now,
    )
    session.add(row)
    return row


# Outbox states whose action has not (knowingly) reached the helpdesk.
UNAPPLIED_STATES = ("pending", "applying", "failed", "dead")


def withdraw_ticket_writes(session: Session, source: str, ticket_id: str, reason: str) -> int:
    """A person took the ticket over: deskroute's writes to it that are still waiting are dropped, visibly.

    Without this, a write queued before the person's change (while paused, or waiting for a retry) would be
    applied after it and undo their routing. Outreach goes to the customer, not the ticket, and stays.
    """
    rows = session.exec(
        select(OutboxRow)
        .join(DecisionRow, col(DecisionRow.id) == col(OutboxRow.decision_id))
        .where(
            DecisionRow.source == source,
            DecisionRow.ticket_external_id == ticket_id,
            col(OutboxRow.state).in_(UNAPPLIED_STATES),
            OutboxRow.kind != "create_outreach",
        )
    ).all()
    for row in rows:
        row.state = "skipped"
        row.result = {"status": "skipped", "detail": reason}
        session.add(row)
    return len(rows)


def outreach_times(session: Session, source: str, customer_id: str) -> list[datetime]:
    """When outreach to this customer was queued, for cool-downs and daily caps."""
    rows = session.exec(
        select(OutboxRow.created_at).where(
            OutboxRow.source == source,
            OutboxRow.kind == "create_outreach",
            OutboxRow.target == customer_id,
            col(OutboxRow.state).in_(OUTREACH_COUNTED_STATES),
        )
    ).all()
    return sorted(rows)


@dataclass(frozen=True)
class DecisionRecord:
    """Everything to persist for one decision; written with its outbox rows in one transaction."""

    source: str
    ticket_id: str
    ticket_version: str
    reason: str
    mode: str
    policy_version: str
    model_versions: dict[str, str]
    signals: dict[str, Any]
    decision: dict[str, Any]
    abstained: bool
    queue: str | None
    team: str | None
    priority: str | None
    ticket_queue: str | None
    actions: list[Action]


def save_decision(session: Session, record: DecisionRecord, now: datetime | None = None) -> DecisionRow | None:
    """Add the decision and its outbox rows to the session; the caller commits them together.

    None when this ticket version already has a decision (another process made it first): the insert backs
    off on the unique version (ON CONFLICT DO NOTHING) instead of failing the caller's transaction.
    """
    when = now or datetime.now(UTC)
    values: dict[str, Any] = dict(
        source=record.source,
        ticket_external_id=record.ticket_id,
        ticket_version=record.ticket_version,
        decided_at=when,
        reason=record.reason,
        mode=record.mode,
        policy_version=record.policy_version,
        model_versions=record.model_versions,
        signals=record.signals,
        decision=record.decision,
        abstained=record.abstained,
        queue=record.queue,
        team=record.team,
        priority=record.priority,
        ticket_queue=record.ticket_queue,
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(DecisionRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source", "ticket_external_id", "ticket_version"])
        .returning(col(DecisionRow.id))
    )
    decision_id = session.execute(stmt).scalar()
    if decision_id is None:
        return None
    row = DecisionRow(id=decision_id, **values)
    for action in record.actions:
        session.add(
            OutboxRow(
                decision_id=decision_id,
                source=record.source,
                idempotency_key=action.idempotency_key,
                kind=action.kind,
                target=action.target,
                action=action.model_dump(mode="json"),
                created_at=when,
                next_attempt_at=when,
            )
        )
    return row
