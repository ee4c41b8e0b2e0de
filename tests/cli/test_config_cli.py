"""`deskroute config show`: effective configuration with secrets masked; bad files named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()

TOML = """
database_url = "postgresql://deskroute:hunter2@db.internal:5432/deskroute"
[connectors.rt]
type = "rt"
base_url = "http://127.0.0.1:8081"
mode = "suggest"
username_env = "RT_USER"
password_env = "RT_PASSWORD"
"""


def test_config_show_masks_secrets(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cli_env / "deskroute.toml").write_text(TOML)
    monkeypatch.delenv("DESKROUTE_DATABASE_URL")
    monkeypatch.setenv("RT_PASSWORD", "s3cret-value")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "s3cret-value" not in result.output
    shown = json.loads(result.stdout)
    assert shown["connectors"]["rt"]["password_env"] == "RT_PASSWORD (set)"
    assert shown["connectors"]["rt"]["username_env"] == "RT_USER (unset)"
    assert shown["database_url"].startswith("postgresql+psycopg://deskroute:***@db.internal")


def test_environment_overrides_the_file(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cli_env / "deskroute.toml").write_text(TOML)
    monkeypatch.setenv("DESKROUTE_CONNECTORS__RT__MODE", "auto")
    shown = json.loads(runner.invoke(app, ["config", "show"]).stdout)
    assert shown["connectors"]["rt"]["mode"] == "auto"


def test_bad_config_names_the_key(cli_env: Path) -> None:
    (cli_env / "deskroute.toml").write_text('[connectors.rt]\ntype = "rt"\nmode = "yolo"\n')
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "connectors.rt.mode" in result.output
    (cli_env / "deskroute.toml").write_text("database_url = \n")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1 and "not valid TOML" in result.output


def test_db_upgrade_and_demo(cli_env: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "-> 0001" in result.output or "->" in result.output
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and "latest" in result.output
