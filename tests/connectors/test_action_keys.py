"""Action.default_key never changes: outboxes persist the keys, and a new key would apply an action twice."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import Action


def reference_key(scope: str, kind: str, target: str, params: dict[str, Any]) -> str:
    """The key as Action has always defined it."""
    payload = json.dumps([scope, kind, target, params], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def test_keys_are_the_ones_persisted_before() -> None:
    scope = "rt:42:2025-01-06T10:00:00+00:00:abc"
    cases = [
        (
            Action(kind="route", target="42", params={"queue": "Billing"}),
            "779b5d4ab17e4b9d5f993d05",
            "7a4533ed71189b263ed23a32",
        ),
        (
            Action(kind="add_tags", target="T-7", params={"tags": ["vip", "Umtausch-Rücksendung", 'quote"d']}),
            "fb9a4c86fe8cec039f16b4ad",
            "0df7567e59f38fb6e4ac8fb5",
        ),
        (
            Action(kind="add_note", target="9", params={"body": "Größe ≥ 10 €\n\tline 2 \u2028 😀", "public": False}),
            "08b98bf3372e080188a33279",
            "5632e7cd0cec1fad3fd93346",
        ),
        (
            Action(
                kind="create_outreach",
                target="c-1",
                params={
                    "subject": "Hi",
                    "body": "b",
                    "channel": "email",
                    "ticket": "42",
                    "at": datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
                    "n": 1.5,
                    "none": None,
                },
            ),
            "5e0983049116265565191a85",
            "b82a28aeb11fa4403734005f",
        ),
    ]
    for action, unscoped, scoped in cases:
        assert action.idempotency_key == unscoped
        assert action.default_key() == unscoped
        assert action.default_key(scope) == scoped


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json writes them as NaN/Infinity
    | st.text()
    | st.datetimes(timezones=st.just(UTC)),  # not JSON: written with str(), as default=str says
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    scope=st.text(),
    target=st.text(min_size=1),
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    body=st.text(),
)
def test_default_key_is_the_reference_key_for_any_parameters(
    scope: str, target: str, extra: dict[str, Any], body: str
) -> None:
    params = {**extra, "body": body}
    action = Action(kind="add_note", target=target, params=params)
    assert action.idempotency_key == reference_key("", "add_note", target, action.params)
    assert action.default_key(scope) == reference_key(scope, "add_note", target, action.params)


def test_parameters_that_cannot_be_encoded_fail_as_json_fails() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference detected"):
        Action(kind="route", target="1", params={"queue": "q", "loop": loop})
