"""The engine's triage: new tickets, idempotency per version, own writes, corrections, customer replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from connectors import Customer, Ticket
from policies import load_policy
from router.loop.decide import Engine
from router.signals.signal_source import NoSignals
from router.store import Store, upsert
from router.store.tables import DecisionRow, FeedbackRow, OutboxRow
from tests.conftest import REPO_ROOT

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday, inside business hours
POLICY = load_policy(REPO_ROOT / "policies" / "examples" / "starter.yaml")


def make_ticket(**kw: object) -> Ticket:
    data: dict[str, object] = {
        "source": "rt",
        "external_id": "7",
        "subject": "Refund for a double payment",
        "body": "I was charged twice.",
        "requester": "ana@example.com",
        "queue": "General",
        "status": "new",
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW - timedelta(hours=1),
        "updated_by": "ana@example.com",
    }
    data.update(kw)
    return Ticket.model_validate(data)


def engine(mode: str = "auto") -> Engine:
    return Engine(POLICY, NoSignals(), connector="rt", mode=mode, agent_user="deskroute")


def mark_applied(store: Store) -> None:
    with store.session() as s:
        for row in s.exec(select(OutboxRow)).all():
            row.state = "applied"
            s.add(row)
        s.commit()


def test_new_ticket_is_decided_once_per_version(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        report = engine().run(s, [make_ticket()], NOW)
        assert report.outcomes == {"decided_new": 1}
        again = engine().run(s, [make_ticket()], NOW)
        assert again.outcomes == {"skipped_seen": 1}
        decision = s.exec(select(DecisionRow)).one()
        kinds = sorted(r.kind for r in s.exec(select(OutboxRow)).all())
    # the billing rule fired; the team name became the RT queue name through the policy's mapping
    assert decision.team == "Billing and Payments" and decision.queue == "Billing"
    assert "route" in kinds and "add_tags" in kinds
    assert "billing" in decision.decision["trace"][1]["rule"]


def test_own_changes_are_not_decided_again(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.session() as s:
        engine().run(s, [make_ticket()], NOW)
        mark_applied(store)
        ours = make_ticket(queue="Billing", updated_at=NOW, updated_by="deskroute")
        assert engine().run(s, [ours], NOW).outcomes == {"skipped_own_change": 1}
        assert len(s.exec(select(DecisionRow)).all()) == 1


def test_person_requeue_is_recorded_and_the_ticket_left_alone(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        engine().run(s, [make_ticket()], NOW)
        mark_applied(store)
        moved = make_ticket(queue="Sales", updated_at=NOW + timedelta(minutes=5), updated_by="agent.bob")
        assert engine().run(s, [moved], NOW).outcomes == {"correction": 1}
        feedback = s.exec(select(FeedbackRow)).one()
        assert (feedback.predicted, feedback.corrected, feedback.corrected_by) == ("Billing", "Sales", "agent.bob")
        reply = make_ticket(queue="Sales", updated_at=NOW + timedelta(hours=1), updated_by="ana@example.com")
        assert engine().run(s, [reply], NOW).outcomes == {"skipped_person_owns": 1}
        assert len(s.exec(select(DecisionRow)).all()) == 1


def test_person_requeue_in_the_same_second_as_the_decided_version_still_wins(database_url: str) -> None:
    # Helpdesk clocks count whole seconds: the person's change can carry the very update time we decided on.
    store = Store(database_url)
    with store.session() as s:
        engine().run(s, [make_ticket()], NOW)  # decided; its writes still wait (as when paused)
        moved = make_ticket(queue="Sales", updated_by="agent.bob")  # same updated_at as the decided version
        assert engine().run(s, [moved], NOW).outcomes == {"correction": 1}
        waiting = [r for r in s.exec(select(OutboxRow)).all() if r.kind != "create_outreach"]
        feedback = s.exec(select(FeedbackRow)).one()
    assert (feedback.predicted, feedback.corrected) == ("Billing", "Sales")
    assert waiting and {r.state for r in waiting} == {"skipped"}


def test_customer_reply_may_change_urgency_but_not_the_queue(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.session() as s:
        upsert(
            s,
            [Customer(source="rt", external_id="ana@example.com", email="ana@example.com", attributes={"plan": "vip"})],
        )
        s.commit()
        engine().run(s, [make_ticket()], NOW)
        mark_applied(store)
        reply = make_ticket(queue="Billing", updated_at=NOW + timedelta(hours=2), updated_by="ana@example.com")
        assert engine().run(s, [reply], NOW).outcomes == {"decided_reply": 1}
        second = s.exec(select(DecisionRow).where(DecisionRow.reason == "customer_reply")).one()
        kinds = {r.kind for r in s.exec(select(OutboxRow).where(OutboxRow.decision_id == second.id)).all()}
    assert "route" not in kinds and "set_priority" in kinds  # vip plan -> high priority


def test_finished_and_other_changes_are_skipped(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.session() as s:
        assert engine().run(s, [make_ticket(status="solved")], NOW).outcomes == {"skipped_finished": 1}
        engine().run(s, [make_ticket()], NOW)
        mark_applied(store)
        agent_reply = make_ticket(queue="Billing", updated_at=NOW + timedelta(hours=1), updated_by="agent.bob")
        assert engine().run(s, [agent_reply], NOW).outcomes == {"skipped_other_change": 1}


def test_every_decision_carries_the_agents_note_and_tags(sqlite_url: str) -> None:
    from policies import LabelScore, Neighbour, Signals

    class FixedSignals(NoSignals):
        def signals(self, session, ticket, customer, now):  # type: ignore[no-untyped-def]
            return Signals(
                intent="Billing and Payments",
                intent_probability=0.91,
                intent_top_k=[LabelScore(label="Billing and Payments", probability=0.91)],
                urgency="high",
                urgency_probability=0.7,
                churn_risk=0.82,
                churn_reasons=["3 tickets in 7 days", "last satisfaction rating: bad"],
                neighbours=[Neighbour(ticket_id="3", score=0.8, queue="Billing and Payments")],
                model_versions={"intent": "text/queue@v1"},
            )

    store = Store(sqlite_url)
    with store.session() as s:
        upsert(s, [make_ticket(external_id="3", subject="Charged twice in May", status="solved")])
        s.commit()
        Engine(POLICY, FixedSignals(), connector="rt", mode="suggest", agent_user="deskroute").run(
            s, [make_ticket()], NOW
        )
        rows = {r.kind: r for r in s.exec(select(OutboxRow)).all()}
    note = rows["add_note"].action["params"]["body"]
    assert "intent Billing and Payments 91%" in note and "urgency high 70%" in note
    assert "Churn risk 82% (high): 3 tickets in 7 days" in note
    assert '#3 "Charged twice in May"' in note and "billing" in note and "text/queue@v1" in note
    tags = rows["add_tags"].action["params"]["tags"]
    assert {"billing", "intent-billing-and-payments", "churn-high"} <= set(tags)
