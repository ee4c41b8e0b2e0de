"""Property-based tests: decide() never raises on valid input and is deterministic; invalid documents
always produce located errors, never a crash."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import PRIORITIES, Customer, Ticket
from policies import (
    OutreachRecord,
    PolicyError,
    RoutingPolicy,
    Signals,
    decide,
    load_policy,
    parse_policy,
    parse_tested_policy,
)

STARTER_PATH = Path(__file__).resolve().parents[2] / "policies" / "examples" / "starter.yaml"
STARTER = load_policy(STARTER_PATH)
STARTER_TEXT = STARTER_PATH.read_text(encoding="utf-8")
TEAMS = STARTER.teams
WHOLE_FILE = ("the file is empty", "a policy may be at most")

words = st.sampled_from(
    ["invoice", "Outage", "down", "Rechnung", "Störung", "refund", "hello", "asap", "!!", "cancel", "ß", "İ", "\n"]
)
texts = st.lists(st.one_of(words, st.text(max_size=12)), max_size=12).map(" ".join)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
) | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), probabilities, st.text(max_size=8))


@st.composite
def tickets(draw: st.DrawFn) -> Ticket:
    updated = draw(moments)
    return Ticket(
        source=draw(st.sampled_from(["rt", "file", "zendesk_eu"])),
        # Ids of letters and digits: a record refuses an id that is blank once control characters are dropped.
        external_id=draw(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8)),
        subject=draw(texts),
        body=draw(texts),
        channel=draw(st.none() | st.sampled_from(["email", "phone", "chat", ""])),
        language=draw(st.none() | st.sampled_from(["de", "en", "DE", "fr"])),
        tags=draw(st.lists(st.sampled_from(["Outage", "outage", "vip", "x y"]), max_size=3)),
        priority=draw(st.none() | st.sampled_from(PRIORITIES)),
        custom_fields=draw(st.dictionaries(st.sampled_from(["region", "seats"]), scalars, max_size=2)),
        created_at=updated - timedelta(hours=draw(st.integers(0, 10_000))),
        updated_at=updated,
    )


@st.composite
def customers(draw: st.DrawFn) -> Customer | None:
    if draw(st.booleans()):
        return None
    return Customer(
        source="rt",
        external_id=draw(st.text(min_size=1, max_size=6)),
        name=draw(st.none() | st.text(max_size=10)),
        attributes=draw(
            st.dictionaries(st.sampled_from(["plan", "seats", "mrr"]), scalars | st.sampled_from(["vip", "enterprise"]))
        ),
        opted_out=draw(st.booleans()),
    )


@st.composite
def signals(draw: st.DrawFn) -> Signals | None:
    if draw(st.booleans()):
        return None
    return Signals(
        intent=draw(st.none() | st.sampled_from([*TEAMS, "unknown-label"])),
        intent_probability=draw(st.none() | probabilities),
        intent_top_k=[
            {"label": t, "probability": p}
            for t, p in draw(st.lists(st.tuples(st.sampled_from(TEAMS), probabilities), max_size=3))
        ],
        urgency=draw(st.none() | st.sampled_from(PRIORITIES)),
        urgency_probability=draw(st.none() | probabilities),
        churn_risk=draw(st.none() | probabilities),
        churn_reasons=draw(st.lists(st.text(max_size=10), max_size=3)),
        language=draw(st.none() | st.sampled_from(["de", "en"])),
        abstain=draw(st.booleans()),
        abstain_reason=draw(st.none() | st.text(max_size=20)),
        features=draw(st.dictionaries(st.sampled_from(["logins_30d", "x"]), scalars, max_size=2)),
    )


histories = st.lists(
    st.one_of(
        moments, st.builds(OutreachRecord, sent_at=moments, customer_external_id=st.none() | st.text(max_size=4))
    ),
    max_size=4,
)


def _same(policy: RoutingPolicy, t: Ticket, c: Customer | None, s: Signals | None, now: datetime, h: Any) -> None:
    first = decide(policy, t, c, s, now, h)
    second = decide(policy, t, c, s, now, h)
    assert first.model_dump() == second.model_dump()
    assert len([e for e in first.trace if not e.rule.startswith("(")]) == len(policy.rules)
    assert first.policy_version == policy.version
    kinds = [a.kind for a in first.actions]
    assert len(kinds) == len(set(kinds))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=tickets(), c=customers(), s=signals(), now=moments, h=histories)
def test_decide_never_raises_and_is_deterministic_on_the_starter(
    t: Ticket, c: Customer | None, s: Signals | None, now: datetime, h: Any
) -> None:
    _same(STARTER, t, c, s, now, h)


# --- random valid policies ---------------------------------------------------------------------------

LEAVES = st.sampled_from(
    [
        {"ticket.subject": {"contains": ["invoice", "outage"]}},
        {"ticket.body": {"matches": r"\b(cancel\w*|kündig\w*)\b.*\b(account|vertrag)"}},
        {"ticket.text": {"matches": "(?i)^re:"}},
        {"ticket.language": "de"},
        {"ticket.tags": "vip"},
        {"ticket.priority": {"gte": "high"}},
        {"ticket.age_hours": {"gt": 24}},
        {"ticket.channel": {"exists": False}},
        {"ticket.custom_fields.region": {"in": ["emea", 3]}},
        {"customer.plan": ["vip", "enterprise"]},
        {"customer.attributes.seats": {"gte": 10}},
        {"customer.features.logins_30d": {"lt": 2}},
        {"customer.opted_out": False},
        {"signals.intent": "Billing and Payments"},
        {"signals.intent_probability": {"gte": 0.7}},
        {"signals.urgency": {"in": ["high", "urgent"]}},
        {"signals.churn_risk": {"gte": 0.5, "lt": 0.9}},
        {"signals.churn_reasons": {"contains": "payment_failed"}},
        {"time.weekday": ["sat", "sun"]},
        {"time.hour": {"lt": 8}},
        {"time.business_hours": True},
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
ACTIONS = st.sampled_from(
    [
        {"route": "Billing and Payments"},
        {"route": "Technical Support"},
        {"set_priority": "urgent"},
        {"set_priority": "low"},
        {"add_tags": ["a", "b"]},
        {"assign": "ada"},
        {
            "add_note": "Risk {{ signals.churn_risk | default(0, true) | percent }} "
            "{{ explanation.fired_rules | join(',') }}"
        },
        {"add_note": "{{ customer.attributes.plan }}"},  # fails for customers without a plan: skipped, not raised
        {"create_outreach": {"subject": "Hi {{ customer.name | default('there', true) }}", "template": "Call us?"}},
    ]
)
rules = st.lists(
    st.fixed_dictionaries(
        {"when": conditions, "then": st.lists(ACTIONS, min_size=1, max_size=3)},
        optional={"stop": st.booleans(), "override": st.booleans(), "min_confidence": probabilities},
    ),
    max_size=8,
)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # drawn actions are shared objects: write each out rather than as YAML aliases


@st.composite
def random_policies(draw: st.DrawFn) -> RoutingPolicy:
    drawn = draw(rules)
    for i, rule in enumerate(drawn):
        rule["name"] = f"rule-{i}"
    document = {
        "version": 1,
        "timezone": draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"])),
        "queues": {team: {"rt": team} for team in TEAMS},
        "defaults": {
            "triage_queue": "Triage",
            "min_confidence": draw(probabilities),
            "route_by_intent": draw(st.booleans()),
            "queue": draw(st.none() | st.sampled_from(TEAMS)),
        },
        "business_hours": {"start": "08:00", "end": draw(st.sampled_from(["18:00", "02:00"]))},
        "outreach": {"cooldown_hours": draw(st.integers(0, 500)), "daily_cap": draw(st.integers(0, 3))},
        "rules": drawn,
    }
    return parse_policy(yaml.dump(document, Dumper=_Dumper, allow_unicode=True), "random.yaml")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=random_policies(), t=tickets(), c=customers(), s=signals(), now=moments, h=histories)
def test_decide_never_raises_and_is_deterministic_on_random_policies(
    policy: RoutingPolicy, t: Ticket, c: Customer | None, s: Signals | None, now: datetime, h: Any
) -> None:
    _same(policy, t, c, s, now, h)


# --- invalid documents -------------------------------------------------------------------------------


def _located(text: str) -> None:
    try:
        parse_tested_policy(text, "fuzz.yaml")  # the policy and its tests, as `deskroute policy validate` reads them
    except PolicyError as exc:
        for issue in exc.issues:
            assert issue.source == "fuzz.yaml"
            assert issue.line >= 1 or any(w in issue.message for w in WHOLE_FILE), issue
            assert issue.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_gives_located_errors(text: str) -> None:
    _located(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(0, len(STARTER_TEXT)),
    length=st.integers(0, 40),
    insert=st.text(alphabet=" :-[]{}&*!|>'\"#\n\tabcxyz0123456789.", max_size=12),
)
def test_mutations_of_a_valid_policy_give_located_errors(start: int, length: int, insert: str) -> None:
    _located(STARTER_TEXT[:start] + insert + STARTER_TEXT[start + length :])


json_values = st.recursive(
    scalars | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
PATHS = [
    ("version",),
    ("queues",),
    ("queues", "Billing and Payments"),
    ("defaults",),
    ("defaults", "min_confidence"),
    ("rules",),
    ("rules", 0),
    ("rules", 0, "when"),
    ("rules", 0, "then"),
    ("rules", 0, "when", "ticket.subject"),
    ("business_hours",),
    ("outreach",),
    ("outreach", "quiet_hours"),
    ("tests",),
    ("intents",),
    ("timezone",),
]


STARTER_DOCUMENT = yaml.safe_load(STARTER_TEXT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_wrong_values_anywhere_give_located_errors(path: tuple[Any, ...], value: Any) -> None:
    document = copy.deepcopy(STARTER_DOCUMENT)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _located(yaml.safe_dump(document, allow_unicode=True))
