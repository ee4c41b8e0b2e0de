"""The one reader of labelled tickets: as text for classifiers, as records for policy replay, from the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import Ticket
from policies import load_policy
from router.simulation import simulate
from router.store import Store, upsert
from router.training.labelled import AsRecords, DatasetError, read_labelled, tickets_from_store
from tests.conftest import REPO_ROOT

STARTER = load_policy(REPO_ROOT / "policies" / "examples" / "starter.yaml")
CSV = (
    "id,subject,body,priority,tags,Team\n"
    "1,Refund,I was charged twice,high,billing,Billing and Payments\n"
    "2,Login,Cannot log in,sky-high,,Technical Support\n"  # not a priority: not a valid ticket
    "3,Invoice,Need a copy,normal,,\n"  # no label
    "4,,,low,,General Inquiry\n"  # no text
)


@pytest.fixture
def tickets_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_as_text_rows_without_label_text_or_shape_of_a_ticket_are_skipped_and_counted(tickets_csv: Path) -> None:
    data = read_labelled([tickets_csv], label_column="team")
    assert data.labels == ["Billing and Payments", "Technical Support"]  # the text reader ignores priorities
    assert data.tickets == [("Refund", "I was charged twice"), ("Login", "Cannot log in")]
    assert data.records == []
    assert data.warnings() == [
        f"skipped 1 row(s): empty label 'team' (first at {tickets_csv}:4)",
        f"skipped 1 row(s): no text in subject, body (first at {tickets_csv}:5)",
    ]


def test_as_records_rows_become_tickets_and_unlabelled_ones_stay(tickets_csv: Path) -> None:
    data = read_labelled([tickets_csv], label_column="TEAM", records=AsRecords(source="replay"))
    assert [t.external_id for t in data.records] == ["1", "3", "4"]
    assert all(isinstance(t, Ticket) and t.source == "replay" for t in data.records)
    assert data.records[0].tags == ["billing"] and data.records[0].priority == "high"
    assert data.labels == ["Billing and Payments", None, "General Inquiry"]
    assert data.ids == ["1", "3", "4"]
    assert len(data.problems) == 1 and data.problems[0].startswith(f"{tickets_csv}:3: field 'priority'")
    assert data.warnings() == [
        f"skipped 1 row(s): not a valid ticket (first at {data.problems[0]})",
    ]


def test_a_missing_label_column_names_the_file_and_its_columns(tickets_csv: Path) -> None:
    for records in (None, AsRecords()):
        with pytest.raises(DatasetError, match=r"tickets.csv: no column 'queue'; the file has: id, subject, body"):
            read_labelled([tickets_csv], label_column="queue", records=records)


def test_policy_replay_reads_its_dataset_through_the_same_reader(tickets_csv: Path) -> None:
    report, results = simulate(STARTER, "starter", tickets_csv, label="team")
    assert report.n == 3 and [r.label for r in results] == ["Billing and Payments", None, "General Inquiry"]
    assert report.bad_rows == read_labelled([tickets_csv], label_column="team", records=AsRecords()).problems
    assert len(report.bad_rows) == 1 and f"{tickets_csv}:3" in report.bad_rows[0]


def test_from_the_store_final_queues_become_the_policys_teams(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    at = datetime(2026, 1, 5, tzinfo=UTC)

    def ticket(n: int, queue: str | None, subject: str = "Help") -> Ticket:
        return Ticket(
            source="rt", external_id=str(n), subject=subject, body="text", queue=queue, created_at=at, updated_at=at
        )

    with store.session() as session:
        upsert(session, [ticket(1, "Billing"), ticket(2, "Triage"), ticket(3, "Nobody's"), ticket(4, None)])
        session.commit()
    as_teams = tickets_from_store(store, "queue", source="rt", policy=STARTER)
    assert as_teams.labels == ["Billing and Payments"] and as_teams.ids == ["rt:1"]
    assert [t.external_id for t in as_teams.records] == ["1"]
    assert as_teams.skipped == {"queue is triage or not in the policy's queues": 2, "no value for 'queue'": 1}
    as_queues = tickets_from_store(store, "queue", source="rt")
    assert sorted(label or "" for label in as_queues.labels) == ["Billing", "Nobody's", "Triage"]
