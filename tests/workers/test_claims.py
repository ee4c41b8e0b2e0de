"""Claiming work in the store: tickets waiting for triage (SKIP LOCKED), outbox leases, the unique decision per
ticket version, once-per-interval jobs and worker heartbeats -- on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from connectors import Action, Ticket
from connectors.file_connector import FileConnector, FileSettings
from router.loop.apply import claim_due, drain
from router.loop.triage import claim_pending, mark_triaged
from router.store import Store, TicketRow, upsert
from router.store.decision_log import DecisionRecord, save_decision
from router.store.heartbeats import beat, live_workers, sign_off
from router.store.job_schedule import run_if_due
from router.store.tables import DecisionRow, OutboxRow
from tests.router.test_outbox import NOW, queue_actions


def tickets(n: int, subject: str = "Invoice charged twice") -> list[Ticket]:
    return [
        Ticket(
            source="helpdesk",
            external_id=f"T{i}",
            subject=subject,
            body="My card was charged twice.",
            created_at=NOW,
            updated_at=NOW + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def store_tickets(store: Store, records: list[Ticket]) -> None:
    with store.session() as s:
        upsert(s, records)
        s.commit()


def pending_ids(store: Store) -> set[str]:
    with store.session() as s:
        return set(s.exec(select(TicketRow.external_id).where(TicketRow.triage_pending)).all())


def test_claimed_tickets_are_marked_triaged_and_an_update_sets_them_waiting_again(database_url: str) -> None:
    store = Store(database_url)
    store_tickets(store, tickets(5))
    with store.session() as s:
        claimed = claim_pending(s, "helpdesk", 3)
        assert [r.external_id for r in claimed] == ["T0", "T1", "T2"]  # oldest change first
        mark_triaged(s, [r.id for r in claimed if r.id is not None])
        s.commit()
    assert pending_ids(store) == {"T3", "T4"}
    store_tickets(store, tickets(2, subject="Invoice charged twice, again"))  # T0 and T1 changed
    assert pending_ids(store) == {"T0", "T1", "T3", "T4"}


def test_two_transactions_claim_different_tickets_without_waiting(postgres_url: str, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite runs one process")
    store = Store(database_url)
    store_tickets(store, tickets(6))
    with store.session() as first, store.session() as second:
        mine = [r.external_id for r in claim_pending(first, "helpdesk", 4)]
        theirs = [r.external_id for r in claim_pending(second, "helpdesk", 4)]  # returns at once: SKIP LOCKED
        assert mine == ["T0", "T1", "T2", "T3"] and theirs == ["T4", "T5"]
        first.rollback()  # a worker that dies mid-batch: its tickets are free again
        again = [r.external_id for r in claim_pending(second, "helpdesk", 10)]
        assert sorted(again) == sorted(mine + theirs)


def record(version: str = "v1") -> DecisionRecord:
    note = Action(kind="add_note", target="T0", params={"body": f"note on {version}"})
    return DecisionRecord(
        source="helpdesk",
        ticket_id="T0",
        ticket_version=version,
        reason="new",
        mode="auto",
        policy_version="p1",
        model_versions={},
        signals={},
        decision={},
        abstained=False,
        queue=None,
        team=None,
        priority=None,
        ticket_queue=None,
        actions=[note],
    )


def test_a_second_decision_for_a_version_backs_off_and_the_transaction_goes_on(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        assert save_decision(s, record(), NOW) is not None
        s.commit()
    with store.session() as s:
        assert save_decision(s, record(), NOW) is None  # already decided: nothing added, nothing broken
        assert save_decision(s, record("v2"), NOW) is not None  # the same transaction carries on
        s.commit()
    with store.session() as s:
        assert sorted(s.exec(select(DecisionRow.ticket_version)).all()) == ["v1", "v2"]
        assert len(s.exec(select(OutboxRow)).all()) == 2


def test_a_leased_row_is_nobody_elses_until_the_lease_expires(database_url: str) -> None:
    store = Store(database_url)
    queue_actions(store, [Action(kind="add_note", target="1", params={"body": "hello"})])
    with store.session() as s:
        assert len(claim_due(s, NOW, ["rt"], owner="a", lease=timedelta(minutes=5))) == 1
    with store.session() as s:
        assert claim_due(s, NOW, ["rt"], owner="b", lease=timedelta(minutes=5)) == []
        row = s.exec(select(OutboxRow)).one()
        row.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)  # worker a was killed long ago
        s.add(row)
        s.commit()
    with store.session() as s:
        assert len(claim_due(s, NOW, ["rt"], owner="b", lease=timedelta(minutes=5))) == 1
        assert s.exec(select(OutboxRow.lease_owner)).one() == "b"


def test_a_lease_of_a_process_gone_from_this_machine_is_void_at_once(database_url: str) -> None:
    store = Store(database_url)
    queue_actions(store, [Action(kind="add_note", target="1", params={"body": "hello"})])
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process
    with store.session() as s:
        claim_due(s, NOW, ["rt"], owner=f"{socket.gethostname()}:{gone.pid}:x", lease=timedelta(hours=1))
    with store.session() as s:
        assert claim_due(s, NOW, ["rt"], owner="alive", lease=timedelta(hours=1)) != []
    with store.session() as s:
        assert s.exec(select(OutboxRow.lease_owner)).one() == "alive"
        # A live lessee on this machine (this very process) keeps its rows until the lease runs out.
        row = s.exec(select(OutboxRow)).one()
        row.lease_owner = f"{socket.gethostname()}:{os.getpid()}:y"
        s.add(row)
        s.commit()
    with store.session() as s:
        assert claim_due(s, NOW, ["rt"], owner="other", lease=timedelta(hours=1)) == []


def test_an_action_written_by_a_killed_worker_is_not_written_again(database_url: str, tmp_path: Path) -> None:
    """Killed after the file connector appended the action, before the outcome was committed."""
    store = Store(database_url)
    note = Action(kind="add_note", target="1", params={"body": "hello"})
    queue_actions(store, [note], source="helpdesk")
    actions = tmp_path / "actions.jsonl"
    with store.session() as s:
        claim_due(s, NOW, ["helpdesk"], owner="killed", lease=timedelta(seconds=1))
        row = s.exec(select(OutboxRow)).one()
        row.state, row.attempts = "applying", 1
        s.add(row)
        s.commit()
    FileConnector("helpdesk", FileSettings(actions_path=actions)).apply(note)  # reached the file, then SIGKILL

    connector = FileConnector("helpdesk", FileSettings(actions_path=actions))  # another process
    early = drain(store, {"helpdesk": (connector, "auto")}, now=NOW, owner="next")
    assert early.applied == early.already_applied == 0  # the lease still holds
    with store.session() as s:
        row = s.exec(select(OutboxRow)).one()
        row.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.add(row)
        s.commit()
    late = drain(store, {"helpdesk": (connector, "auto")}, now=NOW, owner="next")
    assert (late.applied, late.already_applied) == (0, 1)
    assert len(actions.read_text().splitlines()) == 1
    with store.session() as s:
        row = s.exec(select(OutboxRow)).one()
        assert (row.state, row.lease_owner, row.attempts) == ("applied", None, 2)


def test_a_job_runs_once_per_interval(database_url: str) -> None:
    store = Store(database_url)
    runs: list[int] = []
    first = run_if_due(store, "sync:helpdesk", timedelta(hours=1), lambda: runs.append(1) or 7, worker="a")
    assert (first.ran, first.result) == (True, 7)
    second = run_if_due(store, "sync:helpdesk", timedelta(hours=1), lambda: runs.append(2), worker="b")
    assert (second.ran, second.reason) == (False, "not due")
    always = run_if_due(store, "sync:helpdesk", timedelta(0), lambda: runs.append(3), worker="b")
    assert always.ran and runs == [1, 3]


def test_a_failing_job_waits_for_its_next_interval_and_says_why(database_url: str) -> None:
    from router.store.tables import ScheduledJobRow

    store = Store(database_url)

    def broken() -> None:
        raise RuntimeError("helpdesk unreachable")

    with pytest.raises(RuntimeError):
        run_if_due(store, "sync:helpdesk", timedelta(hours=1), broken, worker="a")
    assert run_if_due(store, "sync:helpdesk", timedelta(hours=1), broken, worker="b").reason == "not due"
    with store.session() as s:
        row = s.get(ScheduledJobRow, "sync:helpdesk")
        assert row is not None and row.runs == 1 and row.last_error == "RuntimeError: helpdesk unreachable"


def test_a_job_running_in_another_process_is_skipped_not_waited_for(postgres_url: str, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's; SQLite runs one process")
    store = Store(database_url)
    inside, release = threading.Event(), threading.Event()
    answers: list[str] = []

    def long_sync() -> None:
        inside.set()
        release.wait(30)

    runner = threading.Thread(
        target=lambda: answers.append(run_if_due(store, "sync:h", timedelta(0), long_sync, worker="a").reason)
    )
    runner.start()
    assert inside.wait(30)
    try:
        other = run_if_due(store, "sync:h", timedelta(0), lambda: None, worker="b")
        assert (other.ran, other.reason) == (False, "running elsewhere")
    finally:
        release.set()
        runner.join(30)
    assert answers == ["ran"]


def test_live_workers_are_those_that_beat_lately(database_url: str) -> None:
    store = Store(database_url)
    now = datetime.now(UTC)
    with store.session() as s:
        beat(s, "old", running="idle", started_at=now, now=now - timedelta(minutes=10))
        beat(s, "busy", running="cycle helpdesk", started_at=now, now=now)
        beat(s, "gone", running="idle", started_at=now, now=now)
        s.commit()
        sign_off(s, "gone")
        s.commit()
        assert [w.worker_id for w in live_workers(s, within=timedelta(seconds=60), now=now)] == ["busy"]
        assert live_workers(s, now=now)[0].running == "cycle helpdesk"
    with store.session() as s:
        assert s.execute(sa.text("select count(*) from worker_heartbeats")).scalar() == 2
