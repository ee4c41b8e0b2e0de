"""What is stored, summarised: counts per source, queue, priority and language."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from router.store.quarantine import quarantine_summary
from router.store.record_store import count
from router.store.tables import (
    BehaviorEventRow,
    CommentRow,
    CustomerRow,
    SatisfactionRatingRow,
    TicketRow,
)


def _group(session: Session, column: Any) -> dict[str, int]:
    rows = session.exec(select(column, sa.func.count()).group_by(column).order_by(sa.func.count().desc()))
    return {(key if key is not None else "(none)"): int(n) for key, n in rows}


def store_stats(session: Session) -> dict[str, Any]:
    """Row counts per table, ticket counts per source, queue, priority and language, and the quarantine."""
    return {
        "counts": {
            "tickets": count(session, TicketRow),
            "comments": count(session, CommentRow),
            "customers": count(session, CustomerRow),
            "events": count(session, BehaviorEventRow),
            "satisfaction_ratings": count(session, SatisfactionRatingRow),
        },
        "tickets_by_source": _group(session, TicketRow.source),
        "tickets_by_queue": _group(session, TicketRow.queue),
        "tickets_by_priority": _group(session, TicketRow.priority),
        "tickets_by_language": _group(session, TicketRow.language),
        "quarantine": quarantine_summary(session),
    }
