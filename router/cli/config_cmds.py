"""``deskroute config``: the effective configuration."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.common import ConfigOption, console, settings
from router.config import masked

app = typer.Typer(help="Configuration (deskroute.toml + DESKROUTE_* environment).", no_args_is_help=True)


@app.command("show")
def show(config: Path | None = ConfigOption) -> None:
    """Print the effective configuration as JSON, secrets masked."""
    console.print_json(data=masked(settings(config)))
