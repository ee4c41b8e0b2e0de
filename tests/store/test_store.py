"""The store on SQLite and on PostgreSQL: migrations, idempotent upserts, cursors, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from connectors import BehaviorEvent, Comment, Customer, SatisfactionRating, Ticket
from router.store import (
    Store,
    TicketRow,
    count,
    current_revision,
    get_cursor,
    get_ticket,
    head_revision,
    iter_tickets,
    set_cursor,
    store_stats,
    upsert,
)
from router.store.database import downgrade

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def ticket(n: int, **kw: object) -> Ticket:
    data: dict[str, object] = {
        "source": "rt",
        "external_id": str(n),
        "subject": f"subject {n}",
        "body": "body",
        "created_at": T0,
        "updated_at": T0,
        "queue": "Billing",
        "priority": "high",
        "tags": ["a"],
    }
    data.update(kw)
    return Ticket.model_validate(data)


def test_schema_is_created_by_migrations(database_url: str) -> None:
    store = Store(database_url)
    assert current_revision(store.engine) == head_revision()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"tickets", "comments", "customers", "behavior_events", "satisfaction_ratings", "sync_cursors"} <= tables
    downgrade(store.engine, "base")
    assert "tickets" not in sa.inspect(store.engine).get_table_names()


def test_upsert_is_idempotent_and_updates(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        upsert(s, [ticket(1), ticket(2)])
        s.commit()
        upsert(s, [ticket(1, queue="Sales"), ticket(2)])
        s.commit()
        assert count(s, TicketRow) == 2
        stored = get_ticket(s, "rt", "1")
        assert stored is not None and stored.queue == "Sales"
        assert stored.tags == ["a"]


def test_same_external_id_in_two_sources_are_two_tickets(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        upsert(s, [ticket(1), ticket(1, source="zendesk")])
        s.commit()
        assert count(s, TicketRow) == 2


def test_timestamps_come_back_as_utc(database_url: str) -> None:
    store = Store(database_url)
    berlin = timezone(timedelta(hours=1))
    with store.session() as s:
        upsert(s, [ticket(1, created_at=datetime(2026, 3, 1, 10, 30, tzinfo=berlin))])
        s.commit()
        stored = get_ticket(s, "rt", "1")
    assert stored is not None
    assert stored.created_at == T0 and stored.created_at.tzinfo is not None


def test_cursor_commits_with_records_or_not_at_all(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        upsert(s, [ticket(1)])
        set_cursor(s, "rt", {"since": "2026-03-01T09:30:00Z", "seen": ["1"]})
        s.rollback()
        assert get_cursor(s, "rt") is None and count(s, TicketRow) == 0
        upsert(s, [ticket(1)])
        set_cursor(s, "rt", {"since": "x"})
        s.commit()
        set_cursor(s, "rt", {"since": "y"})
        s.commit()
        assert get_cursor(s, "rt") == {"since": "y"}


def test_every_record_kind_round_trips(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        upsert(s, [ticket(1)])
        upsert(s, [Comment(source="rt", external_id="c1", ticket_external_id="1", body="hi", created_at=T0)])
        upsert(s, [Customer(source="rt", external_id="u1", email="a@example.com", attributes={"plan": "vip"})])
        upsert(
            s,
            [
                BehaviorEvent(
                    source="rt",
                    external_id="e1",
                    customer_external_id="u1",
                    kind="login",
                    occurred_at=T0,
                    properties={"n": 1},
                )
            ],
        )
        upsert(
            s,
            [SatisfactionRating(source="rt", external_id="r1", customer_external_id="u1", rating="bad", created_at=T0)],
        )
        s.commit()
        summary = store_stats(s)
    assert summary["counts"] == {"tickets": 1, "comments": 1, "customers": 1, "events": 1, "satisfaction_ratings": 1}
    assert summary["tickets_by_queue"] == {"Billing": 1}


def test_iter_tickets_streams_every_ticket(database_url: str) -> None:
    store = Store(database_url)
    with store.session() as s:
        upsert(s, [ticket(n) for n in range(1, 451)])
        s.commit()
        ids = [t.external_id for t in iter_tickets(s, batch=100)]
    assert len(ids) == 450 and len(set(ids)) == 450
