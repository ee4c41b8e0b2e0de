"""`deskroute demo --out DIR`: the demo replaces only what it wrote itself, in a folder of its own."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.report import RoutedTicket
from router.cli import app
from router.cli.demo import CONNECTOR, routing_outcome
from tests.conftest import REPO_ROOT

runner = CliRunner()
SAMPLE = REPO_ROOT / "examples" / "bank" / "tickets.csv"
TICKETS = "id,subject,body,queue\nR1,Refund,I was charged twice,Billing\n"


def refused(args: list[str]) -> str:
    result = runner.invoke(app, ["demo", *args])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output.startswith("error: --out: ") and "Traceback" not in result.output
    return " ".join(result.output.split())


def actions(folder: Path) -> list[tuple[str, str]]:
    """What the demo wrote to the helpdesk: each action's kind and ticket, in order."""
    lines = (folder / "actions.jsonl").read_text(encoding="utf-8").splitlines()
    return [(entry["kind"], entry["target"]) for entry in map(json.loads, lines)]


def stored_tickets() -> int:
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["counts"]["tickets"])


def test_the_default_store_folder_is_never_the_demos(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default configuration: the store is .deskroute/deskroute.db in the working folder.
    monkeypatch.delenv("DESKROUTE_DATABASE_URL")
    monkeypatch.delenv("DESKROUTE_DATA_DIR")
    (cli_env / "t.csv").write_text(TICKETS, encoding="utf-8")
    assert runner.invoke(app, ["import", "tickets", "t.csv"]).exit_code == 0
    output = refused(["--out", ".deskroute"])
    assert "holds deskroute's configured store or data" in output and "choose an empty or new folder" in output
    # The store is still there with its ticket (its WAL files come and go with SQLite's checkpoints).
    assert (cli_env / ".deskroute" / "deskroute.db").is_file() and stored_tickets() == 1
    assert not (cli_env / ".deskroute" / ".deskroute-demo").exists()


def test_a_configured_store_folder_is_refused_even_when_it_is_still_empty(cli_env: Path) -> None:
    # cli_env's store is deskroute.db in the working folder, not yet created: a demo there would claim it.
    output = refused(["--out", str(cli_env)])
    assert f"{cli_env} holds deskroute's configured store or data" in output
    assert not (cli_env / ".deskroute-demo").exists()


def test_a_folder_with_files_the_demo_did_not_write_is_refused(cli_env: Path) -> None:
    mine = cli_env / "mine"
    mine.mkdir()
    for name in ("deskroute.db", "actions.jsonl", "incoming.jsonl"):
        (mine / name).write_text(f"my own {name}\n")
    output = refused(["--out", "mine"])
    assert "already holds files the demo did not create (actions.jsonl, deskroute.db, incoming.jsonl)" in output
    assert "choose an empty or new folder with --out" in output
    for name in ("deskroute.db", "actions.jsonl", "incoming.jsonl"):
        assert (mine / name).read_text() == f"my own {name}\n"
    assert sorted(p.name for p in mine.iterdir()) == ["actions.jsonl", "deskroute.db", "incoming.jsonl"]
    (cli_env / "a-file").write_text("keep")
    assert "a-file is a file, not a folder" in refused(["--out", "a-file"])
    assert "cannot create the demo's folder" in refused(["--out", "a-file/demo"])
    assert (cli_env / "a-file").read_text() == "keep"


@pytest.mark.slow
def test_the_demo_reruns_in_its_own_folder_and_starts_its_store_afresh(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small slice of the bundled sample keeps the run short; the folder rules are the same. So does training
    # without the attention network (the urgency model learns from the synthetic history's ~900 tickets).
    monkeypatch.setenv("DESKROUTE_TRAINING__ATTENTION_MIN_TICKETS", "1000000")
    sample = cli_env / "sample"
    sample.mkdir()
    with SAMPLE.open(encoding="utf-8", newline="") as source, (sample / "tickets.csv").open("w", newline="") as part:
        csv.writer(part).writerows(itertools.islice(csv.reader(source), 121))
    out = cli_env / "empty"
    out.mkdir()  # an empty folder is adopted
    args = ["demo", "--out", "empty", "--sample", str(sample), "--held-back", "20"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert (out / ".deskroute-demo").is_file() and (out / "report.html").is_file()
    routed = actions(out)
    assert routed
    # The caller's configuration is untouched: the demo's store was for the run only.
    assert stored_tickets() == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    # Same seed, a fresh store: the same tickets get the same kinds of action again (a store left over from
    # the first run would have decided nothing new), and the first run's file is replaced, not added to.
    assert actions(out) == routed


def ticket(queue: str, label: str, *, abstained: bool = False) -> RoutedTicket:
    return RoutedTicket("T", "s", queue, None, None, None, abstained, None, label=label)


def test_the_outcome_counts_only_automatic_routes_and_checks_them_against_the_labels() -> None:
    outcome = routing_outcome(
        [
            ticket("Cards", "Cards"),
            ticket("Cards", "Transfers"),
            ticket("Triage", "Cards", abstained=True),
            ticket("Triage", "Triage"),  # sent to triage by a rule: not routed automatically
        ],
        triage="Triage",
    )
    assert (outcome.tickets, outcome.routed, outcome.correct, outcome.abstained) == (4, 2, 1, 1)
    assert outcome.routed_text() == "50% (2/4)" and outcome.precision_text() == "50% (1/2)"
    assert routing_outcome([ticket("Triage", "Cards", abstained=True)], triage="Triage").precision_text() == (
        "n/a (none routed)"
    )


@pytest.mark.slow
def test_the_bundled_demo_routes_most_held_back_tickets_into_their_labelled_queue(cli_env: Path) -> None:
    from router.store import Store
    from router.store.decision_log import latest_decision

    result = runner.invoke(app, ["demo", "--out", "demo"])
    assert result.exit_code == 0, result.output
    out = cli_env / "demo"
    # The figures again, from the demo's store and the held-back labels it wrote, not from its own count.
    with (out / "held-back.csv").open(encoding="utf-8", newline="") as fh:
        labels = {row["id"]: row["queue"] for row in csv.DictReader(fh)}
    assert len(labels) == 114  # 100 bank requests held back, 8 in other languages, 6 about mortgages
    routed = correct = 0
    with Store(f"sqlite:///{out / 'deskroute.db'}").session() as s:
        for ticket_id, label in labels.items():
            row = latest_decision(s, CONNECTOR, ticket_id)
            assert row is not None, ticket_id
            if not row.abstained and row.team not in (None, "Triage"):
                routed += 1
                correct += row.team == label
    assert routed >= 0.7 * len(labels), f"{routed}/{len(labels)} routed automatically"
    assert correct >= 0.9 * routed, f"{correct}/{routed} routed into the labelled queue"
    shown = " ".join(result.output.split())
    expected = f"{routed / len(labels):.0%} ({routed}/{len(labels)}) of the held-back tickets routed automatically"
    assert expected in shown and f"{correct / routed:.0%} ({correct}/{routed}) of those in the right queue" in shown
    report = (out / "report.html").read_text(encoding="utf-8")
    assert f"{routed}/{len(labels)}" in report and f"{correct}/{routed}" in report
