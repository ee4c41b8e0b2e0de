"""What every command shares: loading settings and the store, and turning known errors into clean exits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

from router.config import ConfigError, Settings, load_settings
from router.store import Store, StoreError

console = Console()
err_console = Console(stderr=True)

ConfigOption = typer.Option(
    None, "--config", "-c", help="Path to deskroute.toml (default: $DESKROUTE_CONFIG or ./deskroute.toml)."
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error for a person (no stack trace) and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Known, user-fixable errors become one clear line and exit status 1."""
    try:
        yield
    except (ConfigError, StoreError, ValueError, FileNotFoundError, PermissionError) as exc:
        raise fail(str(exc)) from None


def settings(config: Path | None) -> Settings:
    with user_errors():
        return load_settings(config)


def open_store(cfg: Settings) -> Store:
    with user_errors():
        return Store(cfg.database_url, create_folders=own_folders(cfg))


def own_folders(cfg: Settings) -> tuple[Path, ...]:
    """The folders deskroute creates for a SQLite store: the configured data folder and the default one
    (where the default store lives); a store anywhere else must be in a folder that exists."""
    return (cfg.data_dir, Settings.model_fields["data_dir"].default)
