"""The canonical records: normalisation and errors that name the record and field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors import Action, RecordError, Ticket, normalise_priority


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
