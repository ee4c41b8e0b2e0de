"""A worker: the scheduled work of every connector (pull on its interval, decide, drain the outbox), run until
told to stop, with a heartbeat in the store.

Any number of workers (one per process, on any machine) share one PostgreSQL database: each cycle's sync is a
once-per-interval job, deciding and applying claim their work (see router.loop.cycle). ``deskroute run`` runs
this same loop in its one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from connectors.errors import ConnectorError, excerpt
from router.loop.apply import LEASE
from router.loop.cycle import CycleReport
from router.runtime import Runtime
from router.store import StoreError
from router.store.heartbeats import beat, new_worker_id, sign_off

HEARTBEAT_EVERY = 5.0  # seconds between heartbeats while busy; an idle worker beats each time it wakes

Say = Callable[[str], None]


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Worker:
    """Runs cycles for ``connectors`` through ``runtime`` until :meth:`stop` is called (from a signal handler)."""

    def __init__(
        self,
        runtime: Runtime,
        connectors: Sequence[str],
        *,
        apply: bool = True,
        idle_seconds: float = 1.0,
        lease: timedelta = LEASE,
        say: Say = lambda line: None,
        worker_id: str | None = None,
        until_idle: bool = False,
    ):
        self.runtime = runtime
        self.connectors = list(connectors)
        self.apply = apply
        self.idle_seconds = idle_seconds
        self.lease = lease
        self.say = say
        self.worker_id = worker_id or new_worker_id()
        self.until_idle = until_idle
        self.started_at = datetime.now(UTC)
        self._stopping = threading.Event()
        self._last_beat = 0.0
        self.failures = 0

    def stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run` (safe to call from a signal handler)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def line(self, event: str, **fields: object) -> None:
        """One progress line: time, worker, event, then key=value pairs (values without spaces)."""
        parts = " ".join(f"{key}={str(value).replace(' ', '_')}" for key, value in fields.items())
        self.say(f"{_stamp()} worker={self.worker_id} event={event}" + (f" {parts}" if parts else ""))

    def _beat(self, running: str, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
            return
        with self.runtime.store.session() as session:
            beat(session, self.worker_id, running=running, started_at=self.started_at)
            session.commit()
        self._last_beat = time.monotonic()

    def _between_batches(self, name: str) -> bool:
        """Asked by the cycle between batches: beat (a long backlog must not look like a dead worker), and
        say whether to stop."""
        self._beat(f"cycle {name}")
        return self.stopping

    def cycle(self, name: str) -> CycleReport:
        """One cycle for connector ``name``; its sync only when due across all workers."""
        self._beat(f"cycle {name}")
        return self.runtime.cycle(
            name,
            apply=self.apply,
            scheduled=True,
            worker=self.worker_id,
            lease=self.lease,
            stop=lambda: self._between_batches(name),
            on_sync=lambda event, job: self.line(f"job_{event}", job=job),
        )

    def run(self) -> None:
        """Cycle through the connectors until stopped; sleep ``idle_seconds`` when a round found nothing to do
        (or, ``until_idle``, return then)."""
        self._beat("starting", force=True)
        self.line("started", connectors=",".join(self.connectors))
        try:
            while not self.stopping:
                busy = False
                for name in self.connectors:
                    if self.stopping:
                        break
                    busy |= self._one(name)
                if not busy and self.until_idle:
                    break
                if not busy:
                    self._beat("idle")
                    self._stopping.wait(self.idle_seconds)
        finally:
            with self.runtime.store.session() as session:
                sign_off(session, self.worker_id)
                session.commit()
            self.line("stopped", failures=self.failures)

    def _one(self, name: str) -> bool:
        """One cycle, reported; True when it did any work. A failed cycle is reported and retried next round."""
        try:
            report = self.cycle(name)
        except (ConnectorError, StoreError, ValueError, OSError, sa.exc.SQLAlchemyError) as exc:
            # A policy or configuration error, a bad stored value, a missing file, a database or helpdesk that is
            # down: reported, and the same work tried again next round, as a person would once the cause is fixed.
            self.failures += 1
            self.line("cycle_failed", connector=name, error=type(exc).__name__, detail=excerpt(str(exc)))
            self._stopping.wait(self.idle_seconds)
            return False
        decided, outbox = report.engine.decided, report.outbox
        handled = sum(report.engine.outcomes.values())
        written = outbox.applied + outbox.already_applied + outbox.skipped + outbox.failed + outbox.dead
        if handled or written:
            self.line(
                "cycle",
                connector=name,
                pulled=report.sync.tickets,
                triaged=handled,
                decided=decided,
                applied=outbox.applied,
                already_applied=outbox.already_applied,
                skipped=outbox.skipped,
                failed=outbox.failed,
                dead=outbox.dead,
                seconds=f"{report.seconds['total']:.3f}",
            )
        if outbox.paused:
            self.line("paused", connector=name)
        return bool(handled or written or report.sync.records)
