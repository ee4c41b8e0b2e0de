"""``deskroute sync NAME``: pull a helpdesk's changes into the store, resumably."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

from connectors.base import PullBatch
from connectors.errors import ConnectorError
from router.adapters.connector_factory import build_connector, connector_settings
from router.cli.common import ConfigOption, console, err_console, fail, open_store, progress, settings, styled
from router.cli.connectors_cmds import connector_errors
from router.cli.options import parse_moment
from router.loop.sync import SyncReport
from router.loop.sync import sync as run_sync


def sync(
    name: str = typer.Argument(..., help="Connector name: the NAME of a \\[connectors.NAME] table."),
    since: str | None = typer.Option(
        None, "--since", help="Start with changes at or after this ISO time instead of the stored cursor."
    ),
    full: bool = typer.Option(False, "--full", help="Pull everything again, ignoring the stored cursor."),
    config: Path | None = ConfigOption,
) -> None:
    """Pull tickets, comments and customers changed since the last sync; each page is committed with its cursor.

    Stopped at any point (Ctrl-C, a crash, a helpdesk outage), the next run resumes after the last stored page.
    """
    if full and since:
        raise fail("--full and --since exclude each other: --full pulls everything, --since from a time")
    start = parse_moment(since, "--since") if since is not None else None
    cfg = settings(config)
    store = open_store(cfg)
    report: SyncReport | None = None
    with connector_errors(name):
        conn_settings = connector_settings(cfg, name)
        with (
            build_connector(name, conn_settings) as connector,
            progress(
                SpinnerColumn(),
                TextColumn(f"syncing {name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("tickets"),
                TimeElapsedColumn(),
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("sync", total=None)

            def on_batch(batch: PullBatch, so_far: SyncReport) -> None:
                nonlocal report
                report = so_far
                total = so_far.tickets + batch.remaining if batch.remaining is not None else None
                bar.update(task, completed=so_far.tickets, total=total)

            try:
                report = run_sync(store, connector, since=start, full=full, on_batch=on_batch)
            except ConnectorError as exc:
                if report is None or not report.batches:
                    raise
                again = " (temporary)" if exc.retryable else ""
                raise fail(
                    f"{exc}{again}. The {report.batches} batch(es) before it are stored ({report.tickets} tickets); "
                    f"`deskroute sync {name}` resumes after them."
                ) from None
    for problem in report.problems[:20]:
        err_console.print(styled(("skipped", "yellow"), f" {problem}"), soft_wrap=True)
    if len(report.problems) > 20:
        err_console.print(f"... and {len(report.problems) - 20} more")
    for refused in report.refused[:20]:
        err_console.print(styled(("quarantined:", "yellow"), f" {refused.reason}"), soft_wrap=True)
    if len(report.refused) > 20:
        err_console.print(f"... and {len(report.refused) - 20} more quarantined")
    own = f" ({report.own_changes} last changed by deskroute)" if report.own_changes else ""
    console.print(
        f"{name}: {report.tickets} tickets{own}, {report.comments} comments, {report.customers} customers "
        f"stored in {report.batches} batch(es); cursor {report.cursor or '(start)'}",
        soft_wrap=True,
    )
    if report.refused:
        console.print(
            f"{name}: {len(report.refused)} record(s) did not validate and are kept in quarantine "
            "(see `deskroute stats`); a corrected version in the helpdesk replaces them at the next sync",
            soft_wrap=True,
        )
    if report.released:
        console.print(f"{name}: {report.released} quarantined record(s) replaced by valid versions")
