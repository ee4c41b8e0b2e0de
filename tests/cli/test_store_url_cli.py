"""Opening the store from the command line: a bad database URL or file is one clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.store.database import head_revision

runner = CliRunner()
HEAD = head_revision()

# Commands that open the store; each must fail the same clear way.
STORE_COMMANDS = [["db", "current"], ["db", "upgrade"], ["stats"], ["outbox", "status"]]


def refused(url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> str:
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", url)
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.output.startswith("error: "), result.output
    assert "DESKROUTE_DATABASE_URL" in result.output
    return result.output


@pytest.mark.parametrize("command", STORE_COMMANDS)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://ann:hunter2@db.example.com/desk", "names 'mysql', which deskroute does not support"),
        ("foo://ann:hunter2@x/y", "names 'foo', which deskroute does not support"),
        ("postgresql+asyncpg://ann:hunter2@h/db", "names 'postgresql+asyncpg'"),
        ("not a url hunter2", "is malformed"),
        ("postgresql://ann:hunter2@127.0.0.1:5432:9/db", "is malformed (a port that is not a number)"),
    ],
)
def test_unsupported_or_malformed_urls_are_named_without_credentials(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], url: str, expected: str
) -> None:
    output = refused(url, monkeypatch, command)
    assert expected in output
    assert "hunter2" not in output


def test_an_unreachable_server_is_named_without_credentials(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    output = refused("postgresql://ann:hunter2@127.0.0.1:1/desk?sslpassword=hunter2", monkeypatch, ["db", "current"])
    assert "cannot open the database postgresql+psycopg://ann:***@127.0.0.1:1/desk?sslpassword=***" in output
    assert "refused" in output and "hunter2" not in output


def test_an_unknown_database_on_a_real_server_keeps_the_query_secret(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, cli_env: Path
) -> None:
    base = postgres_url.rsplit("/", 1)[0]
    output = refused(f"{base}/no_such_database_h?password=hunter2", monkeypatch, ["db", "upgrade"])
    assert "no_such_database_h" in output and "does not exist" in output
    assert "hunter2" not in output


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    notes = cli_env / "notes.db"
    notes.write_text("my notes, not a database\n" * 100)
    output = refused(f"sqlite:///{notes}", monkeypatch, command)
    assert f"{notes} is not a SQLite database" in output and "backup" in output
    assert notes.read_text() == "my notes, not a database\n" * 100


def test_a_sqlite_path_in_a_missing_folder_is_refused_not_created(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = cli_env / "no" / "such" / "dir"
    for command in STORE_COMMANDS:
        output = refused(f"sqlite:///{missing / 'x.db'}", monkeypatch, command)
        assert f"the folder of the SQLite database {missing / 'x.db'} does not exist" in output
    assert not (cli_env / "no").exists()
    output = refused(f"sqlite:///{cli_env}", monkeypatch, ["db", "current"])
    assert "is a folder" in output


def test_the_default_store_folder_is_created(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKROUTE_DATABASE_URL")
    monkeypatch.delenv("DESKROUTE_DATA_DIR")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (cli_env / ".deskroute" / "deskroute.db").is_file()
    current = runner.invoke(app, ["db", "current"])
    assert current.exit_code == 0 and f"database: {HEAD}" in current.output.replace("\n", " ")


def test_a_configured_data_folder_holding_the_store_is_created(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = cli_env / "var" / "deskroute"
    monkeypatch.setenv("DESKROUTE_DATA_DIR", str(data))
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", f"sqlite:///{data / 'deskroute.db'}")
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    assert (data / "deskroute.db").is_file()


def test_db_upgrade_and_current_work_on_both_databases(
    database_url: str, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", database_url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"(empty) -> {HEAD}" in result.output
    current = runner.invoke(app, ["db", "current"])
    assert current.exit_code == 0, current.output
    assert f"database: {HEAD}; latest: {HEAD}" in current.output
    unknown = runner.invoke(app, ["db", "upgrade", "no-such-revision"])
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output
    assert "cannot upgrade the schema to 'no-such-revision'" in " ".join(unknown.output.split())
    assert f"(head, the latest, is {HEAD})" in " ".join(unknown.output.split())


def test_the_default_store_folder_is_created_beside_another_data_folder(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DESKROUTE_DATABASE_URL")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (cli_env / ".deskroute" / "deskroute.db").is_file()
