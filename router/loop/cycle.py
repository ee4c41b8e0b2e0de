"""One cycle for a connector: sync its changes, decide for the tickets that need it, apply the outbox.

The same cycle serves ``deskroute run`` (one process) and every ``deskroute worker``: the sync is a job that
runs in one process at a time (and, for workers, once per poll interval across all of them); deciding and
applying claim their work in batches, so several processes share a backlog without doing anything twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.base import Connector
from policies import RoutingPolicy
from router.loop.apply import LEASE, OutboxReport, default_owner, drain
from router.loop.decide import Engine, EngineReport, decide_pending
from router.loop.sync import SyncReport, sync
from router.signals.signal_source import SignalSource, TimedSignals
from router.store import Store
from router.store.job_schedule import run_if_due


def sync_job_name(connector: str) -> str:
    """The scheduled job that pulls ``connector``'s changes."""
    return f"sync:{connector}"


@dataclass
class CycleReport:
    """What one cycle did, with where its time went."""

    connector: str
    mode: str
    sync: SyncReport
    engine: EngineReport
    outbox: OutboxReport
    seconds: dict[str, float] = field(default_factory=dict)
    sync_skipped: str | None = None  # why this cycle did not pull: "not due", "running elsewhere"


def run_cycle(
    store: Store,
    connector: Connector,
    *,
    mode: str,
    policy: RoutingPolicy,
    signal_source: SignalSource,
    now: datetime | None = None,
    apply: bool = True,
    sync_every: timedelta = timedelta(0),
    worker: str | None = None,
    lease: timedelta = LEASE,
    stop: Callable[[], bool] = lambda: False,
    on_sync: Callable[[str, str], None] | None = None,
) -> CycleReport:
    """Sync -> decide -> apply for one connector. Decisions are recorded even when writes are paused.

    The sync runs unless another process is running it, or (``sync_every`` above zero) it ran less than
    ``sync_every`` ago in any process. ``stop()`` is asked between batches, so a worker told to stop finishes
    the batch it holds and no more.
    """
    when = now or datetime.now(UTC)
    who = worker or default_owner()
    timed = TimedSignals(signal_source)
    t0 = time.perf_counter()
    job = run_if_due(
        store,
        sync_job_name(connector.name),
        sync_every,
        lambda: sync(store, connector),
        worker=who,
        on_event=on_sync,
    )
    sync_report = job.result if job.result is not None else SyncReport(connector=connector.name, started_from=None)
    t1 = time.perf_counter()
    engine = Engine(policy, timed, connector=connector.name, mode=mode, agent_user=connector.agent_identity)
    engine_report = decide_pending(store, engine, when, stop=stop)
    t2 = time.perf_counter()
    outbox_report = (
        drain(store, {connector.name: (connector, mode)}, now=when, owner=who, lease=lease, stop=stop)
        if apply
        else OutboxReport()
    )
    t3 = time.perf_counter()
    return CycleReport(
        connector=connector.name,
        mode=mode,
        sync=sync_report,
        engine=engine_report,
        outbox=outbox_report,
        sync_skipped=None if job.ran else job.reason,
        seconds={
            "sync": t1 - t0,
            "signals": timed.seconds,
            "decide": (t2 - t1) - timed.seconds,
            "apply": t3 - t2,
            "total": t3 - t0,
        },
    )
