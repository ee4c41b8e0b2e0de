"""Every command of the CLI over a store whose every text is hostile: shown literally, never driving the terminal.

The commands come from the Typer application itself, so a new command fails this test until it has arguments
in ARGUMENTS (or a reason in EXCLUDED).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.hostile import HOSTILE, LITERAL, TICKET_ID, build, check_output, command_paths, invoke

# Files are named relative to the hostile workspace (the test runs there); several argument sets per command.
ARGUMENTS: dict[str, list[list[str]]] = {
    "bench engine": [["--rt-url", "http://127.0.0.1:1", "--tickets", "1", "--write-sample", "0"]],
    "bench workers": [
        ["--database-url", "sqlite:///no[red]such.db"],
        ["--database-url", "postgresql://u@127.0.0.1:1/x"],
    ],
    "bench route": [["--tickets", "5"]],
    # Below the least it measures: refused before models are fitted or a service is started (minutes otherwise).
    "bench service": [["--tickets", "5"], ["--clients", "0"]],
    "bench policy": [["--decisions", "100", "--repeats", "1", "--rules", "2", "--tickets", "label[red]led.csv"]],
    "config show": [[]],
    "connectors check": [["helpdesk"], ["other"], ["no[/]such"]],
    "connectors list": [[]],
    "customers show": [[HOSTILE], ["no[/]such"]],
    "db current": [[]],
    "db upgrade": [[]],
    "decisions show": [[TICKET_ID], ["N[/]1"], ["N[/]1", "--json"], [HOSTILE]],
    "eval churn": [["--train", "churn[red].csv", "--cv", "2", "--label", "churn", "--id", "id"]],
    "eval classify": [["--train", "label[red]led.csv", "--cv", "2", "--text", "subject,body", "--label", "queue"]],
    "import customers": [["custom[red]ers.jsonl"]],
    "import events": [["eve[red]nts.jsonl"]],
    "import tickets": [["tick[red]ets.jsonl"], ["bad[red]rows.jsonl"], ["bad[red]rows.jsonl", "--on-error", "skip"]],
    "index describe": [[], ["--json"]],
    "index rebuild": [[]],
    "outbox status": [[]],
    "outbox retry-dead": [[]],
    "pause": [["--reason", HOSTILE]],
    "policy activate": [
        ["po[red]licy2.yaml", "--by", "[/] [bold]B[/bold]"],
        ["bad[red]policy.yaml"],
        ["no[/]such"],
        ["--by", HOSTILE, "po[red]licy.yaml"],
    ],
    "policy history": [[], ["--json"]],
    "policy rollback": [["--by", "[/] [bold]B[/bold]"], []],
    "policy show": [[], ["no[/]such"], ["ffff"]],
    "policy diff": [["po[red]licy.yaml", "po[red]licy2.yaml", "--dataset", "label[red]led.csv", "--rules-only"]],
    "policy explain": [
        ["po[red]licy.yaml", "--ticket", '{"subject": "refund [/] \\u001b[2J [bold]B[/bold]"}'],
        ["po[red]licy.yaml", "--ticket", '{"subject": "refund [/] \\u009b31m"}', "--json"],
    ],
    "policy simulate": [["po[red]licy.yaml", "--dataset", "label[red]led.csv", "--label", "queue", "--rules-only"]],
    "policy test": [["po[red]licy.yaml"]],
    "policy validate": [["po[red]licy.yaml"], ["bad[red]policy.yaml"]],
    "predict": [["label[red]led.csv"]],
    "resume": [[]],
    "run": [["--once"], ["--once", "--dry-run", "--connector", "no[/]such"]],
    # A port outside 1..65535 is refused before anything listens, so the command returns instead of serving.
    "serve": [["--port", "0"], ["--port", "70000", "--no-jobs"]],
    "stats": [[], ["--json"]],
    "sync": [["helpdesk"], ["other"], ["helpdesk", "--full"]],
    "tokens create": [["--name", HOSTILE, "--scope", "read"], ["--name", "ops [bold]", "--scope", "no[/]such"]],
    "tokens list": [[]],
    "tokens revoke": [[HOSTILE], ["no[/]such"]],
    "worker": [["--until-idle", "--dry-run"], ["--until-idle"], ["--connector", "no[/]such"]],
    "train": [
        ["--target", "churn", "--from-store", "--source", "helpdesk"],
        ["--target", "queue", "--from-store"],
        ["--target", "urgency", "--from-store"],
    ],
}
# Commands that run for minutes on fixed inputs of their own (no stored data to show), with why.
EXCLUDED: dict[str, str] = {
    "demo": "fits three models on the bundled sample (minutes); its output is covered by the commands it shares",
    "bench embeddings": "times the encoder and a million-vector index (minutes); it shows no stored data",
}
# Commands whose output shows the stored hostile text: it must appear as written.
SHOWS_DATA = {
    "stats",
    "outbox status",
    "decisions show",
    "policy explain",
    "connectors list",
    "policy diff",
    "policy history",
}


def test_every_command_has_arguments() -> None:
    missing = [path for path in command_paths() if path not in ARGUMENTS and path not in EXCLUDED]
    assert not missing, f"give these commands arguments in ARGUMENTS (or a reason in EXCLUDED): {missing}"
    stale = [path for path in [*ARGUMENTS, *EXCLUDED] if path not in command_paths()]
    assert not stale, f"no such commands any more: {stale}"


def test_every_command_shows_hostile_data_literally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = build(tmp_path)
    # In the table's order: the dead letters are shown before `outbox retry-dead` queues them again.
    for path, argument_sets in ARGUMENTS.items():
        for args in argument_sets:
            what = f"deskroute {path} {' '.join(args)}"
            result = invoke([*path.split(), *args], env)
            check_output(result, what)
            if path in SHOWS_DATA and result.exit_code == 0 and "--json" not in args:
                assert all(piece in result.output for piece in LITERAL), f"{what}: not shown literally\n{result.output}"
