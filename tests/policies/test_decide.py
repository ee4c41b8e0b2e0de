"""decide(): rule order and precedence, abstention, absent signals, guardrails, keys and the trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from connectors import Action, Customer, Ticket
from policies import OutreachRecord, RoutingPolicy, Signals, decide, default_scope, parse_policy

NOW = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Berlin

HEAD = """
version: 1
timezone: Europe/Berlin
queues:
  Billing: {rt: Billing, zendesk_eu: 360001234}
  Technical Support: {rt: Tech, zendesk_eu: 360005678}
  Outages: {rt: Outages, zendesk_eu: 360009999}
  Triage: {rt: Triage, zendesk_eu: 360000001}
intents:
  refund_request: Billing
defaults:
  triage_queue: Triage
  min_confidence: 0.5
"""


def policy(rules: str, extra: str = "") -> RoutingPolicy:
    return parse_policy(HEAD + extra + "rules:\n" + rules, "test.yaml")


def ticket(**fields: Any) -> Ticket:
    data: dict[str, Any] = {
        "source": "rt",
        "external_id": "42",
        "subject": "",
        "body": "",
        "created_at": NOW,
        "updated_at": NOW,
    }
    data.update(fields)
    return Ticket(**data)


def customer(**fields: Any) -> Customer:
    data: dict[str, Any] = {"source": "rt", "external_id": "c-1"}
    data.update(fields)
    return Customer(**data)


def trace_of(decision: Any, rule: str) -> Any:
    return next(t for t in decision.trace if t.rule == rule)


ROUTING = """
  - name: outage
    when: {ticket.subject: {contains: outage}}
    then: [{route: Outages}, {set_priority: urgent}, {add_tags: [outage]}]
  - name: billing
    when: {ticket.subject: {contains: [invoice, outage]}}
    then: [{route: Billing}, {set_priority: high}, {add_tags: [billing, outage]}]
"""


def test_the_first_rule_to_set_a_field_wins_and_tags_accumulate() -> None:
    d = decide(policy(ROUTING), ticket(subject="Outage on invoice page"), None, None, NOW)
    assert d.queue == "Outages" and d.priority == "urgent"
    assert d.action("add_tags") is not None and d.action("add_tags").params["tags"] == ["outage", "billing"]
    billing = trace_of(d, "billing")
    assert billing.fired
    assert any("not applied: rule 'outage' already routed to Outages" in e for e in billing.effects)


def test_override_lets_a_later_rule_replace_a_value() -> None:
    rules = ROUTING.replace("  - name: billing\n", "  - name: billing\n    override: true\n")
    d = decide(policy(rules), ticket(subject="Outage on invoice page"), None, None, NOW)
    assert d.queue == "Billing" and d.priority == "high"
    assert "route → Billing (overrides 'outage')" in trace_of(d, "billing").effects


def test_stop_ends_evaluation_and_the_trace_says_so() -> None:
    rules = ROUTING.replace("    then: [{route: Outages}", "    stop: true\n    then: [{route: Outages}")
    d = decide(policy(rules), ticket(subject="Outage on invoice page"), None, None, NOW)
    assert d.fired_rules() == ["outage"]
    assert trace_of(d, "billing").reason == "not evaluated: rule 'outage' stops evaluation"


def test_every_rule_is_in_the_trace_with_the_failed_comparison() -> None:
    d = decide(policy(ROUTING), ticket(subject="Hello"), None, None, NOW)
    assert [t.rule for t in d.trace][:2] == ["outage", "billing"]
    assert trace_of(d, "outage").reason == "condition failed: ticket.subject contains 'outage': was 'Hello'"
    assert not trace_of(d, "billing").fired


def test_a_condition_on_an_absent_signal_is_false_and_explained() -> None:
    rules = """
  - name: churn
    when: {signals.churn_risk: {gte: 0.7}}
    then: {add_tags: [churn]}
  - name: not-churn
    when: {not: {signals.churn_risk: {gte: 0.7}}}
    then: {add_tags: [calm]}
