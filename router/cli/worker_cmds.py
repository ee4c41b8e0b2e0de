"""``deskroute worker``: run the scheduled work (pull, decide, apply) beside any number of other workers."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from types import FrameType

import typer

from router.cli.common import ConfigOption, console, fail, open_store, settings, user_errors
from router.cli.run import open_runtime
from router.runtime import Runtime
from router.worker_loop import Worker


def run_worker(
    runtime: Runtime,
    names: list[str],
    *,
    apply: bool,
    idle_seconds: float,
    lease_seconds: float,
    until_idle: bool = False,
) -> Worker:
    """Run a worker in this process until SIGTERM or SIGINT (Ctrl-C), each finishing the batch in hand first."""
    with user_errors():
        for name in names:
            runtime.connector_settings(name)  # an unknown or broken connector fails here, before any work
        runtime.policy()  # so does a broken policy file (seeded into the store on first use)
    worker = Worker(
        runtime,
        names,
        apply=apply,
        idle_seconds=idle_seconds,
        lease=timedelta(seconds=lease_seconds),
        say=lambda line: console.print(line, soft_wrap=True, highlight=False),
        until_idle=until_idle,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        worker.line("stopping", signal=signal.Signals(signum).name)
        worker.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return worker


def worker(
    connector: list[str] = typer.Option([], "--connector", help="Only this connector (repeatable; default: all)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide and record, but apply nothing."),
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Stop after the first round with nothing to do (work off a backlog, then exit)."
    ),
    idle_seconds: float = typer.Option(
        1.0, "--idle-seconds", min=0.05, max=3600, help="Wait this long after a round that found nothing to do."
    ),
    lease_seconds: float = typer.Option(
        60.0,
        "--lease-seconds",
        min=1,
        max=86400,
        help="How long outbox actions this worker claims are its own; a killed worker's are picked up after it.",
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Run the scheduled work -- pull each connector on its interval, decide, apply the outbox -- until stopped.

    Any number of workers may run against one PostgreSQL database (on SQLite, run one): each pull runs once
    per interval across them, each ticket version is decided once and each action applied once. SIGTERM or
    Ctrl-C stops a worker after the batch in hand. One progress line per event (time, worker, event, key=value).
    """
    cfg = settings(config)
    names = connector or sorted(cfg.connectors)
    if not names:
        raise fail("no connectors configured: add a [connectors.NAME] table to deskroute.toml")
    unknown = [name for name in names if name not in cfg.connectors]
    if unknown:
        raise fail(
            f"--connector {unknown[0]!r} is not configured; configured: {', '.join(sorted(cfg.connectors)) or 'none'}"
        )
    runtime = open_runtime(cfg, open_store(cfg))
    with runtime:
        done = run_worker(
            runtime,
            names,
            apply=not dry_run,
            idle_seconds=idle_seconds,
            lease_seconds=lease_seconds,
            until_idle=until_idle,
        )
    if until_idle and done.failures:
        raise fail(f"{done.failures} cycle(s) failed (the cycle_failed lines above say why)")
