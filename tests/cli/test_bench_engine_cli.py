"""``deskroute bench engine`` without a reachable RT: one clear line naming what to do, no stack trace."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from router.cli import app


def test_bench_engine_names_the_unreachable_rt(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "engine", "--tickets", "5", "--rt-url", "http://127.0.0.1:9"])

    assert result.exit_code == 1
    assert "http://127.0.0.1:9 is unreachable" in result.output and "scripts/rt-setup.sh" in result.output
    assert "Traceback" not in result.output
