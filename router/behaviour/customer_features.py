"""Behaviour features: one function, used identically when training and when predicting.

``behaviour_features(history, at)`` describes a customer as known at ``at`` and never reads anything later:
tickets, comments, ratings and events after ``at`` are dropped here even if the caller passed them. A ticket's
mutable state (status, tags, priority) is its state at ``updated_at``; when that is after ``at`` we cannot tell
what it was at ``at``, so such a ticket counts as a contact but not as reopened, escalated or urgent.

Missing history is normal: counts are 0, and "days since" and rates are None (missing, not zero) when there is
nothing to measure. CRM attributes are the customer's current snapshot (the store keeps no history of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors import CustomerHistory, Ticket
from connectors.records import as_utc

FeatureValue = float | str | None

# The features in a fixed order; models store this list so training and prediction agree.
FEATURE_NAMES: tuple[str, ...] = (
    "tickets_7d",
    "tickets_30d",
    "tickets_90d",
    "tickets_total",
    "reopened_tickets_90d",
    "escalated_tickets_90d",
    "urgent_tickets_90d",
    "customer_replies_7d",
    "customer_replies_30d",
    "days_since_first_contact",
    "days_since_last_ticket",
    "ratings_total",
    "bad_ratings_90d",
    "good_rating_share",
    "mean_rating_score",
    "last_rating",
    "logins_7d",
    "logins_30d",
    "days_since_last_login",
    "usage_30d",
    "usage_trend",
    "purchases_90d",
    "upgrades_90d",
    "downgrades_90d",
    "payment_failures_90d",
    "cancellations_total",
    "tenure_days",
    "plan",
    "mrr",
)

USAGE_KINDS = frozenset({"login", "page_view", "feature_use"})
_PLAN_KEYS = ("plan", "tier", "subscription", "package")
_MRR_KEYS = ("mrr", "monthly_revenue", "monthly_recurring_revenue", "revenue")
_DAY = 86400.0


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / _DAY, 3)


def _within(times: Iterable[datetime], at: datetime, days: int) -> int:
    start = at - timedelta(days=days)
    return sum(1 for t in times if start < t <= at)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    return str(value).strip().lower() in {"1", "true", "yes", "y"}


def _reopened(ticket: Ticket) -> bool:
    if any("reopen" in tag.lower() for tag in ticket.tags):
        return True
    # Zendesk's ticket metrics name it ``reopens``; other helpdesks a flag.
    return any(_truthy(ticket.custom_fields.get(key, 0)) for key in ("reopens", "reopened"))


def _escalated(ticket: Ticket) -> bool:
    if any("escalat" in tag.lower() for tag in ticket.tags):
        return True
    return _truthy(ticket.custom_fields.get("escalated", False))


def _attribute(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in attributes.items()}
    for key in keys:
        value = lowered.get(key)
        if value is not None and str(value).strip():
            return value
    return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return number if number == number else None  # NaN is missing


def behaviour_features(history: CustomerHistory, at: datetime) -> dict[str, FeatureValue]:
    """The customer's behaviour features as known at ``at`` (see the module docstring for the rules)."""
    at = as_utc(at)
    known = history.until(at)  # the guard: nothing after ``at`` is ever read below
    tickets = sorted(known.tickets, key=lambda t: t.created_at)
    settled = [t for t in tickets if t.updated_at <= at]
    recent_settled = [t for t in settled if t.created_at > at - timedelta(days=90)]
    created = [t.created_at for t in tickets]
    replies = [c.created_at for c in known.comments if c.author_is_customer]

    ratings = sorted(known.ratings, key=lambda r: r.created_at)
    scores = [r.score for r in ratings if r.score is not None]
    good = sum(1 for r in ratings if r.rating == "good")

    events = sorted(known.events, key=lambda e: e.occurred_at)
    by_kind: dict[str, list[datetime]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event.occurred_at)
    logins = by_kind.get("login", [])
    usage = [e.occurred_at for e in events if e.kind in USAGE_KINDS]
    usage_now = _within(usage, at, 30)
    usage_before = _within(usage, at - timedelta(days=30), 30)

    customer = history.customer
    attributes = customer.attributes if customer is not None else {}
    plan = _attribute(attributes, _PLAN_KEYS)
    tenure = None
    if customer is not None and customer.created_at is not None and customer.created_at <= at:
        tenure = _days(at - customer.created_at)

    return {
        "tickets_7d": float(_within(created, at, 7)),
        "tickets_30d": float(_within(created, at, 30)),
        "tickets_90d": float(_within(created, at, 90)),
        "tickets_total": float(len(tickets)),
        "reopened_tickets_90d": float(sum(1 for t in recent_settled if _reopened(t))),
        "escalated_tickets_90d": float(sum(1 for t in recent_settled if _escalated(t))),
        "urgent_tickets_90d": float(sum(1 for t in recent_settled if t.priority in ("high", "urgent"))),
        "customer_replies_7d": float(_within(replies, at, 7)),
        "customer_replies_30d": float(_within(replies, at, 30)),
        "days_since_first_contact": _days(at - created[0]) if created else None,
        "days_since_last_ticket": _days(at - created[-1]) if created else None,
        "ratings_total": float(len(ratings)),
        "bad_ratings_90d": float(_within([r.created_at for r in ratings if r.rating == "bad"], at, 90)),
        "good_rating_share": round(good / len(ratings), 4) if ratings else None,
        "mean_rating_score": round(sum(scores) / len(scores), 4) if scores else None,
        "last_rating": ratings[-1].rating if ratings else None,
        "logins_7d": float(_within(logins, at, 7)),
        "logins_30d": float(_within(logins, at, 30)),
        "days_since_last_login": _days(at - logins[-1]) if logins else None,
        "usage_30d": float(usage_now),
        "usage_trend": round((usage_now - usage_before) / usage_before, 4) if usage_before else None,
        "purchases_90d": float(_within(by_kind.get("purchase", []), at, 90)),
        "upgrades_90d": float(_within(by_kind.get("upgrade", []), at, 90)),
        "downgrades_90d": float(_within(by_kind.get("downgrade", []), at, 90)),
        "payment_failures_90d": float(_within(by_kind.get("payment_failed", []), at, 90)),
        "cancellations_total": float(len(by_kind.get("cancellation", []))),
        "tenure_days": tenure,
        "plan": str(plan).strip().lower() if plan is not None else None,
        "mrr": _number(_attribute(attributes, _MRR_KEYS)),
    }
