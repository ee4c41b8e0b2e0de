"""A policy that validates decides any ticket in bounded time and memory, with the verdict of its whole text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

# Patterns that make a backtracking engine take exponential or quadratic time, or that a cut-off text
# would answer differently ('$' at the cut).
ADVERSARIAL = [
    r"(a+)+$",
    r"a.*b.*c",
    r"(x|x)*y",
    r"\w+@\w+\.com",
    r"(\w+\s?)+$",
    r"(.*a){12}!",
    r"^(a|aa)+$",
    r"(\d+)*x",
    r"(.*)*z",
    r"\b(\w+\W*)+q\b",
    r"([a-z]+)*[0-9]$",
    r"(ab|a)*c",
    r"(?s:.*)(.*)(.*)w",
    r".*.*.*=",
    r"(a*)*b",
    r"((a+)+)+c",
    r"\s*(\s*)*x",
    r"(a|b|ab)*bc",
    r"(\w\w?)*@",
    r"(?m:^(a+)+$)",
]


def _policy(patterns: list[str], field: str = "ticket.body", words: list[str] | None = None) -> str:
    words = words or []
    rules = [
        {"name": f"p{i}", "when": {field: {"matches": p}}, "then": {"add_tags": [f"p{i}"]}}
        for i, p in enumerate(patterns)
    ]
    rules += [
        {"name": f"w{i}", "when": {field: {"contains": words[i : i + 10]}}, "then": {"add_tags": [f"w{i}"]}}
        for i in range(0, len(words), 10)
    ]
    return json.dumps(
        {
            "version": 1,
            "name": "adversarial",
            "timezone": "Europe/Berlin",
            "queues": {"Support": {"rt": "Support"}},
            "defaults": {"triage_queue": "Support", "queue": "Support"},
            "rules": rules,
        }
    )


def test_a_pattern_answers_for_the_whole_text_of_a_long_ticket(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(_policy([r"(a+)+$", "needle"]))  # JSON is YAML
    validated = runner.invoke(app, ["policy", "validate", str(policy)])
    assert validated.exit_code == 0, validated.output

    def tags(body: str) -> list[str]:
        ticket = tmp_path / "ticket.json"
        ticket.write_text(json.dumps({"subject": "s", "body": body}))
        result = runner.invoke(
            app, ["policy", "explain", str(policy), "--ticket", str(ticket), "--now", "2025-01-06T10:00:00Z", "--json"]
        )
        assert result.exit_code == 0, result.output
        actions = json.loads(result.stdout)["actions"]
        return [t for a in actions if a["kind"] == "add_tags" for t in a["params"]["tags"]]

    # 'a' * 50,000 + '!' does not end in a's: a search cut at 20,000 characters said it did.
    assert tags("a" * 50_000 + "!") == []
    assert tags("a" * 50_000) == ["p0"]
    assert tags("x" * 200_000 + "needle") == ["p1"]


def test_a_policy_that_would_read_a_text_too_often_is_refused_at_validation(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(_policy([f"word{i}" for i in range(101)]))
    result = runner.invoke(app, ["policy", "validate", str(policy)])
    assert result.exit_code == 1 and "more than 100 regular expressions in one policy" in result.output
    policy.write_text(_policy([], words=[f"word{i}" for i in range(310)]))
    result = runner.invoke(app, ["policy", "validate", str(policy)])
    assert result.exit_code == 1 and "more than 300 words tested with 'contains'" in result.output
    policy.write_text(_policy(MOST_PATTERNS, words=MOST_WORDS))
    assert runner.invoke(app, ["policy", "validate", str(policy)]).exit_code == 0


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"done$\s*thanks", "'$' may only end it"),
        (r"a.{200}c", "needs more than 3,000 states"),
        (r"(?:ab|a){2000}c*", "too large"),
    ],
)
def test_a_pattern_that_cannot_be_searched_fast_is_refused_at_validation_with_the_reason(
    tmp_path: Path, pattern: str, reason: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(_policy([pattern]))
    result = runner.invoke(app, ["policy", "validate", str(policy)])
    assert result.exit_code == 1
    assert reason in result.output
    assert "Traceback" not in result.output


_MEASURE = textwrap.dedent(
    """
    import json, random, sys, time, tracemalloc
    from datetime import UTC, datetime
    from connectors import Ticket
    from policies import decide, parse_policy

    policy = parse_policy(open(sys.argv[1]).read(), sys.argv[1])
    now = datetime(2025, 1, 6, 10, tzinfo=UTC)
    figures = []
    ab = "".join(random.Random(7).choice("ab") for _ in range(1_000_000))
    for body in ("a" * 999_999 + "!", "ab x1_\\n!é" * 100_000, ab):
        ticket = Ticket(source="t", external_id="1", subject="s", body=body, created_at=now, updated_at=now)
        # Resident now (kB): the peak after the decision minus this bounds what the decision added.
        before = int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1])
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # the peak below starts from here, not from the imports'
        tracemalloc.start()
        started = time.process_time()
        decision = decide(policy, ticket, None, None, now)
        seconds = time.process_time() - started
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # VmHWM, the peak resident size of this process image: unlike ru_maxrss, it does not start at the
        # size of the parent that forked it (a test run holding the models, ~800 MB).
        peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])
        grown = (peak - before) * 1024
        figures.append({"seconds": seconds, "traced": traced, "rss_growth": grown, "rules": len(decision.trace)})
        del ticket, decision
    print(json.dumps(figures))
    """
)


# Patterns just within the limit on the states a search may need: each 'a' of the last 11 characters of
# a random a/b text is tracked, about 2,000 states each.
DENSE = [f"[ab]*a[ab]{{10}}{c}" for c in "cdefghijklmnopqrstuv"]


# The most a policy may read a text: 100 patterns at the state limit and 300 'contains' words that each
# nearly match all along a random a/b text.
MOST_PATTERNS = [f"[ab]*a[ab]{{10}}c{i}" for i in range(100)]
MOST_WORDS = [("ab" * 8)[: 4 + i % 12] + f"c{i}" for i in range(300)]


@pytest.mark.parametrize(
    ("patterns", "words"),
    [(ADVERSARIAL, []), (DENSE, []), (MOST_PATTERNS, MOST_WORDS)],
    ids=["backtracking", "many-states", "most-a-policy-may-read"],
)
def test_twenty_adversarial_patterns_decide_a_megabyte_body_in_a_second_and_100_mb(
    tmp_path: Path, patterns: list[str], words: list[str]
) -> None:
    # A process of its own: its peak resident memory is this decision's, not the test run's.
    policy = tmp_path / "policy.yaml"
    policy.write_text(_policy(patterns, words=words))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(policy)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    for figures in json.loads(done.stdout):
        assert figures["rules"] >= len(patterns) + len(words) // 10
        assert figures["seconds"] <= 1.0, figures
        assert figures["traced"] <= 100 * 2**20, figures
        assert figures["rss_growth"] <= 100 * 2**20, figures


# --- moments at the edges of the calendar ---------------------------------------------------------------

_BERLIN = """
version: 1
name: berlin
timezone: Europe/Berlin
queues: {Support: {rt: Support}}
defaults: {triage_queue: Support, queue: Support}
business_hours: {start: "08:00", end: "18:00", holidays: ["9999-12-31"]}
outreach: {cooldown_hours: 87600, quiet_hours: {start: "22:00", end: "07:00"}}
rules:
  - name: night
    when: {time.hour: {lt: 6}}
    then: {add_tags: [night]}
  - name: open
    when: {time.business_hours: {eq: true}}
    then: {add_tags: [open]}
  - name: save
    when: {ticket.subject: {contains: cancel}}
    then: {create_outreach: {subject: "Hello", template: "We saw {{ ticket.subject }} at {{ now }}"}}
