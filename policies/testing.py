"""Policy tests: example tickets with the decision a support lead expects, run like unit tests.

A test gives a ticket (and optionally the customer, the signals, ``now`` and the outreach history) and
what to expect of the decision. Every ``expect`` key is checked; keys not written are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors import Customer, Ticket
from policies.engine import decide
from policies.outreach import OutreachRecord
from policies.signals import Decision, Signals

if TYPE_CHECKING:
    from policies.language import RoutingPolicy

EXPECT_KEYS: tuple[str, ...] = (
    "queue",
    "priority",
    "assignee",
    "tags",
    "no_tags",
    "abstained",
    "fired",
    "not_fired",
    "outreach",
    "note_contains",
    "no_note",
)


@dataclass(frozen=True)
class PolicyTestCase:
    """One example ticket and the decision expected for it."""

    name: str
    source: str
    line: int
    ticket: Ticket
    now: datetime
    expect: dict[str, Any]
    customer: Customer | None = None
    signals: Signals | None = None
    outreach_history: tuple[OutreachRecord, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class PolicyTestResult:
    case: PolicyTestCase
    decision: Decision
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _tags(decision: Decision) -> list[str]:
    action = decision.action("add_tags")
    return list(action.params["tags"]) if action else []


def _note(decision: Decision) -> str | None:
    action = decision.action("add_note")
    return str(action.params["body"]) if action else None


def check_expectations(decision: Decision, expect: dict[str, Any]) -> list[str]:
    """What differs between ``decision`` and ``expect``; empty when the decision is as expected."""
    failures: list[str] = []
    for key in ("queue", "priority"):
        if key in expect and getattr(decision, key) != expect[key]:
            failures.append(f"expected {key} {expect[key]!r}, got {getattr(decision, key)!r}")
    if "assignee" in expect:
        action = decision.action("assign")
        got = action.params["assignee"] if action else None
        if got != expect["assignee"]:
            failures.append(f"expected assignee {expect['assignee']!r}, got {got!r}")
    tags = _tags(decision)
    missing = [t for t in expect.get("tags", []) if t not in tags]
    if missing:
        failures.append(f"expected tags {missing} among {tags}")
    unwanted = [t for t in expect.get("no_tags", []) if t in tags]
    if unwanted:
        failures.append(f"expected no tags {unwanted}, got {tags}")
    if "abstained" in expect and decision.abstained != expect["abstained"]:
        failures.append(
            f"expected abstained {expect['abstained']}, got {decision.abstained}"
            + (f" ({decision.abstain_reason})" if decision.abstain_reason else "")
        )
    fired = decision.fired_rules()
    for name in expect.get("fired", []):
        if name not in fired:
            why = next((t.reason for t in decision.trace if t.rule == name), "not in the trace")
            failures.append(f"expected rule '{name}' to fire, but: {why}")
    for name in expect.get("not_fired", []):
        if name in fired:
            failures.append(f"expected rule '{name}' not to fire, but it did")
    if "outreach" in expect:
        got_outreach = decision.action("create_outreach") is not None
        if got_outreach != expect["outreach"]:
            notes = [e for t in decision.trace for e in t.effects if e.startswith("outreach")]
            failures.append(
                f"expected outreach {expect['outreach']}, got {got_outreach}" + (f" ({notes[0]})" if notes else "")
            )
    note = _note(decision)
    for text in expect.get("note_contains", []):
        if note is None or text.casefold() not in note.casefold():
            failures.append(f"expected the note to contain {text!r}, note was {note!r}")
    if expect.get("no_note") and note is not None:
        failures.append(f"expected no note, got {note!r}")
    return failures


def run_policy_tests(policy: RoutingPolicy) -> list[PolicyTestResult]:
    """Decide every test case of ``policy`` and compare with its expectations."""
    results = []
    for case in policy.tests:
        decision = decide(
            policy,
            case.ticket,
            case.customer,
            case.signals,
            case.now,
            case.outreach_history,
        )
        results.append(PolicyTestResult(case, decision, check_expectations(decision, case.expect)))
    return results
