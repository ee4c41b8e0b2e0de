"""The agent's loop through the CLI on the file connector: run --once, decisions show, pause, simulate, diff."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from router.cli import app
from tests.conftest import REPO_ROOT

runner = CliRunner()
STARTER = REPO_ROOT / "policies" / "examples" / "starter.yaml"
TICKETS = (
    "id,subject,body,queue,priority,language\n"
    "A1,Complete outage of the portal,Nothing loads since 9am.,General Inquiry,medium,en\n"
    "A2,Refund for a double payment,I was charged twice this month.,General Inquiry,low,en\n"
    "A3,Question about the API,How do I page through results?,Technical Support,low,en\n"
)


def setup_helpdesk(folder: Path, mode: str = "suggest") -> None:
    (folder / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    (folder / "deskroute.toml").write_text(
        f'policy = "{STARTER}"\n'
        "[connectors.helpdesk]\n"
        'type = "file"\n'
        f'mode = "{mode}"\n'
        f'path = "{folder / "tickets.csv"}"\n'
        f'actions_path = "{folder / "actions.jsonl"}"\n',
        encoding="utf-8",
    )


def actions(folder: Path) -> list[dict]:
    path = folder / "actions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_run_once_suggest_mode_writes_only_tags_and_notes(cli_env: Path) -> None:
    setup_helpdesk(cli_env)
    result = runner.invoke(app, ["run", "--once"])
    assert result.exit_code == 0, result.output
    written = actions(cli_env)
    assert written and {a["action"]["kind"] if "action" in a else a["kind"] for a in written} <= {
        "add_tags",
        "add_note",
    }
    again = runner.invoke(app, ["run", "--once"])
    assert again.exit_code == 0, again.output
    assert "decided new" not in again.output
    assert len(actions(cli_env)) == len(written)


def test_run_once_auto_mode_routes_and_decisions_show_explains(cli_env: Path) -> None:
    setup_helpdesk(cli_env, mode="auto")
    assert runner.invoke(app, ["run", "--once"]).exit_code == 0
    kinds = [a["action"]["kind"] if "action" in a else a["kind"] for a in actions(cli_env)]
    assert "route" in kinds and "set_priority" in kinds
    shown = runner.invoke(app, ["decisions", "show", "A1"])
    assert shown.exit_code == 0, shown.output
    assert "outage-escalation" in shown.output and "applied" in shown.output
    missing = runner.invoke(app, ["decisions", "show", "nope"])
    assert missing.exit_code == 1 and "no decision recorded" in missing.output


def test_pause_records_decisions_but_writes_nothing(cli_env: Path) -> None:
    setup_helpdesk(cli_env, mode="auto")
    assert runner.invoke(app, ["pause", "--reason", "incident"]).exit_code == 0
    result = runner.invoke(app, ["run", "--once"])
    assert result.exit_code == 0 and "PAUSED" in result.output
    assert actions(cli_env) == []
    assert runner.invoke(app, ["decisions", "show", "A2"]).exit_code == 0
    assert runner.invoke(app, ["resume"]).exit_code == 0
    assert runner.invoke(app, ["run", "--once"]).exit_code == 0
    assert actions(cli_env)
    status = runner.invoke(app, ["outbox", "status"])
    assert status.exit_code == 0 and "applied" in status.output


def test_run_needs_a_policy_and_a_connector(cli_env: Path) -> None:
    result = runner.invoke(app, ["run", "--once"])
    assert result.exit_code == 1 and "no connectors configured" in result.output
    setup_helpdesk(cli_env)
    (cli_env / "deskroute.toml").write_text(
        (cli_env / "deskroute.toml").read_text().replace(f'policy = "{STARTER}"\n', "")
    )
    result = runner.invoke(app, ["run", "--once"])
    assert result.exit_code == 1 and "no routing policy" in result.output


def test_policy_simulate_and_diff(cli_env: Path) -> None:
    (cli_env / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    out = cli_env / "sim.json"
    result = runner.invoke(
        app,
        [
            "policy",
            "simulate",
            str(STARTER),
            "--dataset",
            "tickets.csv",
            "--label",
            "queue",
            "--rules-only",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["tickets"] == 3 and figures["per_queue"]["Service Outages and Maintenance"] == 1
    assert figures["misroute_rate_auto"] is not None
    changed = cli_env / "changed.yaml"
    changed.write_text(
        STARTER.read_text().replace(
            "set_priority: urgent\n      - add_tags: [outage]", "set_priority: high\n      - add_tags: [outage]"
        )
    )
    result = runner.invoke(
        app, ["policy", "diff", str(STARTER), str(changed), "--dataset", "tickets.csv", "--rules-only"]
    )
    assert result.exit_code == 0, result.output
    assert "1 of 3 decisions change" in result.output and "A1" in result.output