"""
    d = decide(policy(rules), ticket(), None, None, NOW)
    assert trace_of(d, "churn").reason == "condition failed: signals.churn_risk is absent (no churn model output)"
    assert trace_of(d, "not-churn").fired  # documented: not(absent) holds


def test_rules_only_policy_works_without_any_model() -> None:
    d = decide(policy(ROUTING, "  queue: Technical Support\n"), ticket(subject="Printer"), None, None, NOW)
    assert d.queue == "Technical Support" and not d.abstained
    assert trace_of(d, "(default)").fired


def test_the_intent_routes_when_no_rule_does_and_intents_map_labels_to_teams() -> None:
    signals = Signals(intent="refund_request", intent_probability=0.9)
    d = decide(policy(ROUTING), ticket(subject="Money back"), None, signals, NOW)
    assert d.queue == "Billing"
    assert trace_of(d, "(intent)").reason == "the intent model predicted 'refund_request' at 0.90"


def test_min_confidence_abstains_to_triage_with_a_note() -> None:
    signals = Signals(intent="Billing", intent_probability=0.3)
    d = decide(policy(ROUTING), ticket(subject="Money back"), None, signals, NOW)
    assert d.abstained and d.abstain_source == "min_confidence" and d.queue == "Triage"
    assert "below the policy's min_confidence 0.5" in (d.abstain_reason or "")
    note = d.action("add_note")
    assert note is not None and "below the policy's min_confidence" in note.params["body"]
    assert note.params["public"] is False


def test_the_models_own_abstention_is_told_apart() -> None:
    signals = Signals(intent="Billing", intent_probability=0.9, abstain=True, abstain_reason="margin 0.01")
    d = decide(policy(ROUTING), ticket(subject="Money back"), None, signals, NOW)
    assert d.abstained and d.abstain_source == "model"
    assert d.abstain_reason == "the intent model abstained (margin 0.01)"


def test_while_abstaining_intent_conditions_are_false_but_keyword_rules_still_route() -> None:
    rules = (
        ROUTING
        + """
  - name: billing-model
    when: {signals.intent: Billing}
    then: {add_tags: [model-billing]}
"""
    )
    signals = Signals(intent="Billing", intent_probability=0.2)
    d = decide(policy(rules), ticket(subject="invoice"), None, signals, NOW)
    assert d.queue == "Billing" and not d.abstained
    assert "signals.intent is absent (not used: intent 'Billing' at 0.20" in trace_of(d, "billing-model").reason
    assert not trace_of(d, "(abstain)").fired


def test_a_rule_gated_by_confidence_does_not_fire_below_it() -> None:
    rules = """
  - name: sure-billing
    min_confidence: 0.8
    when: {signals.intent: Billing}
    then: {add_tags: [sure]}
"""
    low = decide(policy(rules), ticket(), None, Signals(intent="Billing", intent_probability=0.7), NOW)
    high = decide(policy(rules), ticket(), None, Signals(intent="Billing", intent_probability=0.85), NOW)
    assert "below the rule's min_confidence 0.8" in trace_of(low, "sure-billing").reason
    assert trace_of(high, "sure-billing").fired


def test_default_priority_only_for_tickets_without_one() -> None:
    p = policy(ROUTING, "  priority: normal\n")
    assert decide(p, ticket(), None, None, NOW).priority == "normal"
    assert decide(p, ticket(priority="low"), None, None, NOW).priority is None


def test_queue_for_translates_teams_per_connector() -> None:
    p = policy(ROUTING)
    assert p.queue_for("Billing", "zendesk_eu") == "360001234"
    assert p.queue_for("Billing", "rt") == "Billing"
    assert p.queue_for("Billing", "freshdesk") is None
    assert p.queue_for("Nobody", "rt") is None
    assert p.team_for_intent("refund_request") == "Billing"
    assert p.team_for_intent("Billing") == "Billing"
    assert p.team_for_intent("unknown") is None


TIME_RULES = """
  - name: after-hours
    when: {time.business_hours: false}
    then: {add_tags: [after-hours]}
  - name: weekend
    when: {time.weekday: [sat, sun]}
    then: {add_tags: [weekend]}
"""
HOURS = """business_hours:
  days: [mon, tue, wed, thu, fri]
  start: "08:00"
  end: "18:00"
  holidays: [2025-12-25]
"""


@pytest.mark.parametrize(
    ("moment", "after_hours", "weekend"),
    [
        (datetime(2025, 1, 6, 10, 0, tzinfo=UTC), False, False),  # Monday 11:00 Berlin
        (datetime(2025, 1, 6, 17, 30, tzinfo=UTC), True, False),  # Monday 18:30 Berlin
        (datetime(2025, 1, 5, 23, 30, tzinfo=UTC), True, False),  # Sunday 23:30 UTC = Monday 00:30 Berlin
        (datetime(2025, 1, 4, 10, 0, tzinfo=UTC), True, True),  # Saturday
        (datetime(2025, 12, 25, 10, 0, tzinfo=UTC), True, False),  # holiday (a Thursday)
        (datetime(2025, 7, 7, 6, 30, tzinfo=UTC), False, False),  # summer time: 08:30 Berlin
    ],
)
def test_business_hours_and_weekdays_in_the_policy_time_zone(
    moment: datetime, after_hours: bool, weekend: bool
) -> None:
    d = decide(policy(TIME_RULES, HOURS), ticket(), None, None, moment)
    assert trace_of(d, "after-hours").fired is after_hours
    assert trace_of(d, "weekend").fired is weekend


def test_age_and_priority_comparisons() -> None:
    rules = """
  - name: stale-and-important
    when: {ticket.age_hours: {gt: 24}, ticket.priority: {gte: high}}
    then: {add_tags: [stale]}
