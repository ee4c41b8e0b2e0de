"""A person who routes a ticket while deskroute's writes for it still wait (paused, or retrying) wins."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from router.store import Store
from router.store.tables import FeedbackRow, OutboxRow
from tests.router.test_engine import NOW, engine, make_ticket


def test_writes_still_queued_are_withdrawn_when_a_person_reroutes(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        engine().run(s, [make_ticket()], NOW)  # decided: route to Billing + tag, nothing applied yet
        route = s.exec(select(OutboxRow).where(OutboxRow.kind == "route")).one()
        route.state, route.attempts = "failed", 1  # one write waits for a retry
        s.add(route)
        s.commit()

        moved = make_ticket(queue="Sales", updated_at=NOW + timedelta(minutes=5), updated_by="agent.bob")
        assert engine().run(s, [moved], NOW).outcomes == {"correction": 1}

        rows = s.exec(select(OutboxRow)).all()
        assert {r.kind for r in rows} == {"route", "add_tags", "add_note"}
        assert {r.state for r in rows} == {"skipped"}
        assert {r.result["detail"] for r in rows} == {"withdrawn: agent.bob routed the ticket by hand"}
        assert s.exec(select(FeedbackRow)).one().corrected == "Sales"


def test_a_person_confirming_our_queue_also_takes_the_ticket_over(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.session() as s:
        engine().run(s, [make_ticket()], NOW)
        moved = make_ticket(queue="Billing", updated_at=NOW + timedelta(minutes=5), updated_by="agent.bob")
        assert engine().run(s, [moved], NOW).outcomes == {"skipped_person_owns": 1}
        assert {r.state for r in s.exec(select(OutboxRow)).all()} == {"skipped"}
        assert s.exec(select(FeedbackRow)).one().field == "queue_confirmed"
