"""A helpdesk that serves a poison ticket: the good ones are stored, the poison one is kept in quarantine,
and the sync carries on, on SQLite and PostgreSQL alike (`deskroute sync` and `deskroute stats` as a user
runs them, against the fake RT)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import respx
from typer.testing import CliRunner

from router.cli import app
from tests.connectors.fake_rt import ROOT, T0, FakeRT

runner = CliRunner()


@pytest.fixture
def rt_env(cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", database_url)
    (cli_env / "deskroute.toml").write_text(
        f'[connectors.rt]\ntype = "rt"\nbase_url = "{ROOT}"\npage_size = 3\ntimezone = "UTC"\n'
        'username_env = "DESK_TEST_USER"\npassword_env = "DESK_TEST_PASSWORD"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DESK_TEST_USER", "deskroute")
    monkeypatch.setenv("DESK_TEST_PASSWORD", "pw")
    return cli_env


def stats() -> dict:
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_poison_ticket_is_quarantined_and_the_sync_carries_on(rt_env: Path) -> None:
    rt = FakeRT()
    for n in range(1, 6):
        rt.add(n, T0 + timedelta(seconds=n))
    rt.tickets[2].body = "printer\x00 on fire"  # a NUL is cleaned, not refused
    poison = rt.tickets[3]
    poison.requestor = "x" * 9_000 + "@example.com"  # longer than any id may be: refused
    with respx.mock:
        respx.route(host="rt.example.com").mock(side_effect=rt)
        first = runner.invoke(app, ["sync", "rt"])
        assert first.exit_code == 0, first.output
        assert "Traceback" not in first.output
        assert "rt: 4 tickets" in first.stdout
        assert "1 record(s) did not validate and are kept in quarantine" in first.stdout.replace("\n", " ")
        assert "quarantined: RT ticket 3 (Ticket): field 'requester'" in first.stderr.replace("\n", " ")

        summary = stats()
        assert summary["counts"]["tickets"] == 4
        held = summary["quarantine"]
        assert held["count"] == 1
        entry = held["recent"][0]
        where = (entry["source"], entry["kind"], entry["external_id"], entry["field"])
        assert where == ("rt", "ticket", "3", "requester")
        assert "9,012 characters long" in entry["reason"]
        table = runner.invoke(app, ["stats"], env={"COLUMNS": "200"})
        assert table.exit_code == 0 and "quarantine: 1 record(s)" in table.stdout and "requester" in table.stdout

        # The cursor moved past the poison ticket: the next sync neither fails nor pulls it again.
        rt.add(6, T0 + timedelta(seconds=6))
        again = runner.invoke(app, ["sync", "rt"])
        assert again.exit_code == 0, again.output
        assert "rt: 1 tickets" in again.stdout and "quarantine" not in again.stdout
        assert stats()["quarantine"]["count"] == 1

        # Someone fixes the ticket in the helpdesk: the good version is stored and leaves the quarantine.
        poison.requestor = "carol@example.com"
        poison.updated = T0 + timedelta(seconds=30)
        fixed = runner.invoke(app, ["sync", "rt"])
        assert fixed.exit_code == 0, fixed.output
        assert "1 quarantined record(s) replaced by valid versions" in fixed.stdout
    summary = stats()
    assert summary["counts"]["tickets"] == 6 and summary["quarantine"] == {"count": 0, "recent": []}
    shown = runner.invoke(app, ["stats"])
    assert "quarantine: empty" in shown.stdout


def test_a_ticket_refused_again_updates_its_quarantine_entry(rt_env: Path) -> None:
    rt = FakeRT()
    rt.add(1, T0 + timedelta(seconds=1), tags=["ok"])
    rt.add(2, T0 + timedelta(seconds=2), tags=["t" * 2_000])  # a tag longer than any tag may be
    with respx.mock:
        respx.route(host="rt.example.com").mock(side_effect=rt)
        assert runner.invoke(app, ["sync", "rt"]).exit_code == 0
        rt.tickets[2].updated = T0 + timedelta(seconds=20)
        second = runner.invoke(app, ["sync", "rt"])
    assert second.exit_code == 0, second.output
    held = stats()["quarantine"]
    assert held["count"] == 1
    assert held["recent"][0]["times"] == 2 and held["recent"][0]["field"].startswith("tags")
