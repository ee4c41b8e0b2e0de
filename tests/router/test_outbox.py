"""The outbox state machine: modes, pause, retries with backoff, dead letters, crash recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from connectors import Action, ActionResult
from router.loop.apply import OutboxPolicy, drain, requeue_dead, set_paused
from router.store import Store
from router.store.tables import DecisionRow, OutboxRow

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class RecordingHelpdesk:
    """A helpdesk double that remembers what was applied and can fail on demand."""

    def __init__(self, failures: int = 0) -> None:
        self.applied: list[str] = []
        self.failures = failures

    def apply(self, action: Action) -> ActionResult:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection reset by peer")
        if action.idempotency_key in self.applied:
            return ActionResult(status="already_applied")
        self.applied.append(action.idempotency_key)
        return ActionResult(status="applied")


def queue_actions(store: Store, actions: list[Action], source: str = "rt") -> None:
    with store.session() as s:
        decision = DecisionRow(
            source=source, ticket_external_id="1", ticket_version="v1", decided_at=NOW, policy_version="p1"
        )
        s.add(decision)
        s.flush()
        assert decision.id is not None
        for a in actions:
            s.add(
                OutboxRow(
                    decision_id=decision.id,
                    source=source,
                    idempotency_key=a.idempotency_key,
                    kind=a.kind,
                    target=a.target,
                    action=a.model_dump(mode="json"),
                    created_at=NOW,
                    next_attempt_at=NOW,
                )
            )
        s.commit()


def states(store: Store) -> dict[str, str]:
    with store.session() as s:
        return {r.kind: r.state for r in s.exec(select(OutboxRow)).all()}


ACTIONS = [
    Action(kind="route", target="1", params={"queue": "Billing"}),
    Action(kind="add_tags", target="1", params={"tags": ["billing"]}),
    Action(kind="add_note", target="1", params={"body": "why"}),
]


def test_modes_decide_what_is_written(sqlite_url: str) -> None:
    for mode, expected in [("shadow", 0), ("suggest", 2), ("auto", 3)]:
        store = Store(sqlite_url.replace(".db", f"-{mode}.db"))
        queue_actions(store, ACTIONS)
        helpdesk = RecordingHelpdesk()
        report = drain(store, {"rt": (helpdesk, mode)}, now=NOW)
        assert len(helpdesk.applied) == expected
        assert report.applied == expected and report.skipped == 3 - expected


def test_pause_stops_all_writes_and_resume_continues(database_url: str) -> None:
    store = Store(database_url)
    queue_actions(store, ACTIONS)
    with store.session() as s:
        set_paused(s, True)
    helpdesk = RecordingHelpdesk()
    assert drain(store, {"rt": (helpdesk, "auto")}, now=NOW).paused
    assert helpdesk.applied == []
    with store.session() as s:
        set_paused(s, False)
    drain(store, {"rt": (helpdesk, "auto")}, now=NOW)
    assert len(helpdesk.applied) == 3


def test_failures_back_off_then_dead_letter(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    queue_actions(store, ACTIONS[:1])
    helpdesk = RecordingHelpdesk(failures=10)
    policy = OutboxPolicy(max_attempts=3, base_delay=timedelta(seconds=10))
    report = drain(store, {"rt": (helpdesk, "auto")}, now=NOW, policy=policy)
    assert report.failed == 1 and states(store) == {"route": "failed"}
    # not due yet: the backoff holds it back
    assert drain(store, {"rt": (helpdesk, "auto")}, now=NOW + timedelta(seconds=5), policy=policy).failed == 0
    drain(store, {"rt": (helpdesk, "auto")}, now=NOW + timedelta(seconds=11), policy=policy)
    report = drain(store, {"rt": (helpdesk, "auto")}, now=NOW + timedelta(seconds=60), policy=policy)
    assert report.dead == 1 and states(store) == {"route": "dead"}
    with store.session() as s:
        assert requeue_dead(s, now=NOW) == 1
    helpdesk.failures = 0
    drain(store, {"rt": (helpdesk, "auto")}, now=NOW + timedelta(minutes=5), policy=policy)
    assert states(store) == {"route": "applied"}


def test_row_left_applying_by_a_crash_is_applied_once(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    queue_actions(store, ACTIONS[2:])
    helpdesk = RecordingHelpdesk()
    # the helpdesk answered, then the process died before the commit: the row is still 'applying'
    helpdesk.apply(ACTIONS[2])
    with store.session() as s:
        row = s.exec(select(OutboxRow)).one()
        row.state, row.attempts = "applying", 1
        s.add(row)
        s.commit()
    report = drain(store, {"rt": (helpdesk, "auto")}, now=NOW)
    assert report.already_applied == 1 and helpdesk.applied == [ACTIONS[2].idempotency_key]
    assert states(store) == {"add_note": "applied"}


class RefusingHelpdesk:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def apply(self, action: Action) -> ActionResult:
        raise self.error


def test_credentials_error_dead_letters_at_once_and_rate_limit_waits(sqlite_url: str) -> None:
    from connectors.errors import CredentialsError, RateLimited

    store = Store(sqlite_url)
    queue_actions(store, ACTIONS[:1])
    drain(store, {"rt": (RefusingHelpdesk(CredentialsError("401 from RT: check RT_PASSWORD")), "auto")}, now=NOW)
    assert states(store) == {"route": "dead"}
    with store.session() as s:
        requeue_dead(s, now=NOW)
    limited = RefusingHelpdesk(RateLimited("slow down", retry_after=600))
    drain(store, {"rt": (limited, "auto")}, now=NOW)
    with store.session() as s:
        row = s.exec(select(OutboxRow)).one()
    assert row.state == "failed" and row.next_attempt_at >= NOW + timedelta(seconds=600)