"""
    old = ticket(created_at=NOW - timedelta(hours=30), priority="urgent")
    new = ticket(created_at=NOW - timedelta(hours=2), priority="urgent")
    low = ticket(created_at=NOW - timedelta(hours=30), priority="low")
    assert trace_of(decide(policy(rules), old, None, None, NOW), "stale-and-important").fired
    assert (
        "ticket.age_hours gt 24: was 2.0"
        in trace_of(decide(policy(rules), new, None, None, NOW), "stale-and-important").reason
    )
    assert not trace_of(decide(policy(rules), low, None, None, NOW), "stale-and-important").fired


def test_customer_attributes_features_and_plan() -> None:
    rules = """
  - name: big-and-quiet
    when:
      customer.plan: [enterprise, vip]
      customer.attributes.seats: {gte: 100}
      customer.features.logins_30d: {lt: 3}
    then: {add_tags: [at-risk-account]}
"""
    c = customer(attributes={"plan": "Enterprise", "seats": "250"})
    signals = Signals(features={"logins_30d": 1})
    d = decide(policy(rules), ticket(), c, signals, NOW)
    assert trace_of(d, "big-and-quiet").fired
    nobody = decide(policy(rules), ticket(), None, signals, NOW)
    assert "customer.plan is absent" in trace_of(nobody, "big-and-quiet").reason


OUTREACH = """
  - name: churn-save
    when: {signals.churn_risk: {gte: 0.7}}
    then:
      create_outreach:
        channel: email
        subject: "Hello {{ customer.name | default('there', true) }}"
        template: "Risk {{ signals.churn_risk | percent }}"
"""
GUARDRAILS = """outreach:
  cooldown_hours: 72
  daily_cap: 1
  quiet_hours: {start: "20:00", end: "08:00"}
"""
RISKY = Signals(churn_risk=0.9)


def test_outreach_is_planned_when_every_guardrail_allows_it() -> None:
    d = decide(policy(OUTREACH, GUARDRAILS), ticket(), customer(name="Ada"), RISKY, NOW)
    action = d.action("create_outreach")
    assert action is not None and action.target == "c-1"
    assert action.params == {"channel": "email", "subject": "Hello Ada", "body": "Risk 90%", "ticket": "42"}


@pytest.mark.parametrize(
    ("who", "history", "moment", "reason"),
    [
        (customer(opted_out=True), [], NOW, "opted out"),
        (None, [], NOW, "no customer record"),
        (customer(), [NOW - timedelta(hours=10)], NOW, "cool-down"),
        (customer(), [OutreachRecord(sent_at=NOW - timedelta(hours=10), customer_external_id="c-1")], NOW, "cool-down"),
        (customer(), [], datetime(2025, 1, 6, 20, 30, tzinfo=UTC), "quiet hours"),
    ],
)
def test_outreach_guardrails(who: Customer | None, history: list[Any], moment: datetime, reason: str) -> None:
    d = decide(policy(OUTREACH, GUARDRAILS), ticket(), who, RISKY, moment, history)
    assert d.action("create_outreach") is None
    assert any(reason in e for e in trace_of(d, "churn-save").effects)


def test_other_customers_history_and_future_contacts_do_not_count() -> None:
    history = [
        OutreachRecord(sent_at=NOW - timedelta(hours=1), customer_external_id="someone-else"),
        OutreachRecord(sent_at=NOW + timedelta(hours=1), customer_external_id="c-1"),
    ]
    d = decide(policy(OUTREACH, GUARDRAILS), ticket(), customer(), RISKY, NOW, history)
    assert d.action("create_outreach") is not None


def test_the_daily_cap_applies_when_the_cool_down_is_short() -> None:
    guard = GUARDRAILS.replace("cooldown_hours: 72", "cooldown_hours: 1").replace("daily_cap: 1", "daily_cap: 2")
    two = [NOW - timedelta(hours=5), NOW - timedelta(hours=3)]
    d = decide(policy(OUTREACH, guard), ticket(), customer(), RISKY, NOW, two)
    assert d.action("create_outreach") is None
    assert any("daily cap of 2" in e for e in trace_of(d, "churn-save").effects)
    one = decide(policy(OUTREACH, guard), ticket(), customer(), RISKY, NOW, two[:1])
    assert one.action("create_outreach") is not None


NOTES = """
  - name: explain
    then:
      - add_note: "Routed to {{ decision.queue }} by {{ explanation.fired_rules | join(', ') }}."
      - add_tags: [seen]
  - name: broken-note
    then:
      - add_note: "Plan: {{ customer.attributes.plan }}"
