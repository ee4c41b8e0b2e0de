"""The policy version is a hash of what the policy does, not of how the file is written."""

from __future__ import annotations

from policies import parse_policy

POLICY = """
version: 1
queues: {Billing: {rt: Billing}, Triage: {rt: Triage}}
defaults: {triage_queue: Triage, min_confidence: 0.5}
rules:
  - name: billing
    when: {ticket.subject: {contains: invoice}}
    then: {route: Billing}
"""

REFORMATTED = """
# the same policy, written differently
version: 1
defaults:
  min_confidence: 0.50
  triage_queue: Triage
queues:
  Billing:
    rt: Billing
  Triage: {rt: Triage}
rules:
  - then: [{route: Billing}]
    when:
      ticket.subject: {contains: invoice}
    name: billing
    description: Invoices go to billing.
tests:
  - name: an invoice
    ticket: {subject: invoice}
    expect: {queue: Billing}
"""


def test_formatting_comments_descriptions_and_tests_do_not_change_the_version() -> None:
    assert parse_policy(POLICY, "a.yaml").version == parse_policy(REFORMATTED, "a.yaml").version


def test_a_change_in_behaviour_changes_the_version() -> None:
    base = parse_policy(POLICY, "a.yaml").version
    assert parse_policy(POLICY.replace("0.5", "0.6"), "a.yaml").version != base
    assert parse_policy(POLICY.replace("invoice", "refund"), "a.yaml").version != base
    assert len(base) == 16 and int(base, 16) >= 0
