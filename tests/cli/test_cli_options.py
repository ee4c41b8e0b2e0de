"""Dates and output files on the command line: one reading for every command, checked before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from tests.conftest import REPO_ROOT

runner = CliRunner()
STARTER = REPO_ROOT / "policies" / "examples" / "starter.yaml"
TICKET = '{"subject": "Refund", "body": "I was charged twice"}'
TICKETS = "id,subject,body,queue,updated_at\n1,Refund,I was charged twice,Billing,2026-01-01T10:00:00Z\n"


def clear_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    return " ".join(result.output.split())


def sync_config(folder: Path) -> None:
    (folder / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    (folder / "deskroute.toml").write_text('[connectors.dry]\ntype = "file"\npath = "tickets.csv"\n')


OUT_OF_RANGE = ["9999-12-31T23:30:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_now_and_since_outside_the_supported_range_are_refused(cli_env: Path, value: str) -> None:
    sync_config(cli_env)
    for option, args in (
        ("--now", ["policy", "explain", str(STARTER), "--ticket", TICKET, "--now", value]),
        ("--since", ["sync", "dry", "--since", value]),
    ):
        output = clear_error(args)
        assert f"{option}: '{value}' is outside the supported range, 1970-01-01 to 2099-12-31 (UTC)" in output
    stats = runner.invoke(app, ["stats", "--json"])
    assert '"tickets": 0' in stats.stdout  # the refused sync stored nothing


@pytest.mark.parametrize("value", ["tomorrow", "2026-02-30", "2026-01-31T25:00", "", "2026-01-31T10:00+25:00"])
def test_malformed_dates_are_refused_with_an_example(cli_env: Path, value: str) -> None:
    sync_config(cli_env)
    for option, args in (
        ("--now", ["policy", "explain", str(STARTER), "--ticket", TICKET, "--now", value]),
        ("--since", ["sync", "dry", "--since", value]),
    ):
        output = clear_error(args)
        assert f"{option}: '{value}' is not an ISO 8601 date or time (e.g. 2026-01-31" in output


@pytest.mark.parametrize("value", ["2026-01-01", "2026-01-01T11:00:00+01:00", "2026-01-01t10:00:00z", "2099-12-31"])
def test_dates_in_range_are_read_alike_by_every_command(cli_env: Path, value: str) -> None:
    sync_config(cli_env)
    explained = runner.invoke(app, ["policy", "explain", str(STARTER), "--ticket", TICKET, "--now", value])
    assert explained.exit_code == 0, explained.output
    synced = runner.invoke(app, ["sync", "dry", "--since", value])
    assert synced.exit_code == 0, synced.output
    stored = "1 tickets" if value[:4] == "2026" else "0 tickets"
    assert stored in synced.output


def test_simulate_refuses_a_folder_before_replaying(cli_env: Path) -> None:
    (cli_env / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    simulate = ["policy", "simulate", str(STARTER), "--dataset", "tickets.csv", "--rules-only", "--json"]
    output = clear_error([*simulate, str(cli_env)])
    assert f"--json: {cli_env} is a folder; name a file to write" in output
    assert "routed automatically" not in output  # refused before the replay
    (cli_env / "notes.txt").write_text("keep me")
    output = clear_error([*simulate, str(cli_env / "notes.txt" / "sim.json")])
    assert f"cannot create {cli_env / 'notes.txt' / 'sim.json'}: {cli_env / 'notes.txt'} is a file" in output
    assert (cli_env / "notes.txt").read_text() == "keep me"
    # A missing folder is created when the file is written, as before.
    result = runner.invoke(app, [*simulate, str(cli_env / "reports" / "sim.json")])
    assert result.exit_code == 0, result.output
    assert (cli_env / "reports" / "sim.json").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "policy", "--synthetic", "--decisions", "100", "--repeats", "1"],
        ["bench", "embeddings", "--no-encoder", "--no-threshold", "--sizes", "1k"],
        ["bench", "engine", "--tickets", "1"],
        ["eval", "churn", "--train", "customers.csv", "--cv", "2", "--label", "churn"],
        ["eval", "classify", "--train", "tickets.csv", "--cv", "2", "--text", "subject,body", "--label", "queue"],
    ],
)
def test_every_json_output_is_checked_before_the_work(cli_env: Path, args: list[str]) -> None:
    (cli_env / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    (cli_env / "customers.csv").write_text("id,plan,churn\n1,pro,no\n2,free,yes\n", encoding="utf-8")
    output = clear_error([*args, "--json", str(cli_env)])
    assert f"--json: {cli_env} is a folder" in output
