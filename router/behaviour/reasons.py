"""Churn reasons in words a support lead understands: "3 tickets in 7 days", "last satisfaction rating: bad".

The behaviour features from the store have their own sentences; any other column (a labelled customer
table's) gets a generic one, "Customer service calls: 5 (high)", where high and low are against the
training customers (above the 75th or below the 25th percentile).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from router.behaviour.schema import OTHER, FeatureSpec, FeatureValue


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def _count(noun: str, period: str | None = None, plural: str | None = None) -> Callable[[float], str]:
    def say(value: float) -> str:
        word = noun if value == 1 else (plural or noun + "s")
        text = f"{_n(value)} {word}" if value else f"no {plural or noun + 's'}"
        return f"{text} in {period}" if period else text

    return say


def _days_ago(what: str, never: str) -> Callable[[float | None], str]:
    def say(value: float | None) -> str:
        if value is None:
            return never
        days = round(value)
        if days == 0:
            return f"{what} today"
        return f"{what} {days} day{'s' if days != 1 else ''} ago"

    return say


def _trend(value: float | None) -> str:
    if value is None:
        return "no product usage to compare with the previous 30 days"
    change = round(abs(value) * 100)
    if change == 0:
        return "product usage flat on the previous 30 days"
    direction = "down" if value < 0 else "up"
    return f"product usage {direction} {change}% on the previous 30 days"


def _share(value: float | None) -> str:
    return "no satisfaction ratings" if value is None else f"{round(value * 100)}% of satisfaction ratings good"


def _score(value: float | None) -> str:
    return "no satisfaction scores" if value is None else f"average satisfaction score {_n(round(value, 1))}"


def _tenure(value: float | None) -> str:
    return "customer since an unknown date" if value is None else f"customer for {round(value)} days"


def _mrr(value: float | None) -> str:
    return "monthly revenue unknown" if value is None else f"monthly revenue {value:.2f}"


_NUMERIC: dict[str, Callable[[float], str]] = {
    "tickets_7d": _count("ticket", "7 days"),
    "tickets_30d": _count("ticket", "30 days"),
    "tickets_90d": _count("ticket", "90 days"),
    "tickets_total": _count("ticket", "total"),
    "reopened_tickets_90d": _count("reopened ticket", "90 days"),
    "escalated_tickets_90d": _count("escalated ticket", "90 days"),
    "urgent_tickets_90d": _count("high or urgent ticket", "90 days"),
    "customer_replies_7d": _count("customer reply", "7 days", "customer replies"),
    "customer_replies_30d": _count("customer reply", "30 days", "customer replies"),
    "ratings_total": _count("satisfaction rating"),
    "bad_ratings_90d": _count("bad satisfaction rating", "90 days"),
    "logins_7d": _count("login", "7 days"),
    "logins_30d": _count("login", "30 days"),
    "usage_30d": _count("product action", "30 days"),
    "purchases_90d": _count("purchase", "90 days"),
    "upgrades_90d": _count("upgrade", "90 days"),
    "downgrades_90d": _count("downgrade", "90 days"),
    "payment_failures_90d": _count("failed payment", "90 days"),
    "cancellations_total": _count("earlier cancellation"),
}

_OPTIONAL: dict[str, Callable[[float | None], str]] = {
    "days_since_first_contact": _days_ago("first contact", "no contact with support yet"),
    "days_since_last_ticket": _days_ago("last ticket", "no tickets yet"),
    "days_since_last_login": _days_ago("last login", "never logged in"),
    "usage_trend": _trend,
    "good_rating_share": _share,
    "mean_rating_score": _score,
    "tenure_days": _tenure,
    "mrr": _mrr,
}

_CATEGORICAL: dict[str, Callable[[str | None], str]] = {
    "last_rating": lambda v: "no satisfaction rating yet" if v is None else f"last satisfaction rating: {v}",
    "plan": lambda v: "plan unknown" if v is None else f"plan: {v}",
}


def _label(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def describe(spec: FeatureSpec, value: FeatureValue) -> str:
    """One feature's value in words."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if spec.name in _CATEGORICAL:
        return _CATEGORICAL[spec.name](None if missing else str(value))
    if spec.name in _OPTIONAL:
        return _OPTIONAL[spec.name](None if missing else float(value))  # type: ignore[arg-type]
    if spec.name in _NUMERIC and not missing:
        return _NUMERIC[spec.name](float(value))  # type: ignore[arg-type]
    label = _label(spec.name)
    if missing:
        return f"{label}: missing"
    if spec.kind == "categorical" or isinstance(value, str):
        return f"{label}: {'another value' if value == OTHER else value}"
    assert value is not None  # missing values were worded above
    number = float(value)
    level = ""
    if spec.high is not None and spec.low is not None and spec.high > spec.low:
        if number > spec.high:
            level = " (high)"
        elif number < spec.low:
            level = " (low)"
    return f"{label}: {_n(number)}{level}"