"""


def test_notes_render_after_all_rules_and_a_failing_template_is_skipped_not_raised() -> None:
    d = decide(policy(ROUTING + NOTES), ticket(subject="invoice"), customer(), None, NOW)
    note = d.action("add_note")
    assert note is not None
    assert note.params["body"] == "Routed to Billing by billing, explain, broken-note."
    assert any("note not added" in e and "plan" in e for e in trace_of(d, "broken-note").effects)


def test_idempotency_keys_are_stable_per_ticket_version_and_policy_version() -> None:
    p = policy(ROUTING)
    t = ticket(subject="invoice")
    first = decide(p, t, None, None, NOW)
    again = decide(p, t, None, None, NOW + timedelta(minutes=5))
    assert [a.idempotency_key for a in first.actions] == [a.idempotency_key for a in again.actions]
    assert first.decision_scope == default_scope(t, p)
    route = first.action("route")
    assert route is not None
    assert route.idempotency_key == Action(kind="route", target="42", params={"queue": "Billing"}).default_key(
        default_scope(t, p)
    )
    newer = decide(p, ticket(subject="invoice", updated_at=NOW + timedelta(hours=1)), None, None, NOW)
    assert newer.actions[0].idempotency_key != first.actions[0].idempotency_key
    other_policy = decide(policy(ROUTING + NOTES), t, None, None, NOW)
    assert other_policy.actions[0].idempotency_key != first.actions[0].idempotency_key
    scoped = decide(p, t, None, None, NOW, decision_scope="replay-7")
    assert scoped.decision_scope == "replay-7" and scoped.actions[0].idempotency_key != route.idempotency_key


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
"""


def test_idempotency_keys_of_every_kind_of_action_never_change() -> None:
    # Outboxes hold keys like these: deciding the same ticket version again must give the same ones. An
    # explicit scope keeps them independent of the policy's content hash.
    saturday = datetime(2025, 1, 4, 21, 30, tzinfo=UTC)
    p = parse_policy(EVERY_ACTION, "every-action.yaml")
    t = ticket(
        external_id="T-7",
        subject="Outage: Rechnung nicht erreichbar",
        body='Größe ≥ 10 € "quoted"',
        created_at=saturday - timedelta(hours=3),
        updated_at=saturday - timedelta(hours=1),
    )
    churning = Signals(intent="Billing", intent_probability=0.8, churn_risk=0.9, churn_reasons=["payment_failed"])
    d = decide(p, t, customer(name="Zoë", attributes={"plan": "pro"}), churning, saturday, decision_scope="rt:T-7:v1")
    assert [(a.kind, a.idempotency_key) for a in d.actions] == [
        ("route", "2da4a4e8c5727e25d822a81e"),
        ("set_priority", "621fd9c5984ca9d748cf2d42"),
        ("assign", "25015ee860315e87815fd3c1"),
        ("add_tags", "5ac20d86640d0d1b45ae62bf"),
        ("add_note", "5cd8197c836cf63e8048e628"),
        ("create_outreach", "b257dcd6394673d27174fc05"),
    ]
    plain = decide(
        p,
        ticket(external_id="T-7", subject="Hello"),
        None,
        Signals(abstain=True, abstain_reason="margin 0.01"),
        saturday - timedelta(days=2),
        decision_scope="s",
    )
    assert plain.abstained
    assert [(a.kind, a.idempotency_key) for a in plain.actions] == [
        ("route", "b87157f5e4e46df99ab40bfa"),
        ("set_priority", "7b9a2b51003bdea04f966ca8"),
        ("add_note", "9798bcc7e65e3d45c9be3898"),
    ]


def test_names_and_values_from_the_policy_are_only_data() -> None:
    hostile = "x'); import os; os._exit(1); ('"
    rule = {
        "name": hostile,
        "when": {"all": [{f"customer.attributes.{hostile}": hostile}, {"ticket.subject": hostile}]},
        "then": {"add_tags": ["x"]},
    }
    p = policy(yaml.safe_dump([rule], allow_unicode=True))
    d = decide(p, ticket(subject=hostile), customer(attributes={hostile: hostile.upper()}), None, NOW)
    assert d.fired_rules() == [hostile]


def test_decisions_serialise_and_validate_back() -> None:
    d = decide(policy(OUTREACH + ROUTING, GUARDRAILS), ticket(subject="invoice"), customer(), RISKY, NOW)
    again = type(d).model_validate_json(d.model_dump_json())
    assert again == d
    for action in d.actions:
        Action.model_validate(action.model_dump())


def test_naive_now_is_taken_as_utc() -> None:
    p = policy(TIME_RULES, HOURS)
    aware = decide(p, ticket(), None, None, NOW)
    naive = decide(p, ticket(), None, None, NOW.replace(tzinfo=None))
    assert aware.model_dump() == naive.model_dump()
