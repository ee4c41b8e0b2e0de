"""`deskroute import` and `deskroute stats` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()

GOOD = (
    "subject,body,queue,priority,language,tags,answer\n"
    '"Refund","I was charged twice.\nPlease refund.",Billing and Payments,medium,en,Billing;Refund,We refunded.\n'
    ',"No subject here",Technical Support,high,en,,\n'
)


def stats_json() -> dict:
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_is_idempotent_and_multiline_fields_work(cli_env: Path) -> None:
    (cli_env / "t.csv").write_text(GOOD, encoding="utf-8")
    for _ in range(2):
        result = runner.invoke(app, ["import", "tickets", "t.csv"])
        assert result.exit_code == 0, result.output
    summary = stats_json()
    assert summary["counts"]["tickets"] == 2 and summary["counts"]["comments"] == 1
    assert summary["tickets_by_priority"] == {"normal": 1, "high": 1}


def test_bom_and_windows_1252_files_import(cli_env: Path) -> None:
    (cli_env / "bom.csv").write_bytes(GOOD.encode("utf-8-sig"))
    (cli_env / "latin.csv").write_bytes("subject,body\nRückerstattung,Zähler kaputt\n".encode("cp1252"))
    assert runner.invoke(app, ["import", "tickets", "bom.csv", "--source", "a"]).exit_code == 0
    result = runner.invoke(app, ["import", "tickets", "latin.csv", "--source", "b"])
    assert result.exit_code == 0, result.output
    assert stats_json()["tickets_by_source"] == {"a": 2, "b": 1}


def test_broken_row_is_named_and_abort_writes_nothing(cli_env: Path) -> None:
    (cli_env / "t.csv").write_text(GOOD, encoding="utf-8")
    assert runner.invoke(app, ["import", "tickets", "t.csv"]).exit_code == 0
    before = stats_json()
    bad = GOOD + "Outage,Everything is down,Service Outages,whenever,en,,\n"
    (cli_env / "bad.csv").write_text(bad, encoding="utf-8")
    result = runner.invoke(app, ["import", "tickets", "bad.csv", "--on-error", "abort"])
    assert result.exit_code == 1
    # the multi-line first record occupies lines 2-3, so the bad row starts on line 5
    assert "bad.csv:5" in result.output and "field 'priority'" in result.output
    assert "nothing was written" in result.output
    assert stats_json() == before


def test_skip_imports_the_good_rows(cli_env: Path) -> None:
    bad = GOOD + "Outage,Everything is down,Service Outages,whenever,en,,\n"
    (cli_env / "bad.csv").write_text(bad, encoding="utf-8")
    result = runner.invoke(app, ["import", "tickets", "bad.csv", "--on-error", "skip"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 bad row" in result.output
    assert stats_json()["counts"]["tickets"] == 2


def test_column_mapping_and_missing_column(cli_env: Path) -> None:
    (cli_env / "m.csv").write_text("title,description,group\nHi,Printer on fire,IT\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "tickets", "m.csv"])
    assert result.exit_code == 1 and "--map body=COLUMN" in result.output
    result = runner.invoke(app, ["import", "tickets", "m.csv", "--map", "subject=title,body=description,queue=group"])
    assert result.exit_code == 0, result.output
    assert stats_json()["tickets_by_queue"] == {"IT": 1}


def test_customers_and_events_import(cli_env: Path) -> None:
    (cli_env / "c.jsonl").write_text(
        json.dumps({"id": "u1", "email": "a@example.com", "plan": "vip", "opted_out": "yes"}) + "\n" + "not json\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "customers", "c.jsonl"])
    assert result.exit_code == 1 and "c.jsonl:2" in result.output
    assert runner.invoke(app, ["import", "customers", "c.jsonl", "--on-error", "skip"]).exit_code == 0
    (cli_env / "e.csv").write_text(
        "customer,kind,occurred_at,page\nu1,login,2026-01-01T10:00:00Z,/home\nu1,login,yesterday,/x\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "events", "e.csv"])
    assert result.exit_code == 1 and "e.csv:3" in result.output and "occurred_at" in result.output
    for _ in range(2):
        assert runner.invoke(app, ["import", "events", "e.csv", "--on-error", "skip"]).exit_code == 0
    assert stats_json()["counts"] == {
        "tickets": 0,
        "comments": 0,
        "customers": 1,
        "events": 1,
        "satisfaction_ratings": 0,
    }


def test_missing_file_and_unknown_type_are_clear_errors(cli_env: Path) -> None:
    result = runner.invoke(app, ["import", "tickets", "nope.csv"])
    assert result.exit_code == 1 and "no such file" in result.output
    (cli_env / "t.xlsx").write_text("x")
    result = runner.invoke(app, ["import", "tickets", "t.xlsx"])
    assert result.exit_code == 1 and "use .csv or .jsonl" in result.output


def test_sample_dataset_imports(cli_env: Path, datasets_dir: Path) -> None:
    path = datasets_dir / "support-tickets" / "tickets-multilingual.csv"
    result = runner.invoke(app, ["import", "tickets", str(path)])
    assert result.exit_code == 0, result.output
    summary = stats_json()
    assert summary["counts"]["tickets"] == 1167
    assert set(summary["tickets_by_language"]) >= {"en", "de", "es", "fr", "pt"}
