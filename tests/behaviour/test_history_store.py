"""Customer histories from the store: the same records the generator made, nothing after ``until``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evals.synthetic import SyntheticWorld
from router.behaviour import behaviour_features, load_histories, load_history
from router.store import Store


def test_store_histories_match_the_records_and_stop_at_until(small_world: SyntheticWorld, database_url: str) -> None:
    store = Store(database_url)
    with store.session() as session:
        small_world.store(session)
    in_memory = small_world.histories()
    busiest = max(in_memory, key=lambda cid: len(in_memory[cid].tickets))
    expected = in_memory[busiest]
    until = small_world.start + timedelta(days=150)
    with store.session() as session:
        loaded = load_history(session, small_world.source, busiest, until)
        everything = load_histories(session, small_world.source)
    assert loaded.customer == expected.customer
    assert {t.external_id for t in loaded.tickets} == {t.external_id for t in expected.tickets if t.created_at <= until}
    assert all(e.occurred_at <= until for e in loaded.events)
    assert len(loaded.events) == sum(1 for e in expected.events if e.occurred_at <= until)
    assert behaviour_features(loaded, until) == behaviour_features(expected, until)
    assert set(everything) == set(in_memory)
    assert behaviour_features(everything[busiest], until) == behaviour_features(expected, until)
    store.dispose()


def test_an_unknown_customer_has_an_empty_history(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.session() as session:
        history = load_history(session, "file", "nobody", datetime.now(UTC))
    assert history.customer is None and not history.tickets and not history.events
    assert behaviour_features(history, datetime.now(UTC))["tickets_total"] == 0.0
    store.dispose()
