"""Reasons in words: templates for the store's features, a generic sentence for any table column."""

from __future__ import annotations

from router.behaviour import FeatureSpec, describe


def spec(name: str, kind: str = "numeric", low: float | None = None, high: float | None = None) -> FeatureSpec:
    return FeatureSpec(name, "categorical" if kind == "categorical" else "numeric", low=low, high=high)


def test_store_feature_templates() -> None:
    assert describe(spec("tickets_7d"), 3.0) == "3 tickets in 7 days"
    assert describe(spec("tickets_7d"), 1.0) == "1 ticket in 7 days"
    assert describe(spec("customer_replies_7d"), 4.0) == "4 customer replies in 7 days"
    assert describe(spec("last_rating", "categorical"), "bad") == "last satisfaction rating: bad"
    assert describe(spec("last_rating", "categorical"), None) == "no satisfaction rating yet"
    assert describe(spec("days_since_last_login"), 45.2) == "last login 45 days ago"
    assert describe(spec("days_since_last_login"), None) == "never logged in"
    assert describe(spec("usage_trend"), -0.6) == "product usage down 60% on the previous 30 days"
    assert describe(spec("payment_failures_90d"), 2.0) == "2 failed payments in 90 days"
    assert describe(spec("mrr"), 1234.5) == "monthly revenue 1234.50"  # no comma: reasons are joined with ", "


def test_generic_sentence_for_table_columns() -> None:
    calls = spec("Customer service calls", low=1.0, high=2.0)
    assert describe(calls, 5.0) == "Customer service calls: 5 (high)"
    assert describe(calls, 0.0) == "Customer service calls: 0 (low)"
    assert describe(calls, 2.0) == "Customer service calls: 2"
    assert describe(spec("total_day_minutes"), 265.13) == "Total day minutes: 265.13"
    assert describe(spec("International plan", "categorical"), "yes") == "International plan: yes"
    assert describe(spec("State", "categorical"), "(other)") == "State: another value"
    assert describe(calls, None) == "Customer service calls: missing"
