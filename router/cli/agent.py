"""``deskroute pause`` / ``resume`` and ``deskroute outbox``: control over every write to the helpdesks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.table import Table
from sqlmodel import select

from router.cli.common import ConfigOption, console, open_store, settings, styled
from router.loop.apply import is_paused, requeue_dead, set_paused
from router.store.tables import OutboxRow

outbox_app = typer.Typer(help="The outbox: actions waiting for, or applied to, the helpdesks.", no_args_is_help=True)


def pause(
    reason: str = typer.Option("", "--reason", help="Why, for the record."),
    config: Path | None = ConfigOption,
) -> None:
    """Stop all writes to every helpdesk at once. Decisions keep being recorded."""
    store = open_store(settings(config))
    with store.session() as s:
        set_paused(s, True, reason=reason)
    console.print(
        styled(("paused", "bold yellow"), ": no action will be written to any helpdesk until `deskroute resume`")
    )


def resume(config: Path | None = ConfigOption) -> None:
    """Resume writing actions to the helpdesks."""
    store = open_store(settings(config))
    with store.session() as s:
        set_paused(s, False)
    console.print(styled(("resumed", "bold green"), ": queued actions will be applied on the next run"))


@outbox_app.command("status")
def outbox_status(config: Path | None = ConfigOption) -> None:
    """Counts of outbox actions per connector and state, and the dead letters with their last error."""
    store = open_store(settings(config))
    with store.session() as s:
        rows = s.exec(select(OutboxRow)).all()
        paused = is_paused(s)
    counts = Counter((r.source, r.state) for r in rows)
    table = Table(title=f"outbox{' (PAUSED)' if paused else ''}")
    for column in ("connector", "state", "actions"):
        table.add_column(column)
    for (source, state), n in sorted(counts.items()):
        table.add_row(source, state, str(n))
    console.print(table)
    for r in rows:
        if r.state == "dead":
            console.print(
                styled(
                    ("dead", "red"), f" {r.source} {r.kind} on {r.target} after {r.attempts} attempts: {r.last_error}"
                ),
                soft_wrap=True,
            )


@outbox_app.command("retry-dead")
def outbox_retry_dead(
    connector: str | None = typer.Option(None, "--connector", help="Only this connector's dead letters."),
    config: Path | None = ConfigOption,
) -> None:
    """Put dead-lettered actions back in the queue once their cause is fixed."""
    store = open_store(settings(config))
    with store.session() as s:
        n = requeue_dead(s, connector)
    console.print(f"{n} dead action(s) queued again")
