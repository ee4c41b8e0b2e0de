"""``deskroute db``: the database schema."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.common import ConfigOption, console, settings, user_errors
from router.store import current_revision, head_revision, upgrade
from router.store.engine import database_errors, make_engine

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(
    revision: str = typer.Argument("head", help="Target revision."),
    config: Path | None = ConfigOption,
) -> None:
    """Create or evolve the schema to the latest migration (SQLite or PostgreSQL)."""
    cfg = settings(config)
    with user_errors(), database_errors(cfg.database_url):
        engine = make_engine(cfg.database_url)
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    console.print(f"database schema: {before or '(empty)'} -> {after}")


@app.command("current")
def current_cmd(config: Path | None = ConfigOption) -> None:
    """Show the schema revision of the database and the latest one this version knows."""
    cfg = settings(config)
    with user_errors(), database_errors(cfg.database_url):
        engine = make_engine(cfg.database_url)
        console.print(f"database: {current_revision(engine) or '(empty)'}; latest: {head_revision()}")
