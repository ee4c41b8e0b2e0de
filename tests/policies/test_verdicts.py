"""A rule's compiled verdict says what walking its condition tree says, word for word.

decide() asks each rule's compiled function (policies/verdicts.py); the tree (``when.failure`` and the
failing node's ``failed_reason``) is the reference. Both run in rule order over their own copy of the
decision's facts, so the caches the first rules fill are the ones the later rules read, and the caches
themselves must end up the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import PRIORITIES, Customer, Ticket
from policies import RoutingPolicy, Signals, parse_policy
from policies.fields import Facts

TEAMS = ["Billing", "Technical Support", "Triage"]
CANCEL = r"\bcancel\w*\b.*\b(subscription|account|vertrag)\b"  # the DFA engine, with a required literal

# Every operator on every kind of field, and each regex engine.
LEAVES = st.sampled_from(
    [
        {"ticket.subject": {"contains": "invoice"}},
        {"ticket.subject": {"contains": ["invoice", "Outage", "straße"]}},
        {"ticket.subject": {"matches": r"\b(outage|down|störung)\b"}},
        {"ticket.subject": {"matches": "!{2,}"}},
        {"ticket.subject": {"eq": "Hello"}},
        {"ticket.subject": {"ne": "hello"}},
        {"ticket.subject": {"in": ["hello", "invoice"]}},
        {"ticket.subject": {"not_in": ["hello"]}},
        {"ticket.subject": {"exists": False}},
        {"ticket.body": {"matches": CANCEL}},
        {"ticket.body": {"contains": ["cancel", "ASAP"]}},
        {"ticket.body": {"exists": True}},
        {"ticket.text": {"matches": "(?i)^re:"}},
        {"ticket.language": "de"},
        {"ticket.language": {"ne": "DE"}},
        {"ticket.language": {"in": ["de", "fr"]}},
        {"ticket.language": {"not_in": ["en"]}},
        {"ticket.language": {"contains": "e"}},
        {"ticket.language": {"matches": "^d"}},
        {"ticket.channel": {"exists": False}},
        {"ticket.status": ["new", "open"]},
        {"ticket.queue": {"exists": False}},
        {"ticket.tags": "vip"},
        {"ticket.tags": {"contains": ["Outage", "vip"]}},
        {"ticket.tags": {"in": ["x y", "vip"]}},
        {"ticket.tags": {"not_in": ["outage"]}},
        {"ticket.tags": {"matches": "^out"}},
        {"ticket.tags": {"exists": True}},
        {"ticket.priority": {"gte": "high"}},
        {"ticket.priority": {"lt": "normal"}},
        {"ticket.priority": "urgent"},
        {"ticket.priority": {"ne": "low"}},
        {"ticket.priority": {"in": ["high", "urgent"]}},
        {"ticket.priority": {"not_in": ["low"]}},
        {"ticket.priority": {"exists": False}},
        {"ticket.age_hours": {"gt": 24}},
        {"ticket.age_hours": {"lte": 2}},
        {"ticket.age_hours": {"eq": 0}},
        {"ticket.age_hours": {"in": [0, 48]}},
        {"ticket.age_hours": {"not_in": [0]}},
        {"ticket.custom_fields.region": "emea"},
        {"ticket.custom_fields.region": {"ne": "EMEA"}},
        {"ticket.custom_fields.region": {"in": ["emea", 3]}},
        {"ticket.custom_fields.region": {"not_in": ["apac"]}},
        {"ticket.custom_fields.region": {"contains": "me"}},
        {"ticket.custom_fields.region": {"matches": "^(e|3)"}},
        {"ticket.custom_fields.region": {"gt": 2}},
        {"ticket.custom_fields.region": {"exists": True}},
        {"customer.plan": ["vip", "enterprise"]},
        {"customer.plan": {"exists": True}},
        {"customer.attributes.seats": {"gte": 10}},
        {"customer.attributes.seats": {"eq": "250"}},
        {"customer.attributes.plan": {"contains": "pro"}},
        {"customer.features.logins_30d": {"lt": 2}},
        {"customer.features.logins_30d": {"in": [0, 1]}},
        {"customer.opted_out": False},
        {"customer.opted_out": {"ne": True}},
        {"customer.opted_out": {"exists": False}},
        {"customer.email": {"matches": "@example"}},
        {"signals.intent": "Billing"},
        {"signals.intent": {"in": ["Billing", "Technical Support"]}},
        {"signals.intent": {"ne": "Billing"}},
        {"signals.intent_probability": {"gte": 0.7}},
        {"signals.intent_probability": {"lt": 0.5}},
        {"signals.intent_probability": {"eq": 0.5}},
        {"signals.intent_probability": {"exists": False}},
        {"signals.urgency": {"gte": "high"}},
        {"signals.urgency": "urgent"},
        {"signals.urgency_probability": {"ne": 0.5}},
        {"signals.churn_risk": {"gte": 0.5, "lt": 0.9}},
        {"signals.churn_reasons": {"contains": "payment_failed"}},
        {"signals.churn_reasons": {"exists": False}},
        {"signals.language": "de"},
        {"signals.abstain": True},
        {"time.weekday": ["sat", "sun"]},
        {"time.weekday": {"ne": "mon"}},
        {"time.weekday": {"not_in": ["tue"]}},
        {"time.hour": {"lt": 8}},
        {"time.hour": {"in": [9, 10]}},
        {"time.business_hours": True},
        {"time.business_hours": {"ne": True}},
    ]
)
conditions = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=6,
)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # drawn leaves are shared objects: write each out rather than as YAML aliases


policies = st.lists(conditions, min_size=1, max_size=8).map(
    lambda whens: parse_policy(
        yaml.dump(
            {
                "version": 1,
                "timezone": "Europe/Berlin",
                "queues": {team: {"rt": team} for team in TEAMS},
                "defaults": {"triage_queue": "Triage"},
                "business_hours": {"start": "08:00", "end": "18:00"},
                "rules": [{"name": f"r{i}", "when": w, "then": {"add_tags": ["x"]}} for i, w in enumerate(whens)],
            },
            Dumper=_Dumper,
            allow_unicode=True,
        ),
        "verdicts.yaml",
    )
)

words = st.sampled_from(
    [
        *("invoice", "Outage", "down", "Störung", "STRASSE", "cancel", "Cancelled", "subscription", "ſubscription"),
        *("!!", "asap", "ß", "İ", "re:", "Re:", "Hello", "hello", "\n", "x" * 90),
    ]
)
texts = st.lists(st.one_of(words, st.text(max_size=6)), max_size=10).map(" ".join)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=False), st.text(max_size=6), words
)
open_values = scalars | st.lists(st.one_of(words, st.integers(0, 5)), max_size=3)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@st.composite
def facts(draw: st.DrawFn, policy: RoutingPolicy) -> tuple[Facts, Facts]:
    now = draw(moments)
    ticket = Ticket(
        source="rt",
        external_id="1",
        subject=draw(texts),
        body=draw(texts),
        channel=draw(st.none() | st.sampled_from(["email", "", "phone"])),
        language=draw(st.none() | st.sampled_from(["de", "DE", "en", "fr", ""])),
        status=draw(st.sampled_from(["new", "open", "pending"])),
        queue=draw(st.none() | st.sampled_from(["", "Billing"])),
        tags=draw(st.lists(st.sampled_from(["Outage", "outage", "vip", "x y", "ſ"]), max_size=3)),
        priority=draw(st.none() | st.sampled_from(PRIORITIES)),
        custom_fields=draw(st.dictionaries(st.sampled_from(["region"]), open_values)),
        created_at=now - timedelta(hours=draw(st.sampled_from([0, 2, 48, 100]))),
        updated_at=now,
    )
    customer = draw(
        st.none()
        | st.builds(
            Customer,
            source=st.just("rt"),
            external_id=st.just("c"),
            email=st.none() | st.sampled_from(["a@example.org", ""]),
            attributes=st.dictionaries(st.sampled_from(["plan", "seats"]), open_values),
            opted_out=st.booleans(),
        )
    )
    probability = st.none() | st.floats(0.0, 1.0) | st.just(0.5)
    signals = Signals(
        intent=draw(st.none() | st.sampled_from([*TEAMS, "other"])),
        intent_probability=draw(probability),
        urgency=draw(st.none() | st.sampled_from(PRIORITIES)),
        urgency_probability=draw(probability),
        churn_risk=draw(probability),
        churn_reasons=draw(st.lists(st.sampled_from(["payment_failed", "low_usage"]), max_size=2)),
        language=draw(st.none() | st.sampled_from(["de", "en"])),
        abstain=draw(st.booleans()),
        features=draw(st.dictionaries(st.sampled_from(["logins_30d"]), open_values)),
    )
    local_now = now.astimezone(policy.timezone)
    hours = policy.business_hours
    abstaining = draw(st.booleans())
    note = "not used: the intent model abstained"
    args: tuple[Any, ...] = (
        ticket,
        customer,
        signals,
        now,
        local_now,
        hours.contains if hours else None,
        None if abstaining else signals.intent,
        None if abstaining else signals.intent_probability,
        {"signals.intent": note, "signals.intent_probability": note} if abstaining else None,
    )
    return Facts(*args), Facts(*args)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), policy=policies)
def test_compiled_verdicts_say_what_the_tree_says(data: st.DataObject, policy: RoutingPolicy) -> None:
    compiled, walked = data.draw(facts(policy))
    for rule, verdict in zip(policy.rules, policy.verdicts, strict=True):
        try:
            failed = rule.when.failure(walked)
            expected = None if failed is None else failed[0].failed_reason(walked, failed[1])
        except (TypeError, ValueError) as exc:
            # A test that cannot compare this value (a list where a plan is expected) fails the same way.
            with pytest.raises(type(exc)):
                verdict(compiled)
            return
        assert verdict(compiled) == expected, rule.when.describe()
    assert compiled.values == walked.values
    assert compiled.folded_values == walked.folded_values
    assert compiled.shown_values == walked.shown_values


def test_policy_text_never_becomes_source_code() -> None:
    # Field keys, operands and rule names are constants bound to the compiled function, never its source.
    hostile = "x'); import os; os.exit(1); ('"
    policy = parse_policy(
        yaml.safe_dump(
            {
                "version": 1,
                "queues": {"Triage": {"rt": "Triage"}},
                "defaults": {"triage_queue": "Triage"},
                "rules": [
                    {
                        "name": hostile,
                        "when": {"all": [{f"customer.attributes.{hostile}": hostile}, {"ticket.subject": hostile}]},
                        "then": {"add_tags": ["x"]},
                    }
                ],
            }
        ),
        "hostile.yaml",
    )
    ticket = Ticket(
        source="rt",
        external_id="1",
        subject=hostile,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    customer = Customer(source="rt", external_id="c", attributes={hostile: hostile.upper()})
    now = datetime(2025, 1, 1, tzinfo=UTC)
    reason = policy.verdicts[0](Facts(ticket, customer, Signals(), now, now, None, None, None))
    assert reason is None
