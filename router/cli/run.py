"""``deskroute run``: the agent's loop (sync -> decide -> apply), once or on a schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from router.adapters.connector_factory import build_connector, connector_settings
from router.cli.common import ConfigOption, console, err_console, fail, open_store, settings, styled, user_errors
from router.cli.connectors_cmds import connector_errors
from router.config import Settings
from router.loop.cycle import CycleReport, run_cycle
from router.store import Store, StoreError

PolicyOption = typer.Option(
    None,
    "--policy",
    help="Route with this policy YAML for this run only (default: the active policy; see deskroute policy history).",
)


def load_active_policy(store: Store, cfg: Settings, path: Path | None):  # type: ignore[no-untyped-def]
    """The policy to route with: --policy FILE for this run only, else the store's active version.

    On first use (no version stored yet) the configured `policy` file is stored and activated; from then on a
    changed file changes nothing until `deskroute policy activate FILE`.
    """
    from policies import PolicyError
    from router.store.policies import default_actor, read_policy_file, routing_policy, store_policy

    try:
        with store.session() as session:
            if path is None:
                return routing_policy(session, cfg.policy)
            # Stored (not activated), so the decisions of this run can be looked up by their policy version too.
            text, (policy, _) = read_policy_file(path)
            store_policy(session, text, str(path.absolute()), default_actor())
            session.commit()
            return policy
    except (PolicyError, StoreError) as exc:
        raise fail(str(exc)) from None


def _cycle(store: Store, cfg: Settings, name: str, policy_path: Path | None, apply: bool) -> CycleReport:
    from router.signals.source import load_signal_source

    policy = load_active_policy(store, cfg, policy_path)
    with connector_errors(name):
        conn_settings = connector_settings(cfg, name)
        signal_source = load_signal_source(cfg, store)
        with build_connector(name, conn_settings) as connector:
            return run_cycle(
                store,
                connector,
                mode=conn_settings.mode,
                policy=policy,
                signal_source=signal_source,
                now=datetime.now(UTC),
                apply=apply,
            )


def print_cycle(report: CycleReport) -> None:
    table = Table(title=f"{report.connector} ({report.mode} mode)")
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    s = report.sync
    table.add_row(
        "sync",
        f"{s.tickets} tickets, {s.comments} comments, {s.customers} customers pulled"
        + (f"; {len(s.refused)} did not validate, kept in quarantine (deskroute stats)" if s.refused else ""),
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
    store = open_store(cfg)
    if once:
        for name in names:
            print_cycle(_cycle(store, cfg, name, policy, not dry_run))
        return
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")
    for name in names:
        with user_errors():
            interval = connector_settings(cfg, name).poll_interval_seconds

        def job(name: str = name) -> None:
            try:
                print_cycle(_cycle(store, cfg, name, policy, not dry_run))
            except typer.Exit:
                err_console.print(styled((f"{name}: cycle failed", "red"), "; retrying at the next interval"))

        scheduler.add_job(
            job, "interval", seconds=interval, next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, id=name
        )
    console.print(f"deskroute running for {', '.join(names)}; Ctrl-C stops")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
