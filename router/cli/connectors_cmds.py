"""``deskroute connectors``: the helpdesks deskroute is connected to, and whether they answer."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from connectors.errors import ConnectorError, excerpt
from connectors.redaction import mask_url
from router.adapters.connector_factory import build_connector, connector_settings
from router.cli.common import ConfigOption, console, fail, open_store, settings, styled, user_errors
from router.loop.sync import stored_cursor

app = typer.Typer(
    help="Helpdesk connectors defined as \\[connectors.NAME] tables in deskroute.toml.", no_args_is_help=True
)


# The longest line a check prints: vendor text in it is an excerpt already, this bounds the rest.
_LINE = 1000


@contextlib.contextmanager
def connector_errors(name: str) -> Iterator[None]:
    """Configuration and helpdesk errors become one clear line and exit status 1."""
    with user_errors():
        try:
            yield
        except ConnectorError as exc:
            again = " (temporary: try again later)" if exc.retryable else ""
            raise fail(excerpt(f"{exc}{again}", _LINE)) from None


def _cursor_summary(cursor: dict[str, Any] | None) -> str:
    if not cursor:
        return "never synced"
    if "since" in cursor:
        return f"changes since {cursor['since']}"
    if "line" in cursor:
        return f"line {cursor['line']}"
    text = json.dumps(cursor, sort_keys=True)
    return text if len(text) <= 40 else text[:39] + "…"


@app.command("list")
def list_cmd(config: Path | None = ConfigOption) -> None:
    """List the configured connectors: type, mode, where they point, credentials set or not, last cursor."""
    cfg = settings(config)
    if not cfg.connectors:
        console.print("no connectors configured; add a [connectors.NAME] table to deskroute.toml")
        return
    store = open_store(cfg)
    table = Table("name", "type", "mode", "where", "credentials", "sync cursor")
    for name, conn in sorted(cfg.connectors.items()):
        where = mask_url(conn.base_url) if conn.base_url else str(conn.path or conn.actions_path or "")
        creds = []
        for which in ("username", "password", "token"):
            var = getattr(conn, f"{which}_env")
            if var:
                creds.append(f"{var} ({'set' if conn.secret(which) else 'unset'})")
        with user_errors():
            cursor = stored_cursor(store, name)
        table.add_row(name, conn.type, conn.mode, where, ", ".join(creds) or "-", _cursor_summary(cursor))
    console.print(table)


@app.command("check")
def check_cmd(
    name: str = typer.Argument(..., help="Connector name: the NAME of a \\[connectors.NAME] table."),
    config: Path | None = ConfigOption,
) -> None:
    """Check credentials, permissions and reachability of one connector; exit 1 when anything fails."""
    cfg = settings(config)
    with connector_errors(name):
        conn_settings = connector_settings(cfg, name)
        with build_connector(name, conn_settings) as connector:
            report = connector.check()
    for item in report.items:
        # The detail holds what the helpdesk answered: shown literally, and only its start.
        mark = ("ok  ", "green") if item.ok else ("FAIL", "red")
        console.print(styled(mark, " " + excerpt(f"{item.name}: {item.detail}", _LINE)), soft_wrap=True)
    if not report.ok:
        raise fail(f"connector '{name}' is not ready; fix the items marked FAIL")
    console.print(f"connector '{name}' ({conn_settings.type}, mode {conn_settings.mode}) is ready")
