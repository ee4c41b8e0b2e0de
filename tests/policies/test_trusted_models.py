"""decide() builds its Decision, RuleTrace and Action objects without validating them a second time.

They must be exactly what validation builds from the same arguments: the same values, the same fields
counted as set, the same repr and JSON, Action's own checks passing, and the idempotency keys Action
itself gives (keys are persisted in outboxes: the pinned keys below were computed before this shortcut
existed and must never change).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings

from connectors import Action, Customer, Ticket
from policies import Decision, OutreachRecord, RuleTrace, Signals, decide, parse_policy
from tests.policies.test_properties import STARTER, customers, histories, moments, signals, tickets

NOW = datetime(2025, 1, 4, 21, 30, tzinfo=UTC)  # a Saturday evening: after hours, outside quiet hours in UTC

EVERY_ACTION = """
version: 1
name: every-action
timezone: UTC
queues:
  Billing: {rt: Billing}
  Outages: {rt: Outages}
  Triage: {rt: Triage}
defaults: {triage_queue: Triage, min_confidence: 0.5, priority: normal}
outreach: {cooldown_hours: 24, daily_cap: 1}
rules:
  - name: outage
    when: {ticket.subject: {matches: '\\b(outage|down)\\b'}}
    then: [{route: Outages}, {set_priority: urgent}, {add_tags: [outage, Störung]}]
  - name: billing
    when: {any: [{ticket.subject: {contains: [invoice, Rechnung]}}, {signals.intent: Billing}]}
    then: [{route: Billing}, {add_tags: [billing]}]
  - name: weekend
    when: {time.weekday: [sat, sun]}
    then: {assign: on-call, add_tags: [weekend]}
  - name: churn
    when: {all: [{signals.churn_risk: {gte: 0.7}}, {not: {customer.opted_out: true}}]}
    then:
      - add_note: "Churn risk {{ signals.churn_risk | percent }}: {{ explanation.fired_rules | join(', ') }}"
      - create_outreach:
          subject: "Can we help, {{ customer.name | default('there', true) }}?"
          template: "We would be glad to call you back about ticket {{ ticket.external_id }}."
  - name: never
    min_confidence: 0.9
    when: {signals.intent: Billing}
    then: {add_tags: [sure]}
