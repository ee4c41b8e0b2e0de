"""Fixtures for behaviour tests: a small synthetic world and helpers to build records by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors import BehaviorEvent, Comment, SatisfactionRating, Ticket
from evals.synthetic import SyntheticWorld, generate_world

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def ticket(tid: str, days_before: float, *, requester: str = "c1", **extra: Any) -> Ticket:
    created = AT - timedelta(days=days_before)
    data: dict[str, Any] = {
        "source": "t",
        "external_id": tid,
        "subject": "s",
        "body": "b",
        "requester": requester,
        "created_at": created,
        "updated_at": created + timedelta(hours=1),
    }
    data.update(extra)
    return Ticket.model_validate(data)


def event(eid: str, kind: str, days_before: float, customer: str = "c1") -> BehaviorEvent:
    return BehaviorEvent(
        source="t",
        external_id=eid,
        customer_external_id=customer,
        kind=kind,
        occurred_at=AT - timedelta(days=days_before),
    )


def rating(
    rid: str, value: str, days_before: float, score: float | None = None, customer: str = "c1"
) -> SatisfactionRating:
    return SatisfactionRating(
        source="t",
        external_id=rid,
        customer_external_id=customer,
        rating=value,
        score=score,
        created_at=AT - timedelta(days=days_before),
    )


def comment(cid: str, tid: str, days_before: float, from_customer: bool = True) -> Comment:
    return Comment(
        source="t",
        external_id=cid,
        ticket_external_id=tid,
        author_is_customer=from_customer,
        body="any update?",
        created_at=AT - timedelta(days=days_before),
    )


@pytest.fixture(scope="session")
def small_world() -> SyntheticWorld:
    """150 customers over 240 days (seeded): enough churn to learn from, quick to build."""
    return generate_world(150, 240, seed=7)
