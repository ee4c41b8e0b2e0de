"""`deskroute worker --until-idle` on the embedded SQLite store: the same cycle as `deskroute run`, once per
action, its heartbeat gone when it stops cleanly."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from router.cli import app
from tests.cli.test_run_cli import actions, setup_helpdesk

runner = CliRunner()


def test_a_worker_works_off_the_backlog_and_signs_off(cli_env: Path) -> None:
    setup_helpdesk(cli_env, mode="auto")
    first = runner.invoke(app, ["worker", "--until-idle"])
    assert first.exit_code == 0, first.output
    assert "event=job_start job=sync:helpdesk" in first.output and "event=job_done" in first.output
    assert "decided=3" in first.output and "event=stopped failures=0" in first.output
    written = actions(cli_env)
    assert written and len({a["idempotency_key"] for a in written}) == len(written)

    again = runner.invoke(app, ["worker", "--until-idle"])
    assert again.exit_code == 0, again.output
    assert "job_start" not in again.output  # pulled less than a poll interval ago, by the first worker
    assert "event=cycle" not in again.output and len(actions(cli_env)) == len(written)
    engine = sa.create_engine(f"sqlite:///{cli_env / 'deskroute.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from worker_heartbeats")).scalar() == 0
        assert conn.execute(sa.text("select runs from scheduled_jobs")).scalar() == 1
    engine.dispose()


def test_a_worker_for_an_unknown_connector_stops_before_any_work(cli_env: Path) -> None:
    setup_helpdesk(cli_env)
    result = runner.invoke(app, ["worker", "--connector", "nope"])
    assert result.exit_code == 1 and "'nope' is not configured" in result.output
