"""Policy tests: inline and beside the policy, expectations checked, failures reported with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError, load_policy, load_tested_policy, parse_policy, parse_tested_policy, run_policy_tests

POLICY = """
version: 1
queues:
  Billing: {file: Billing}
  Triage: {file: Triage}
defaults: {triage_queue: Triage, queue: Triage}
rules:
  - name: billing
    when: {ticket.subject: {contains: invoice}}
    then: {route: Billing, add_tags: [billing], add_note: "Billing: {{ ticket.subject }}"}
tests:
  - name: invoices go to billing
    ticket: {subject: "Invoice 7"}
    expect: {queue: Billing, tags: [billing], fired: [billing], note_contains: "Billing: Invoice 7"}
"""


def test_inline_tests_pass() -> None:
    results = run_policy_tests(*parse_tested_policy(POLICY, "p.yaml"))
    assert [r.passed for r in results] == [True]
    assert results[0].case.location == "p.yaml:12"


@pytest.mark.parametrize(
    ("expect", "failure"),
    [
        ("{queue: Triage}", "expected queue 'Triage', got 'Billing'"),
        ("{priority: high}", "expected priority 'high', got None"),
        ("{tags: [vip]}", "expected tags ['vip'] among ['billing']"),
        ("{no_tags: [billing]}", "expected no tags ['billing']"),
        ("{abstained: true}", "expected abstained True, got False"),
        ("{not_fired: [billing]}", "expected rule 'billing' not to fire"),
        ("{outreach: true}", "expected outreach True, got False"),
        ("{note_contains: refund}", "expected the note to contain 'refund'"),
        ("{no_note: true}", "expected no note"),
        ("{assignee: ada}", "expected assignee 'ada', got None"),
    ],
)
def test_each_expectation_can_fail(expect: str, failure: str) -> None:
    text = POLICY.replace(
        'expect: {queue: Billing, tags: [billing], fired: [billing], note_contains: "Billing: Invoice 7"}',
        f"expect: {expect}",
    )
    (result,) = run_policy_tests(*parse_tested_policy(text, "p.yaml"))
    assert not result.passed
    assert any(failure in f for f in result.failures), result.failures


def test_a_rule_that_did_not_fire_says_why() -> None:
    text = POLICY.replace('subject: "Invoice 7"', 'subject: "Hello"')
    (result,) = run_policy_tests(*parse_tested_policy(text, "p.yaml"))
    assert (
        "expected rule 'billing' to fire, but: condition failed: ticket.subject contains 'invoice': "
        "was 'Hello'" in result.failures
    )


def test_tests_beside_the_policy_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(POLICY)
    (tmp_path / "routing.tests.yaml").write_text(
        "tests:\n  - name: other ticket\n    ticket: {subject: Hi}\n    expect: {queue: Triage}\n"
    )
    policy, cases = load_tested_policy(tmp_path / "routing.yaml")
    assert [c.name for c in cases] == ["invoices go to billing", "other ticket"]
    assert cases[1].location == f"{tmp_path / 'routing.tests.yaml'}:2"
    assert all(r.passed for r in run_policy_tests(policy, cases))
    # The policy alone, as the running agent loads it, is the same policy.
    assert load_policy(tmp_path / "routing.yaml").version == policy.version


def test_bad_test_inputs_are_located_errors(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(POLICY)
    (tmp_path / "routing.tests.yaml").write_text(
        "tests:\n"
        "  - name: bad\n"
        "    ticket: {subject: Hi, priority: critical}\n"
        "    signals: {churn_risk: 3}\n"
        "    now: yesterday\n"
        "    expect: {queue: Biling, colour: red}\n"
    )
    with pytest.raises(PolicyError) as raised:
        load_tested_policy(tmp_path / "routing.yaml")
    text = str(raised.value)
    assert "routing.tests.yaml:5:10: 'yesterday' is not a date and time" in text
    assert "routing.tests.yaml:6:21: queue 'Biling' is not declared in queues; did you mean 'Billing'?" in text
    assert "routing.tests.yaml:6:29: unknown field 'colour' in expect" in text
    assert "routing.tests.yaml:4:27: signals.churn_risk: Input should be less than or equal to 1" in text
    assert "routing.tests.yaml:3:37: ticket.priority: Input should be 'low', 'normal', 'high' or 'urgent'" in text


def test_duplicate_test_names_are_refused() -> None:
    text = POLICY + "  - name: invoices go to billing\n    ticket: {subject: x}\n    expect: {queue: Triage}\n"
    with pytest.raises(PolicyError, match="duplicate test name 'invoices go to billing'"):
        parse_tested_policy(text, "p.yaml")


def test_the_policy_is_read_without_its_tests_and_they_do_not_change_its_version(tmp_path: Path) -> None:
    bare = POLICY.split("tests:")[0]
    broken_tests = POLICY.replace('ticket: {subject: "Invoice 7"}', "ticket: {subject: [not, text]}")
    assert parse_policy(broken_tests, "p.yaml").version == parse_policy(bare, "p.yaml").version
    with pytest.raises(PolicyError, match=r"ticket\.subject: Input should be a valid string"):
        parse_tested_policy(broken_tests, "p.yaml")
    # A policy that does not validate is reported alone: its tests are read once it does.
    with pytest.raises(PolicyError) as raised:
        parse_tested_policy(broken_tests.replace("route: Billing", "route: Biling"), "p.yaml")
    assert [i.message for i in raised.value.issues] == [
        "queue 'Biling' is not declared in queues; did you mean 'Billing'?"
    ]
