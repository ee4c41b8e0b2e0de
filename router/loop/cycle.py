"""One cycle for a connector: sync its changes, decide for the tickets that need it, apply the outbox."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.base import Connector
from policies import RoutingPolicy
from router.loop.apply import OutboxReport, drain
from router.loop.decide import Engine, EngineReport
from router.loop.sync import SyncReport, sync
from router.loop.triage import open_tickets
from router.signals.signal_source import SignalSource, TimedSignals
from router.store import Store


@dataclass
class CycleReport:
    """What one cycle did, with where its time went."""

    connector: str
    mode: str
    sync: SyncReport
    engine: EngineReport
    outbox: OutboxReport
    seconds: dict[str, float] = field(default_factory=dict)


def run_cycle(
    store: Store,
    connector: Connector,
    *,
    mode: str,
    policy: RoutingPolicy,
    signal_source: SignalSource,
    now: datetime | None = None,
    apply: bool = True,
) -> CycleReport:
    """Sync -> decide -> apply for one connector. Decisions are recorded even when writes are paused."""
    when = now or datetime.now(UTC)
    timed = TimedSignals(signal_source)
    t0 = time.perf_counter()
    sync_report = sync(store, connector)
    t1 = time.perf_counter()
    engine = Engine(policy, timed, connector=connector.name, mode=mode, agent_user=connector.agent_identity)
    with store.session() as session:
        engine_report = engine.run(session, open_tickets(session, connector.name), when)
    t2 = time.perf_counter()
    outbox_report = drain(store, {connector.name: (connector, mode)}, now=when) if apply else OutboxReport()
    t3 = time.perf_counter()
    return CycleReport(
        connector=connector.name,
        mode=mode,
        sync=sync_report,
        engine=engine_report,
        outbox=outbox_report,
        seconds={
            "sync": t1 - t0,
            "signals": timed.seconds,
            "decide": (t2 - t1) - timed.seconds,
            "apply": t3 - t2,
            "total": t3 - t0,
        },
    )
