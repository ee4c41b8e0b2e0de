"""One person across sources: product events reach a helpdesk customer's history by e-mail or a linking attribute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors import BehaviorEvent, Customer, Ticket
from router.behaviour import behaviour_features, load_histories, load_history
from router.behaviour.history import writer_history
from router.behaviour.identity import IdentityLinks, resolve_person
from router.store import Store, upsert
from router.training.churn_training import store_rows

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LINKED = IdentityLinks("app", "app_user")


def login(eid: str, who: str, days_ago: float) -> BehaviorEvent:
    return BehaviorEvent(
        source="app",
        external_id=eid,
        customer_external_id=who,
        kind="login",
        occurred_at=NOW - timedelta(days=days_ago),
    )


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    with store.session() as session:
        upsert(
            session,
            [
                Customer(source="rt", external_id="7", email="Ada@Example.com", attributes={"app_user": "u-42"}),
                Customer(source="app", external_id="u-99", email="ada@example.com"),  # an identify call
                Customer(source="app", external_id="u-5", email="someone@else.example"),
            ],
        )
        upsert(
            session,
            [
                login("by-user-id", "u-42", 1),
                login("by-email", "ada@example.com", 2),
                login("by-identify", "u-99", 3),
                login("someone-else", "u-5", 1),
                login("provisional", "grace@example.com", 4),
                login("too-late", "u-42", -1),
            ],
        )
        session.commit()
    yield store
    store.dispose()


def event_ids(history: object) -> set[str]:
    return {e.external_id for e in history.events}  # type: ignore[attr-defined]


def test_a_helpdesk_customers_history_holds_their_product_events_by_every_link(store: Store) -> None:
    with store.session() as session:
        linked = load_history(session, "rt", "7", NOW, LINKED)
        by_email = load_history(session, "rt", "7", NOW, IdentityLinks("app"))
        unlinked = load_history(session, "rt", "7", NOW)
    assert event_ids(linked) == {"by-user-id", "by-email", "by-identify"}
    assert event_ids(by_email) == {"by-email", "by-identify"}  # without the attribute, e-mail and identify only
    assert event_ids(unlinked) == set()
    assert behaviour_features(linked, NOW)["logins_7d"] == 3


def test_events_of_nobody_yet_count_from_the_persons_first_ticket(store: Store) -> None:
    ticket = Ticket(
        source="rt",
        external_id="900",
        requester="Grace@Example.com",
        subject="s",
        body="b",
        created_at=NOW,
        updated_at=NOW,
    )
    with store.session() as session:
        before = writer_history(session, ticket, None, NOW, LINKED)
        upsert(session, [Customer(source="rt", external_id="grace", email="grace@example.com")])
        session.commit()
        customer = Customer(source="rt", external_id="grace", email="grace@example.com")
        after = writer_history(session, ticket, customer, NOW, LINKED)
    # The requester's e-mail finds them before a customer record exists, and the record after it does.
    assert event_ids(before) == {"provisional"} and event_ids(after) == {"provisional"}


def test_a_person_resolves_from_any_of_their_keys(store: Store) -> None:
    with store.session() as session:
        for key in ("7", "ADA@example.com", "u-42", "u-99"):
            person = resolve_person(session, LINKED, key)
            assert [(c.source, c.external_id) for c in person.customers] == [("rt", "7")], key
            assert {"u-42", "u-99", "ada@example.com"} <= set(person.product_keys), key
        nobody = resolve_person(session, LINKED, "grace@example.com")
    assert nobody.customers == [] and nobody.product_keys == ["grace@example.com"]


def test_customers_show_prints_the_resolved_person(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.cli import app

    (tmp_path / "deskroute.toml").write_text(
        f'database_url = "{store.url}"\ndata_dir = "{tmp_path / "data"}"\n'
        '[events]\nsource = "app"\nidentity_attribute = "app_user"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DESKROUTE_CONFIG", str(tmp_path / "deskroute.toml"))
    monkeypatch.delenv("DESKROUTE_DATABASE_URL", raising=False)
    runner = CliRunner()
    shown = runner.invoke(app, ["customers", "show", "u-42"])
    assert shown.exit_code == 0, shown.output
    assert "helpdesk rt:7" in shown.output and "product app:u-99" in shown.output
    assert "4 events (login 4)" in shown.output  # read as of today: the event dated after NOW counts too
    waiting = runner.invoke(app, ["customers", "show", "grace@example.com"])
    assert waiting.exit_code == 0 and "no helpdesk customer yet" in waiting.output
    unknown = runner.invoke(app, ["customers", "show", "nobody"])
    assert (
        unknown.exit_code == 1 and "no customer, product user or product event is known as 'nobody'" in unknown.output
    )


def test_training_histories_hold_the_same_linked_events_as_a_prediction(store: Store) -> None:
    with store.session() as session:
        training = load_histories(session, "rt", NOW, links=LINKED)
        unlinked = load_histories(session, "rt", NOW)
        predicting = load_history(session, "rt", "7", NOW, LINKED)
    assert event_ids(training["7"]) == event_ids(predicting) == {"by-user-id", "by-email", "by-identify"}
    assert event_ids(unlinked["7"]) == set()


def test_a_cancellation_known_only_to_the_product_labels_the_helpdesk_customer_for_churn(database_url: str) -> None:
    store = Store(database_url)
    people = [
        Customer(source="rt", external_id=f"c{i}", email=f"p{i}@example.com", created_at=NOW - timedelta(days=300))
        for i in range(8)
    ]
    events = [
        BehaviorEvent(
            source="app",
            external_id=f"e{i}-{day}",
            customer_external_id=f"p{i}@example.com",
            kind="login",
            occurred_at=NOW - timedelta(days=day),
        )
        for i in range(8)
        for day in range(200, 0, -20)
    ]
    events.append(
        BehaviorEvent(
            source="app",
            external_id="quit",
            customer_external_id="p3@example.com",
            kind="cancellation",
            occurred_at=NOW - timedelta(days=10),
        )
    )
    with store.session() as session:
        upsert(session, people)
        upsert(session, events)
        session.commit()
    try:
        with pytest.raises(ValueError, match="no customer has a 'cancellation' event"):
            store_rows(store, source="rt", horizon_days=30)
        rows = store_rows(store, source="rt", horizon_days=30, links=IdentityLinks("app"))
    finally:
        store.dispose()
    churned = {group for group, label in zip(rows.groups or [], rows.labels, strict=True) if label}
    assert churned == {"c3"}