"""


def test_now_at_the_end_of_the_calendar_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    policy = tmp_path / "berlin.yaml"
    policy.write_text(_BERLIN)
    for now in ("9999-12-31T23:30:00Z", "0001-01-01T00:30:00+01:00", "0001-01-01T12:00:00"):
        result = runner.invoke(app, ["policy", "explain", str(policy), "--ticket", '{"subject": "x"}', "--now", now])
        assert result.exit_code == 1, result.output
        # The command line takes the records' range; decide() itself is bounded by the calendar (below).
        assert "--now:" in result.output and "outside the supported range" in result.output
        assert "Traceback" not in result.output and "OverflowError" not in result.output


def test_the_last_moments_of_the_calendar_are_decided_in_local_time() -> None:
    from datetime import UTC, datetime

    from connectors import Customer, Ticket
    from policies import decide, parse_policy

    policy = parse_policy(_BERLIN, "berlin.yaml")
    created = datetime(2025, 1, 6, 10, tzinfo=UTC)
    ticket = Ticket(source="t", external_id="1", subject="cancel", created_at=created, updated_at=created)
    customer = Customer(source="t", external_id="c", name="A")
    decision = decide(policy, ticket, customer, None, datetime(9999, 12, 30, 23, 30, tzinfo=UTC))
    fired = {e.rule: e for e in decision.trace}
    # 00:30 on 31 December 9999 in Berlin: night, a holiday, inside quiet hours.
    assert fired["night"].fired and not fired["open"].fired
    assert any("quiet hours" in effect for effect in fired["save"].effects)


def test_decide_and_policy_tests_refuse_moments_outside_the_calendar(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from connectors import Customer, Ticket
    from policies import MomentError, OutreachRecord, PolicyError, decide, parse_policy, parse_tested_policy

    policy = parse_policy(_BERLIN, "berlin.yaml")
    late = datetime(9999, 12, 30, 23, 0, tzinfo=UTC)
    created = datetime(2025, 1, 6, 10, tzinfo=UTC)  # records stay within their own range; `now` is what is late
    ticket = Ticket(source="t", external_id="1", subject="cancel", created_at=created, updated_at=created)
    with pytest.raises(MomentError, match="outside the moments"):
        decide(policy, ticket, None, None, datetime(9999, 12, 31, 23, 30, tzinfo=UTC))
    # A contact late in the calendar: its ten-year cool-down ends after 9999, and is said so.
    customer = Customer(source="t", external_id="c", name="A")
    history = [OutreachRecord(sent_at=late - timedelta(hours=13), customer_external_id="c")]
    decision = decide(policy, ticket, customer, None, datetime(9999, 12, 30, 12, tzinfo=UTC), history)
    save = next(e for e in decision.trace if e.rule == "save")
    assert any("until after 9999" in effect for effect in save.effects), save.effects

    tests = (
        _BERLIN
        + """
