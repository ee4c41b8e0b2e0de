"""Behaviour features: what they count, that missing history is normal, and that the future never leaks in."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import Customer, CustomerHistory
from router.behaviour import FEATURE_NAMES, behaviour_features
from tests.behaviour.conftest import AT, comment, event, rating, ticket


def customer(**attributes: object) -> Customer:
    return Customer(source="t", external_id="c1", attributes=dict(attributes), created_at=AT - timedelta(days=400))


def busy_history() -> CustomerHistory:
    tickets = (
        ticket("t1", 2, priority="urgent", tags=["escalated"]),
        ticket("t2", 5, tags=["reopened"]),
        ticket("t3", 20),
        ticket("t4", 200),
    )
    comments = (comment("m1", "t1", 1), comment("m2", "t1", 1.5), comment("m3", "t1", 1.2, from_customer=False))
    ratings = (rating("r1", "good", 100, 5), rating("r2", "bad", 10, 1))
    events = (
        *(event(f"l{i}", "login", 40 + i) for i in range(10)),
        event("l-recent", "login", 3),
        event("p1", "payment_failed", 15),
        event("d1", "downgrade", 12),
    )
    return CustomerHistory(customer(Plan="Pro", MRR="99.50"), tickets, comments, ratings, events)


def test_counts_and_recency_from_a_busy_history() -> None:
    f = behaviour_features(busy_history(), AT)
    assert list(f) == list(FEATURE_NAMES)
    assert (f["tickets_7d"], f["tickets_30d"], f["tickets_90d"], f["tickets_total"]) == (2.0, 3.0, 3.0, 4.0)
    assert (f["escalated_tickets_90d"], f["reopened_tickets_90d"], f["urgent_tickets_90d"]) == (1.0, 1.0, 1.0)
    assert f["customer_replies_7d"] == 2.0  # the agent's comment is not a customer reply
    assert f["days_since_last_ticket"] == 2.0
    assert f["days_since_first_contact"] == 200.0
    assert f["last_rating"] == "bad"
    assert f["bad_ratings_90d"] == 1.0
    assert f["good_rating_share"] == 0.5
    assert f["mean_rating_score"] == 3.0
    assert f["logins_30d"] == 1.0 and f["days_since_last_login"] == 3.0
    assert f["usage_trend"] == -0.9  # 1 usage event in the last 30 days against 10 in the 30 before
    assert f["payment_failures_90d"] == 1.0 and f["downgrades_90d"] == 1.0
    assert f["plan"] == "pro" and f["mrr"] == 99.5  # CRM attribute names are matched case-insensitively
    assert f["tenure_days"] == 400.0


def test_a_new_customer_without_history_is_normal() -> None:
    f = behaviour_features(CustomerHistory(), AT)
    assert f["tickets_90d"] == 0.0 and f["ratings_total"] == 0.0 and f["logins_30d"] == 0.0
    for missing in ("days_since_last_ticket", "last_rating", "usage_trend", "plan", "mrr", "tenure_days"):
        assert f[missing] is None


def test_a_ticket_changed_after_the_prediction_time_counts_as_a_contact_only() -> None:
    # Tags and priority are the ticket's state at updated_at; after ``at`` they may be the future's.
    later = ticket("t9", 1, priority="urgent", tags=["escalated", "reopened"], updated_at=AT + timedelta(days=2))
    f = behaviour_features(CustomerHistory(customer(), (later,)), AT)
    assert f["tickets_7d"] == 1.0
    assert f["urgent_tickets_90d"] == f["escalated_tickets_90d"] == f["reopened_tickets_90d"] == 0.0


future_offsets = st.lists(st.floats(min_value=0.001, max_value=400), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(future_offsets, st.sampled_from(["login", "cancellation", "payment_failed", "purchase", "downgrade"]))
def test_records_after_the_prediction_time_change_nothing(offsets: list[float], kind: str) -> None:
    base = busy_history()
    before = behaviour_features(base, AT)
    future = CustomerHistory(
        base.customer,
        (*base.tickets, *(ticket(f"f{i}", -d, priority="urgent", tags=["escalated"]) for i, d in enumerate(offsets))),
        (*base.comments, *(comment(f"fc{i}", "t1", -d) for i, d in enumerate(offsets))),
        (*base.ratings, *(rating(f"fr{i}", "bad", -d, 1) for i, d in enumerate(offsets))),
        (*base.events, *(event(f"fe{i}", kind, -d) for i, d in enumerate(offsets))),
    )
    assert behaviour_features(future, AT) == before


def test_the_prediction_time_moves_the_windows() -> None:
    history = busy_history()
    assert behaviour_features(history, AT + timedelta(days=30))["tickets_7d"] == 0.0
    assert behaviour_features(history, AT - timedelta(days=3))["tickets_total"] == 3.0  # t1 not yet written