"""
POLICY = parse_policy(EVERY_ACTION, "every-action.yaml")


def _ticket(**fields: Any) -> Ticket:
    data: dict[str, Any] = {
        "source": "rt",
        "external_id": "T-7",
        "subject": "Outage: Rechnung nicht erreichbar",
        "body": 'Größe ≥ 10 € "quoted"',
        "created_at": NOW - timedelta(hours=3),
        "updated_at": NOW - timedelta(hours=1),
    }
    data.update(fields)
    return Ticket(**data)


CUSTOMER = Customer(source="rt", external_id="c-1", name="Zoë", attributes={"plan": "pro"})
CHURNING = Signals(intent="Billing", intent_probability=0.8, churn_risk=0.9, churn_reasons=["payment_failed"])


def assert_as_validated(d: Decision) -> None:
    """Each model of ``d`` equals the one validation builds from the fields ``d`` says were set."""
    for entry in d.trace:
        validated = RuleTrace(**{name: getattr(entry, name) for name in entry.model_fields_set})
        assert validated == entry
        assert validated.model_fields_set == entry.model_fields_set
        assert repr(validated) == repr(entry)
    for action in d.actions:
        validated_action = Action(**{name: getattr(action, name) for name in action.model_fields_set})
        assert validated_action == action
        assert validated_action.model_fields_set == action.model_fields_set
        assert repr(validated_action) == repr(action)
        fresh = Action(kind=action.kind, target=action.target, params=action.params)
        assert action.idempotency_key == fresh.default_key(d.decision_scope)
    data = {name: getattr(d, name) for name in d.model_fields_set}
    data["trace"] = [t.model_dump(include=t.model_fields_set) for t in d.trace]
    data["actions"] = [a.model_dump() for a in d.actions]
    rebuilt = Decision.model_validate(data)
    assert rebuilt == d
    assert rebuilt.model_fields_set == d.model_fields_set
    assert [t.model_fields_set for t in rebuilt.trace] == [t.model_fields_set for t in d.trace]
    assert repr(rebuilt) == repr(d)
    assert rebuilt.model_dump_json() == d.model_dump_json()
    assert rebuilt.model_dump(exclude_unset=True) == d.model_dump(exclude_unset=True)


def test_every_kind_of_action_and_trace_entry_is_as_validation_builds_it() -> None:
    cases = [
        decide(POLICY, _ticket(), CUSTOMER, CHURNING, NOW),
        decide(POLICY, _ticket(subject="Hello"), None, None, NOW - timedelta(days=2)),
        decide(POLICY, _ticket(subject="Hello"), CUSTOMER, Signals(intent="Billing", intent_probability=0.2), NOW),
        decide(POLICY, _ticket(subject="Hello"), CUSTOMER, Signals(abstain=True), NOW, decision_scope="replay-1"),
        decide(POLICY, _ticket(), CUSTOMER, CHURNING, NOW, [OutreachRecord(sent_at=NOW - timedelta(hours=2))]),
    ]
    kinds = {a.kind for d in cases for a in d.actions}
    assert kinds == {"route", "set_priority", "assign", "add_tags", "add_note", "create_outreach"}
    assert any(d.abstained for d in cases)
    for d in cases:
        assert_as_validated(d)


def test_trace_entries_and_decisions_can_be_changed_and_copied_like_validated_ones() -> None:
    d = decide(POLICY, _ticket(), CUSTOMER, CHURNING, NOW)
    entry = d.trace[-1]
    entry.reason = "edited"
    entry.effects.append("more")
    assert entry.reason == "edited" and "more" in entry.effects
    copied = d.model_copy(update={"policy_name": "copy"}, deep=True)
    assert copied.policy_name == "copy" and copied.trace == d.trace and copied.actions == d.actions


def test_idempotency_keys_are_the_ones_decide_always_gave() -> None:
    # Computed by the validating implementation of decide(); outboxes hold keys like these. An explicit
    # scope keeps them independent of the policy's content hash.
    d = decide(POLICY, _ticket(), CUSTOMER, CHURNING, NOW, decision_scope="rt:T-7:v1")
    assert [(a.kind, a.idempotency_key) for a in d.actions] == [
        ("route", "2da4a4e8c5727e25d822a81e"),
        ("set_priority", "621fd9c5984ca9d748cf2d42"),
        ("assign", "25015ee860315e87815fd3c1"),
        ("add_tags", "5ac20d86640d0d1b45ae62bf"),
        ("add_note", "5cd8197c836cf63e8048e628"),
        ("create_outreach", "b257dcd6394673d27174fc05"),
    ]
    plain = decide(
        POLICY,
        _ticket(subject="Hello"),
        None,
        Signals(abstain=True, abstain_reason="margin 0.01"),
        NOW - timedelta(days=2),
        decision_scope="s",
    )
    assert plain.abstained
    assert [(a.kind, a.idempotency_key) for a in plain.actions] == [
        ("route", "b87157f5e4e46df99ab40bfa"),
        ("set_priority", "7b9a2b51003bdea04f966ca8"),
        ("add_note", "9798bcc7e65e3d45c9be3898"),
    ]
    scoped = decide(POLICY, _ticket(), CUSTOMER, CHURNING, NOW)
    assert scoped.decision_scope == f"rt:T-7:{(NOW - timedelta(hours=1)).isoformat()}:{POLICY.version}"
    assert scoped.actions[0].idempotency_key == Action(
        kind="route", target="T-7", params={"queue": "Outages"}
    ).default_key(scoped.decision_scope)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=tickets(), c=customers(), s=signals(), now=moments, h=histories)
def test_decisions_on_random_input_are_as_validation_builds_them(
    t: Ticket, c: Customer | None, s: Signals | None, now: datetime, h: Any
) -> None:
    assert_as_validated(decide(STARTER, t, c, s, now, h))
    assert_as_validated(decide(POLICY, t, c, s, now, h))
