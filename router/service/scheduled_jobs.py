"""The scheduled work a service process runs when no separate workers do: each connector's cycle, on its interval.

It is the same work ``deskroute run`` schedules (sync -> decide -> apply through :meth:`Runtime.cycle`), plus
two things the service needs: webhook deliveries are marked done once a cycle that started after them has
synced, and an accepted delivery wakes its connector's cycle at once instead of at the next interval. The
process writes the jobs heartbeat while it runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from router.config import ConfigError
from router.loop.cycle import CycleReport
from router.runtime import Runtime
from router.service import jobs_heartbeat
from router.store.webhook_inbox import mark_done, pending_deliveries

log = logging.getLogger("deskroute.jobs")
#: How long after a webhook a cycle must start for its sync to see the change the webhook announced.
SETTLE = timedelta(seconds=2.5)

CycleObserver = Callable[[CycleReport], None]


class ScheduledJobs:
    """Every configured connector's cycle on an APScheduler background scheduler, and the heartbeat."""

    def __init__(self, runtime: Runtime, *, observe: CycleObserver | None = None):
        self.runtime = runtime
        self.observe = observe
        self.names = sorted(runtime.settings.connectors)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.heartbeat = jobs_heartbeat.JobsHeartbeat(runtime.store)

    def run_connector(self, name: str) -> CycleReport:
        """One cycle for ``name``; the deliveries waiting before it started are done once it has synced."""
        started = self.runtime.clock()
        with self.runtime.store.session() as session:
            waiting = pending_deliveries(session, name)
        # Hinted tickets are synced now; otherwise the pull waits its turn, once per interval across every process
        # (workers and other services), while deciding and applying take only what no other process has claimed.
        report = self.runtime.cycle(name, scheduled=not waiting, worker=self.heartbeat.worker_id)
        # A helpdesk's incremental pull holds back changes of its last second until that second is settled, so a
        # delivery that arrived just before the cycle may hint at a change this cycle could not see yet: it stays
        # pending and the cycle runs again once the second has passed.
        settled = [r.id for r in waiting if r.id is not None and (started - r.received_at) >= SETTLE]
        with self.runtime.store.session() as session:
            mark_done(session, settled, now=self.runtime.clock())
            # Deliveries left (too fresh for this cycle, or accepted while it ran: a wake-up then is skipped, as
            # one cycle per connector runs at a time) get a cycle of their own once their second has settled.
            left = bool(pending_deliveries(session, name))
        if left:
            self.wake(name, after=SETTLE)
        if self.observe is not None:
            self.observe(report)
        return report

    def _job(self, name: str) -> None:
        try:
            report = self.run_connector(name)
        except Exception as exc:  # one failed cycle must not stop the schedule; the next interval retries
            log.error("cycle for %s failed; retrying at the next interval", name, exc_info=exc)
            return
        log.info(
            "cycle for %s: %d synced, %d decided, %d applied",
            name,
            report.sync.tickets,
            report.engine.decided,
            report.outbox.applied,
            extra={"connector": name},
        )

    def _beat(self) -> None:
        try:
            self.heartbeat.beat()
        except Exception as exc:  # the store being away shows in /readyz; the scheduler keeps going
            log.warning("could not write the jobs heartbeat", exc_info=exc)

    def start(self) -> None:
        """Schedule every connector's cycle (the first at once) and the heartbeat, in background threads."""
        now = datetime.now(UTC)
        for name in self.names:
            try:
                interval = self.runtime.connector_settings(name).poll_interval_seconds
            except ConfigError as exc:
                log.error("connector %s is not scheduled: %s", name, exc)
                continue
            self.scheduler.add_job(
                self._job, "interval", args=[name], seconds=interval, next_run_time=now,
                max_instances=1, coalesce=True, id=f"cycle:{name}",
            )  # fmt: skip
        self.scheduler.add_job(
            self._beat, "interval", seconds=jobs_heartbeat.BEAT_SECONDS, next_run_time=now, id="heartbeat"
        )
        self.scheduler.start()

    def wake(self, name: str, after: timedelta = timedelta(0)) -> None:
        """Run ``name``'s cycle now (a webhook arrived), or ``after`` from now, instead of at its next interval."""
        job = self.scheduler.get_job(f"cycle:{name}")
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC) + after)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