tests:
  - name: too late
    now: "9999-12-31T23:30:00Z"
    ticket: {subject: x}
    expect: {queue: Support}
"""
    )
    with pytest.raises(PolicyError, match="outside the moments a policy can decide at"):
        parse_tested_policy(tests, "berlin.yaml")
    with pytest.raises(PolicyError, match=r"cooldown_hours inf must be between 0 and 87600"):
        parse_policy(_BERLIN.replace("cooldown_hours: 87600", "cooldown_hours: .inf"), "berlin.yaml")


# --- templates --------------------------------------------------------------------------------------------

_NOTE = """
version: 1
name: notes
queues: {Support: {rt: Support}}
defaults: {triage_queue: Support, queue: Support}
rules:
  - name: note
    then:
      add_note:
        max_length: 300
        template: "{{ TEMPLATE }}"
"""


def test_a_template_that_repeats_text_is_refused_at_validation(tmp_path: Path) -> None:
    policy = tmp_path / "notes.yaml"
    policy.write_text(_NOTE.replace("{{ TEMPLATE }}", "Subject: {{ ticket.subject * 100000 }}"))
    result = runner.invoke(app, ["policy", "validate", str(policy)])
    assert result.exit_code == 1, result.output
    assert f"{policy}:11:" in result.output and "'*' takes numbers in templates" in result.output
    assert "Traceback" not in result.output


def test_a_note_over_a_megabyte_ticket_is_bounded_and_cut_at_its_length(tmp_path: Path) -> None:
    policy = tmp_path / "notes.yaml"
    policy.write_text(
        _NOTE.replace(
            "{{ TEMPLATE }}",
            "{{ ticket.body | wordcount }} words; "
            "{% for c in ticket.body %}{{ ticket.body | truncate(40) }}{% endfor %}",
        )
    )
    assert runner.invoke(app, ["policy", "validate", str(policy)]).exit_code == 0
    ticket = tmp_path / "ticket.json"
    ticket.write_text(json.dumps({"subject": "s", "body": "word " * 200_000}))
    result = runner.invoke(
        app, ["policy", "explain", str(policy), "--ticket", str(ticket), "--now", "2025-01-06T10:00:00Z", "--json"]
    )
    assert result.exit_code == 0, result.output
    note = next(a for a in json.loads(result.stdout)["actions"] if a["kind"] == "add_note")["params"]["body"]
    # Templates read at most 20,000 characters of a text: the longest note there can be.
    assert note.startswith("4000 words; word word") and len(note) == 300 and note.endswith("…")
