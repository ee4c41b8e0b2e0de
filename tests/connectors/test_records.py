"""The canonical records: normalisation and errors that name the record and field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors import (
    Action,
    BehaviorEvent,
    Comment,
    Customer,
    RecordError,
    SatisfactionRating,
    Ticket,
    normalise_priority,
)
from router.store import TicketRow, to_record


def test_dataset_medium_priority_is_canonical_normal() -> None:
    assert normalise_priority("medium") == "normal"
    assert normalise_priority(" High ") == "high"
    assert normalise_priority("") is None
    assert normalise_priority("whenever") is None


def test_naive_timestamps_become_utc() -> None:
    t = Ticket(source="f", external_id="1", created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1))
    assert t.created_at.tzinfo == UTC


def test_validation_error_names_record_and_field() -> None:
    with pytest.raises(RecordError) as err:
        Ticket.parse(
            {
                "source": "f",
                "external_id": "9",
                "priority": "soon",
                "created_at": "x",
                "updated_at": "2026-01-01T00:00:00Z",
            },
            where="tickets.csv:7",
        )
    message = str(err.value)
    assert "tickets.csv:7 (Ticket)" in message
    assert "field 'priority'" in message and "field 'created_at'" in message


def test_action_checks_its_parameters_and_gets_a_stable_key() -> None:
    a = Action(kind="route", target="42", params={"queue": "Billing"})
    b = Action(kind="route", target="42", params={"queue": "Billing"})
    assert a.idempotency_key == b.idempotency_key and a.marker().endswith(a.idempotency_key)
    with pytest.raises(ValueError, match="needs parameter"):
        Action(kind="route", target="42")
    with pytest.raises(ValueError, match="priority must be one of"):
        Action(kind="set_priority", target="42", params={"priority": "medium"})


T = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("model", "data", "field", "words"),
    [
        (Comment, {"external_id": "c1", "ticket_external_id": "1", "body": "b" * 1_000_001}, "body", "1,000,001"),
        (Customer, {"external_id": "u1", "email": "e" * 256}, "email", "256 characters"),
        (
            Customer,
            {"external_id": "u1", "attributes": {"plan": [[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]}},
            "attributes",
            "16 levels",
        ),
        (
            BehaviorEvent,
            {"external_id": "e1", "customer_external_id": "u1", "kind": "login", "properties": {"x": float("inf")}},
            "properties",
            "not a JSON number",
        ),
        (
            SatisfactionRating,
            {"external_id": "r1", "customer_external_id": "u1", "rating": "good", "score": float("nan")},
            "score",
            "not a number",
        ),
        (Ticket, {"external_id": "1", "subject": "s" * 1_001, "updated_at": T}, "subject", "1,001 characters"),
        (Ticket, {"external_id": "1", "tags": ["t"] * 201, "updated_at": T}, "tags", "201 items"),
    ],
)
def test_every_record_kind_keeps_to_the_limits(model: Any, data: dict, field: str, words: str) -> None:
    data = {"source": "s", "created_at": T, "occurred_at": T, **data}
    data = {k: v for k, v in data.items() if k in model.model_fields}
    with pytest.raises(RecordError) as err:
        model.parse(data, where="here")
    assert err.value.field == field and words in str(err.value)


def test_stored_rows_read_back_whatever_todays_limits() -> None:
    # A row written before the limits existed (e.g. on SQLite) is still readable: limits judge what comes in.
    row = TicketRow(source="s", external_id="x" * 300, created_at=T, updated_at=datetime(1960, 1, 1, tzinfo=UTC))
    ticket = to_record(row)
    assert ticket.external_id == "x" * 300
    with pytest.raises(RecordError):
        Ticket.parse(ticket.model_dump(), where="again")
