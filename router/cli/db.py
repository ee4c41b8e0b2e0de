"""``deskroute db``: the database schema."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.common import ConfigOption, console, own_folders, settings, user_errors
from router.store import current_revision, head_revision, upgrade
from router.store.database import database_errors, make_engine

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(
    revision: str = typer.Argument("head", help="Target revision."),
    config: Path | None = ConfigOption,
) -> None:
    """Create or evolve the schema to the latest migration (SQLite or PostgreSQL)."""
    cfg = settings(config)
    with user_errors():
        engine = make_engine(cfg.database_url, create_folders=own_folders(cfg))
        with database_errors(engine):
            before = current_revision(engine)
            upgrade(engine, revision)
            after = current_revision(engine)
    console.print(f"database schema: {before or '(empty)'} -> {after}")


@app.command("current")
def current_cmd(config: Path | None = ConfigOption) -> None:
    """Show the schema revision of the database and the latest one this version knows."""
    cfg = settings(config)
    with user_errors():
        engine = make_engine(cfg.database_url, create_folders=own_folders(cfg))
        with database_errors(engine):
            revision = current_revision(engine)
    console.print(f"database: {revision or '(empty)'}; latest: {head_revision()}")
