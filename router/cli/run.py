"""``deskroute run``: the agent's loop (sync -> decide -> apply), once or on a schedule."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from router.cli.common import ConfigOption, console, err_console, fail, open_store, settings, styled, user_errors
from router.cli.connectors_cmds import connector_errors
from router.config import Settings
from router.loop.cycle import CycleReport
from router.runtime import Runtime
from router.store import Store

PolicyOption = typer.Option(
    None,
    "--policy",
    help="Route with this policy YAML for this run only (default: the active policy; see deskroute policy history).",
)


def open_runtime(cfg: Settings, store: Store, policy_path: Path | None = None) -> Runtime:
    """The runtime the command works through; --policy FILE routes this run only (stored, not activated)."""
    with user_errors():
        return Runtime(cfg, store=store, policy_file=policy_path)


def _cycle(runtime: Runtime, name: str, apply: bool) -> CycleReport:
    with connector_errors(name):
        return runtime.cycle(name, apply=apply)


def print_cycle(report: CycleReport) -> None:
    table = Table(title=f"{report.connector} ({report.mode} mode)")
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    s = report.sync
    pulled = (
        f"{s.tickets} tickets, {s.comments} comments, {s.customers} customers pulled"
        if report.sync_skipped is None
        else f"not pulled: {report.sync_skipped} (another process is pulling this connector)"
    )
    table.add_row(
        "sync",
        pulled + (f"; {len(s.refused)} did not validate, kept in quarantine (deskroute stats)" if s.refused else ""),
        f"{report.seconds['sync']:.2f}",
    )
    outcomes = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(report.engine.outcomes.items())) or "-"
    table.add_row("decide", outcomes, f"{report.seconds['decide'] + report.seconds['signals']:.2f}")
    o = report.outbox
    applied = (
        f"{o.applied} applied, {o.already_applied} already there, {o.skipped} skipped by mode, "
        f"{o.failed} to retry, {o.dead} dead"
    )
    table.add_row("apply", "PAUSED: nothing written" if o.paused else applied, f"{report.seconds['apply']:.2f}")
    console.print(table)
    for error in o.errors[:10]:
        err_console.print(styled(("apply failed", "red"), f" {error}"), soft_wrap=True)


def run(
    once: bool = typer.Option(False, "--once", help="One sync -> decide -> apply cycle, then exit (cron, tests)."),
    connector: str | None = typer.Option(None, "--connector", help="Only this connector (default: all)."),
    policy: Path | None = PolicyOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide and record, but apply nothing."),
    config: Path | None = ConfigOption,
) -> None:
    """Run the agent: pull changes, decide for the tickets that need it, write actions back in each mode."""
    cfg = settings(config)
    names = [connector] if connector else sorted(cfg.connectors)
    if not names:
        raise fail("no connectors configured: add a [connectors.NAME] table to deskroute.toml")
    runtime = open_runtime(cfg, open_store(cfg), policy)
    with runtime:
        if once:
            for name in names:
                print_cycle(_cycle(runtime, name, not dry_run))
            return
        _schedule(runtime, names, apply=not dry_run)


def _schedule(runtime: Runtime, names: list[str], *, apply: bool) -> None:
    # The worker's loop, in this one process: the same jobs as `deskroute worker`, on the same schedule.
    from router.cli.worker_cmds import run_worker

    console.print(f"deskroute running for {', '.join(names)}; Ctrl-C stops")
    run_worker(runtime, names, apply=apply, idle_seconds=1.0, lease_seconds=60.0)
