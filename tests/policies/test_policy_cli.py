"""`deskroute policy validate|explain|test` and `deskroute bench policy`, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()
STARTER = str(Path(__file__).resolve().parents[2] / "policies" / "examples" / "starter.yaml")
GOLDEN = Path(__file__).parent / "golden"


def test_validate_a_good_policy() -> None:
    result = runner.invoke(app, ["policy", "validate", STARTER])
    assert result.exit_code == 0, result.output
    assert "policy 'starter' is valid" in result.output
    assert "7 rules, 21 test(s)" in result.output


def test_validate_a_bad_policy_names_file_line_and_fix_without_a_traceback() -> None:
    bad = GOLDEN / "03-undeclared-queue.yaml"
    result = runner.invoke(app, ["policy", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:12:16: queue 'Biling' is not declared in queues; did you mean 'Billing'?" in result.output
    assert "Traceback" not in result.output


def test_validate_a_missing_file() -> None:
    result = runner.invoke(app, ["policy", "validate", "no-such-policy.yaml"])
    assert result.exit_code == 1
    assert "no-such-policy.yaml: cannot read the file" in result.output


def test_explain_shows_every_rule_and_the_actions() -> None:
    result = runner.invoke(
        app,
        [
            "policy", "explain", STARTER,
            "--ticket", '{"subject": "Invoice wrong", "body": "charged twice"}',
            "--signals", '{"intent": "Technical Support", "intent_probability": 0.3}',
            "--customer", '{"attributes": {"plan": "enterprise"}}',
            "--now", "2025-01-06T10:00:00+01:00",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for rule in ("outage-escalation", "billing", "vip-plans", "churn-save", "german-first-line", "(abstain)"):
        assert rule in result.output
    assert "route → cli-1: queue='Billing and Payments'" in result.output
    assert "set_priority → cli-1: priority='high'" in result.output


def test_explain_as_json_from_files(tmp_path: Path) -> None:
    ticket = tmp_path / "ticket.json"
    ticket.write_text(json.dumps({"subject": "Hallo", "body": "Frage", "language": "de"}))
    result = runner.invoke(
        app,
        ["policy", "explain", STARTER, "--ticket", str(ticket), "--signals",
         '{"intent": "Customer Service", "intent_probability": 0.9}', "--now", "2025-01-06T10:00:00Z", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["actions"][0]["params"]["queue"] == "Kundenservice DE"
    assert decision["policy_name"] == "starter"


def test_explain_rejects_bad_input_clearly() -> None:
    bad_json = runner.invoke(app, ["policy", "explain", STARTER, "--ticket", '{"subject": '])
    assert bad_json.exit_code == 1 and "--ticket: invalid JSON at line 1" in bad_json.output
    bad_field = runner.invoke(app, ["policy", "explain", STARTER, "--ticket", '{"priority": "critical"}'])
    assert bad_field.exit_code == 1 and "--ticket (Ticket): field 'priority'" in bad_field.output
    bad_signal = runner.invoke(app, ["policy", "explain", STARTER, "--ticket", "{}", "--signals", '{"churn_risk": 7}'])
    assert bad_signal.exit_code == 1 and "--signals: field 'churn_risk'" in bad_signal.output
    bad_now = runner.invoke(app, ["policy", "explain", STARTER, "--ticket", "{}", "--now", "tomorrow"])
    assert bad_now.exit_code == 1 and "--now: 'tomorrow' is not an ISO 8601 date or time" in bad_now.output
    assert all("Traceback" not in r.output for r in (bad_json, bad_field, bad_signal, bad_now))


def test_policy_test_passes_on_the_starter() -> None:
    result = runner.invoke(app, ["policy", "test", STARTER, "-v"])
    assert result.exit_code == 0, result.output
    assert "21 passed, 0 failed" in result.output
    assert "PASS an outage in the subject is escalated" in result.output


def test_policy_test_fails_with_reasons_and_a_non_zero_exit(tmp_path: Path) -> None:
    policy = tmp_path / "mine.yaml"
    policy.write_text(Path(STARTER).read_text(encoding="utf-8"))
    (tmp_path / "mine.tests.yaml").write_text(
        "tests:\n"
        "  - name: wrong expectation\n"
        "    ticket: {subject: 'Dashboard down'}\n"
        "    expect: {queue: Billing and Payments}\n"
    )
    result = runner.invoke(app, ["policy", "test", str(policy)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "mine.tests.yaml:2: wrong expectation" in result.output
    assert "expected queue 'Billing and Payments', got 'Service Outages and Maintenance'" in result.output
    assert "0 passed, 1 failed" in result.output


def test_policy_test_without_tests_is_an_error(tmp_path: Path) -> None:
    policy = tmp_path / "bare.yaml"
    policy.write_text("version: 1\nqueues: {T: {}}\ndefaults: {triage_queue: T}\nrules: []\n")
    result = runner.invoke(app, ["policy", "test", str(policy)])
    assert result.exit_code == 1 and "no tests" in result.output


def test_bench_policy_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = runner.invoke(
        app, ["bench", "policy", "--decisions", "100", "--repeats", "1", "--synthetic", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["rules"] == 30 and figures["decisions_per_second"] > 0
    assert figures["ratio_to_baseline"] > 1
    assert "decisions/s (one core, CPU time, median)" in result.output
