"""Policy tests: example tickets with the decision a support lead expects, read and run like unit tests.

A test gives a ticket (and optionally the customer, the signals, ``now`` and the outreach history) and
what to expect of the decision. Every ``expect`` key is checked; keys not written are not checked. Tests
live under ``tests:`` in the policy and in ``NAME.tests.yaml`` beside it; they are read here, after the
policy itself validated (:mod:`policies.loader` does not read them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from connectors import Customer, RecordError, Ticket
from policies.evaluator import decide
from policies.loader import DocumentReader, kind_of, policy_from_document, read_policy_file
from policies.moments import MomentError, moment_of_deciding
from policies.outreach import OutreachRecord
from policies.policy_errors import PolicyError, PolicyIssue, did_you_mean
from policies.routing_policy import RoutingPolicy
from policies.ticket_signals import Decision, Signals
from policies.yaml_reader import Path as DocPath
from policies.yaml_reader import read_yaml

TEST_KEYS = ("name", "ticket", "customer", "signals", "now", "outreach_history", "expect")
DEFAULT_TEST_NOW = datetime.fromisoformat("2025-01-06T10:00:00+00:00")  # a Monday morning

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


def run_policy_tests(policy: RoutingPolicy, cases: Sequence[PolicyTestCase]) -> list[PolicyTestResult]:
    """Decide every test case with ``policy`` and compare with its expectations."""
    results = []
    for case in cases:
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


# --- reading tests ---------------------------------------------------------------------------------------


class PolicyWithTests(NamedTuple):
    """A validated policy with its validated tests."""

    policy: RoutingPolicy
    tests: tuple[PolicyTestCase, ...]


class _TestReader(DocumentReader):
    """Reads the ``tests:`` of one document (the policy, or the tests file beside it)."""

    def tests(self, path: DocPath, value: Any, policy: RoutingPolicy) -> list[PolicyTestCase]:
        if not isinstance(value, list):
            self.error(
                path,
                f"tests must be a list of test cases (lines starting with '- name:'), not {kind_of(value)}",
            )
            return []
        cases = []
        for i, raw in enumerate(value):
            case = self.test_case((*path, i), raw, i, policy)
            if case is not None:
                cases.append(case)
        return cases

    def test_case(self, path: DocPath, raw: Any, index: int, policy: RoutingPolicy) -> PolicyTestCase | None:
        data = self.mapping(path, raw, f"test #{index + 1}", TEST_KEYS, ("name", "ticket", "expect"))
        if data is None:
            return None
        start = len(self.issues)
        name = self.text((*path, "name"), data.get("name"), "test name") if "name" in data else None
        now = self.moment((*path, "now"), data["now"]) if "now" in data else DEFAULT_TEST_NOW
        ticket = customer = None
        signals: Signals | None = None
        if "ticket" in data:
            tdata = self.mapping((*path, "ticket"), data["ticket"], "ticket")
            if tdata is not None:
                filled = {
                    "source": "test",
                    "external_id": f"test-{index + 1}",
                    "created_at": now or DEFAULT_TEST_NOW,
                    "updated_at": now or DEFAULT_TEST_NOW,
                    **tdata,
                }
                ticket = self.record((*path, "ticket"), Ticket, filled)
        if data.get("customer") is not None:
            cdata = self.mapping((*path, "customer"), data["customer"], "customer")
            if cdata is not None:
                customer = self.record(
                    (*path, "customer"), Customer, {"source": "test", "external_id": "customer-1", **cdata}
                )
        if data.get("signals") is not None:
            sdata = self.mapping((*path, "signals"), data["signals"], "signals")
            if sdata is not None:
                signals = self.record((*path, "signals"), Signals, sdata)
        history = self.history((*path, "outreach_history"), data.get("outreach_history"), customer)
        expect = self.expect((*path, "expect"), data.get("expect"), policy)
        if len(self.issues) > start or name is None or ticket is None or now is None or expect is None:
            return None
        return PolicyTestCase(
            name=name,
            source=self.doc.source,
            line=self.doc.key_mark(path).line,
            ticket=ticket,
            now=now,
            expect=expect,
            customer=customer,
            signals=signals,
            outreach_history=tuple(history),
        )

    def moment(self, path: DocPath, value: Any) -> datetime | None:
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                moment = None
        if not isinstance(moment, datetime):
            self.error(path, f"{value!r} is not a date and time; write e.g. 2025-01-06T10:00:00+01:00")
            return None
        try:
            return moment_of_deciding(moment)
        except MomentError as exc:
            self.error(path, str(exc))
            return None

    def record(self, path: DocPath, model: Any, data: dict[str, Any]) -> Any:
        try:
            if model is Signals:
                return Signals.model_validate(data)
            return model.parse(data, where=model.__name__)
        except RecordError as exc:
            for field_name, message in exc.errors:
                self.error((*path, field_name.split(".")[0]), f"{path[-1]}.{field_name}: {message}")
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                self.error((*path, loc[0]) if loc else path, f"{path[-1]}.{'.'.join(loc)}: {err['msg']}")
        return None

    def history(self, path: DocPath, value: Any, customer: Customer | None) -> list[OutreachRecord]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, "outreach_history must be a list of past contact times")
            return []
        records = []
        for i, item in enumerate(value):
            ipath = (*path, i)
            if isinstance(item, dict):
                data = self.mapping(ipath, item, "an outreach record", ("at", "customer", "channel"), ("at",))
                if data is None or "at" not in data:
                    continue
                at = self.moment((*ipath, "at"), data["at"])
                who = data.get("customer", customer.external_id if customer else None)
                channel = data.get("channel")
                if at is not None:
                    records.append(
                        OutreachRecord(
                            sent_at=at,
                            customer_external_id=None if who is None else str(who),
                            channel=None if channel is None else str(channel),
                        )
                    )
            else:
                at = self.moment(ipath, item)
                if at is not None:
                    records.append(OutreachRecord(sent_at=at, customer_external_id=None))
        return records

    def expect(self, path: DocPath, value: Any, policy: RoutingPolicy) -> dict[str, Any] | None:
        data = self.mapping(path, value, "expect", EXPECT_KEYS)
        if data is None:
            return None
        start = len(self.issues)
        expect: dict[str, Any] = {}
        rule_names = [r.name for r in policy.rules]
        for key, raw in data.items():
            kpath = (*path, key)
            if key in ("queue", "priority", "assignee"):
                if raw is None:
                    expect[key] = None
                elif key == "queue":
                    expect[key] = self.team(kpath, raw, "expected queue")
                elif key == "priority":
                    expect[key] = self.priority(kpath, raw, "expected priority")
                else:
                    expect[key] = self.text(kpath, raw, "expected assignee")
            elif key in ("abstained", "outreach", "no_note"):
                expect[key] = self.boolean(kpath, raw, key)
            else:
                items = raw if isinstance(raw, list) else [raw]
                texts = [
                    self.text((*kpath, i) if isinstance(raw, list) else kpath, v, key) for i, v in enumerate(items)
                ]
                if key in ("fired", "not_fired"):
                    for i, t in enumerate(texts):
                        if t is not None and t not in rule_names and not t.startswith("("):
                            self.error(
                                (*kpath, i) if isinstance(raw, list) else kpath,
                                f"no rule is named '{t}'{did_you_mean(t, rule_names)}",
                            )
                expect[key] = [t for t in texts if t is not None]
        return expect if len(self.issues) == start else None


def _read_tests(doc_reader: _TestReader, data: Any, policy: RoutingPolicy) -> list[PolicyTestCase]:
    if isinstance(data, dict) and "tests" in data:
        return doc_reader.tests(("tests",), data["tests"], policy)
    return []


def parse_tested_policy(
    text: str, source: str = "<policy>", *, tests_text: str | None = None, tests_source: str | None = None
) -> PolicyWithTests:
    """Validate a policy and its tests; raise :class:`PolicyError` listing every located problem.

    The tests are the policy's own ``tests:`` and those of ``tests_text``, a second document (the file
    beside the policy) that holds a mapping with ``tests:``. Tests are read only once the policy is valid.
    """
    doc = read_yaml(text, source)
    policy = policy_from_document(doc)
    reader = _TestReader(doc, policy.teams)
    cases = _read_tests(reader, doc.data, policy)
    issues = list(reader.issues)
    if tests_text is not None:
        tests_doc = read_yaml(tests_text, tests_source or f"{source} (tests)")
        tests_reader = _TestReader(tests_doc, policy.teams)
        data = tests_reader.mapping((), tests_doc.data, "a tests file", ("tests",), ("tests",))
        cases += _read_tests(tests_reader, data, policy)
        issues += tests_reader.issues
    if issues:
        raise PolicyError(issues)
    names: dict[str, PolicyTestCase] = {}
    for case in cases:
        if case.name in names:
            first = names[case.name]
            issues.append(
                PolicyIssue(case.source, case.line, 1, f"duplicate test name '{case.name}' (first at {first.location})")
            )
        names[case.name] = case
    if issues:
        raise PolicyError(issues)
    return PolicyWithTests(policy, tuple(cases))


def tests_path_for(path: Path) -> Path:
    """Where the tests beside a policy live: ``starter.yaml`` → ``starter.tests.yaml``."""
    return path.with_name(path.name.split(".")[0] + ".tests.yaml")


def load_tested_policy(path: str | Path) -> PolicyWithTests:
    """Read and validate a policy file and its tests, with those beside it (``NAME.tests.yaml``) when present."""
    path = Path(path)
    text = read_policy_file(path)
    tests_text = tests_source = None
    beside = tests_path_for(path)
    if beside.is_file() and beside != path:
        tests_text, tests_source = read_policy_file(beside), str(beside)
    return parse_tested_policy(text, str(path), tests_text=tests_text, tests_source=tests_source)
