"""``deskroute import`` and ``deskroute stats``: getting records in and seeing what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from connectors.files import RecordKind, parse_mapping
from router.cli.common import (
    ConfigOption,
    EncodingOption,
    console,
    err_console,
    fail,
    open_store,
    progress,
    settings,
    styled,
    user_errors,
)
from router.store import store_stats
from router.store.file_import import import_file

import_app = typer.Typer(help="Import records from CSV or JSONL files.", no_args_is_help=True)

MapOption = typer.Option(None, "--map", help="Column mapping FIELD=COLUMN,... e.g. body=description,queue=group.")
SourceOption = typer.Option("file", "--source", help="Source name the records are stored under.")
OnErrorOption = typer.Option(
    "abort", "--on-error", help="abort: a bad row writes nothing of the file; skip: write the good rows."
)


def _run_import(
    kind: RecordKind,
    file: Path,
    mapping: str | None,
    source: str,
    on_error: Literal["skip", "abort"],
    encoding: str,
    config: Path | None,
) -> None:
    cfg = settings(config)
    store = open_store(cfg)
    with user_errors():
        columns = parse_mapping(mapping)
        size = file.stat().st_size if file.is_file() else 0
        with progress(
            TextColumn(f"importing {kind}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
            disable=size < 256 * 1024,
        ) as bar:
            task = bar.add_task("read", total=size)
            report = import_file(
                store,
                kind,
                file,
                source=source,
                mapping=columns,
                on_error=on_error,
                encoding=encoding,
                on_read=lambda n: bar.advance(task, n),
            )
    for error in report.errors[:20]:
        err_console.print(styled(("bad row", "red"), f" {error}"), soft_wrap=True)
    if len(report.errors) > 20:
        err_console.print(f"... and {len(report.errors) - 20} more bad rows")
    if report.aborted:
        raise fail(
            f"{file}: {len(report.errors)} bad row(s); nothing was written (--on-error abort). "
            "Fix the rows above, or pass --on-error skip to import the good rows."
        )
    extra = f" and {report.comments} comments" if report.comments else ""
    skipped = f", skipped {len(report.errors)} bad row(s)" if report.errors else ""
    console.print(f"{file}: {report.rows} rows read, {report.written} {kind}{extra} stored{skipped}")


@import_app.command("tickets")
def import_tickets(
    file: Path = typer.Argument(..., help="CSV or JSONL file of tickets."),
    mapping: str | None = MapOption,
    source: str = SourceOption,
    on_error: str = OnErrorOption,
    encoding: str = EncodingOption,
    config: Path | None = ConfigOption,
) -> None:
    """Import tickets (defaults fit columns subject, body, queue, priority, language, tags, answer)."""
    _run_import("tickets", file, mapping, source, _on_error(on_error), encoding, config)


@import_app.command("customers")
def import_customers(
    file: Path = typer.Argument(..., help="CSV or JSONL file of customers."),
    mapping: str | None = MapOption,
    source: str = SourceOption,
    on_error: str = OnErrorOption,
    encoding: str = EncodingOption,
    config: Path | None = ConfigOption,
) -> None:
    """Import customers (columns id, email, name, organization, opted_out; others become attributes)."""
    _run_import("customers", file, mapping, source, _on_error(on_error), encoding, config)


@import_app.command("events")
def import_events(
    file: Path = typer.Argument(..., help="CSV or JSONL file of behaviour events."),
    mapping: str | None = MapOption,
    source: str = SourceOption,
    on_error: str = OnErrorOption,
    encoding: str = EncodingOption,
    config: Path | None = ConfigOption,
) -> None:
    """Import behaviour events (columns customer, kind, occurred_at; others become properties)."""
    _run_import("events", file, mapping, source, _on_error(on_error), encoding, config)


def _on_error(value: str) -> Literal["skip", "abort"]:
    if value not in ("skip", "abort"):
        raise fail(f"--on-error must be 'skip' or 'abort', not {value!r}")
    return "skip" if value == "skip" else "abort"


def stats(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    config: Path | None = ConfigOption,
) -> None:
    """Summarise what is stored: counts per table, tickets per source, queue, priority and language, and the
    records a sync kept in quarantine (with why)."""
    cfg = settings(config)
    store = open_store(cfg)
    with store.session() as session:
        summary = store_stats(session)
    if as_json:
        console.print_json(data=summary)
        return
    counts = Table(title=f"deskroute store ({store.safe_url})")
    counts.add_column("records")
    counts.add_column("count", justify="right")
    for name, n in summary["counts"].items():
        counts.add_row(name, str(n))
    console.print(counts)
    for key in ("tickets_by_source", "tickets_by_queue", "tickets_by_priority", "tickets_by_language"):
        table = Table(title=key.replace("_", " "))
        table.add_column(key.rsplit("_", 1)[-1])
        table.add_column("tickets", justify="right")
        for name, n in summary[key].items():
            table.add_row(str(name), str(n))
        console.print(table)
    held = summary["quarantine"]
    if not held["count"]:
        console.print("quarantine: empty (every record synced validated)")
        return
    table = Table(title=f"quarantine: {held['count']} record(s) refused by validation; the latest")
    for column in ("source", "record", "field", "when", "times", "reason"):
        table.add_column(column, overflow="fold")
    for entry in held["recent"]:
        table.add_row(
            str(entry["source"]),
            f"{entry['kind']} {entry['external_id']}",
            str(entry["field"] or ""),
            entry["quarantined_at"][:16].replace("T", " "),
            str(entry["times"]),
            str(entry["reason"]),
        )
    console.print(table)
