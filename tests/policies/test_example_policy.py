"""The starter policy in policies/examples: valid, its tests pass, and it speaks the dataset's queues."""

from __future__ import annotations

import csv
from pathlib import Path

from policies import load_policy, load_tested_policy, run_policy_tests

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
STARTER = EXAMPLES / "starter.yaml"


def test_every_example_policy_validates_and_its_tests_pass() -> None:
    policies = sorted(EXAMPLES.glob("*.yaml"))
    policies = [p for p in policies if not p.name.endswith(".tests.yaml")]
    assert policies
    for path in policies:
        policy, cases = load_tested_policy(path)
        assert cases, f"{path.name} has no tests"
        failed = [(r.case.name, r.failures) for r in run_policy_tests(policy, cases) if not r.passed]
        assert failed == []
        assert policy.warnings == ()


def test_the_starter_covers_what_a_support_lead_asked_for() -> None:
    policy = load_policy(STARTER)
    names = {r.name for r in policy.rules}
    assert {"outage-escalation", "billing", "vip-plans", "churn-save", "german-first-line"} <= names
    assert policy.defaults.min_confidence > 0 and policy.defaults.triage_queue == "Triage"
    for team in policy.teams:
        assert policy.queue_for(team, "rt") and policy.queue_for(team, "file"), team


def test_the_starter_routes_to_the_dataset_queues(datasets_dir: Path) -> None:
    with (datasets_dir / "support-tickets" / "tickets-en-de.csv").open(encoding="utf-8", newline="") as handle:
        queues = {row["queue"] for row in csv.DictReader(handle)}
    policy = load_policy(STARTER)
    # Through the file connector every team lands in a dataset queue, except the triage queue.
    file_queues = {policy.queue_for(team, "file") for team in policy.teams} - {"Triage"}
    assert file_queues == queues


def test_the_bank_policy_speaks_the_bank_samples_queues() -> None:
    bank = Path(__file__).resolve().parents[2] / "examples" / "bank"
    policy = load_policy(EXAMPLES / "bank.yaml")
    with (bank / "queues.csv").open(encoding="utf-8", newline="") as handle:
        mapping = {row["intent"]: (row["queue"], row["priority"]) for row in csv.DictReader(handle)}
    # BANKING77 has 77 intents; each lands in one of the policy's teams (never triage) with a known priority.
    assert len(mapping) == 77
    assert {queue for queue, _ in mapping.values()} == set(policy.teams) - {"Triage"}
    assert {priority for _, priority in mapping.values()} == {"low", "normal", "high", "urgent"}
    with (bank / "tickets.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all((row["queue"], row["priority"]) == mapping[row["intent"]] for row in rows)
    assert {row["intent"] for row in rows} == set(mapping)
    with (bank / "beyond.csv").open(encoding="utf-8", newline="") as handle:
        beyond = list(csv.DictReader(handle))
    # Requests in other languages carry a team; those from a topic the sample lacks carry none.
    assert {row["queue"] for row in beyond if row["language"] != "en"} <= set(policy.teams)
    assert {row["queue"] for row in beyond if row["language"] == "en"} == {""}
