"""Verified webhook deliveries, kept durably until the loop has synced what they hint at.

A delivery is stored once per (connector, delivery id): a sender that retries (it does, on any error or a lost
answer) finds its first copy and changes nothing. The insert is one statement, so a process killed at any point
has either stored the delivery (and answers the retry "already accepted") or not (and the retry stores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from connectors.webhooks import WebhookDelivery
from router.store.record_store import _insert_for
from router.store.tables import WebhookDeliveryRow


@dataclass(frozen=True)
class Accepted:
    """What storing a delivery did: ``new`` is False when the same delivery id was stored before."""

    id: int
    new: bool


def accept_delivery(
    session: Session, connector: str, delivery: WebhookDelivery, *, now: datetime | None = None
) -> Accepted:
    """Store a verified delivery (committed) unless its id is known; says which."""
    table = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
    inserted = session.execute(
        _insert_for(session)(table)
        .values(
            connector=connector,
            delivery_id=delivery.delivery_id,
            ticket_ids=list(delivery.ticket_ids),
            sent_at=delivery.sent_at,
            received_at=now or datetime.now(UTC),
            state="pending",
        )
        .on_conflict_do_nothing(index_elements=["connector", "delivery_id"])
        .returning(table.c.id)
    ).first()
    session.commit()
    if inserted is not None:
        return Accepted(int(inserted[0]), True)
    existing = session.exec(
        select(WebhookDeliveryRow.id).where(
            WebhookDeliveryRow.connector == connector, WebhookDeliveryRow.delivery_id == delivery.delivery_id
        )
    ).one()
    assert existing is not None
    return Accepted(int(existing), False)


def pending_deliveries(session: Session, connector: str | None = None) -> list[WebhookDeliveryRow]:
    """Deliveries not yet followed by a sync, oldest first."""
    query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.state == "pending")
    if connector is not None:
        query = query.where(WebhookDeliveryRow.connector == connector)
    return list(session.exec(query.order_by(col(WebhookDeliveryRow.id))).all())


def mark_done(session: Session, ids: list[int], *, now: datetime | None = None) -> None:
    """Deliveries whose tickets a finished sync has re-read (committed)."""
    if ids:
        session.execute(
            sa.update(WebhookDeliveryRow)
            .where(col(WebhookDeliveryRow.id).in_(ids))
            .values(state="done", processed_at=now or datetime.now(UTC))
        )
        session.commit()


def delivery_counts(session: Session) -> dict[tuple[str, str], int]:
    """Stored deliveries per (connector, state)."""
    rows = session.exec(
        select(WebhookDeliveryRow.connector, WebhookDeliveryRow.state, func.count()).group_by(
            WebhookDeliveryRow.connector, WebhookDeliveryRow.state
        )
    ).all()
    return {(c, s): int(n) for c, s, n in rows}
