"""Whether some process runs the scheduled jobs, for ``/readyz``: the heartbeats every ``deskroute worker`` and
every ``deskroute serve`` running the jobs write (:mod:`router.store.heartbeats`), shared through the database, so
a service started with ``--no-jobs`` is ready as long as another process does the work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.store import Store
from router.store.heartbeats import LIVE_WITHIN, beat, live_workers, new_worker_id

#: How often a process running the jobs beats; a heartbeat older than LIVE_WITHIN no longer counts.
BEAT_SECONDS = 15.0

__all__ = ["BEAT_SECONDS", "JobsHeartbeat", "jobs_running"]


class JobsHeartbeat:
    """This process's heartbeat while it runs the jobs."""

    def __init__(self, store: Store, running: str = "serve: scheduled jobs"):
        self.store = store
        self.running = running
        self.worker_id = new_worker_id()
        self.started_at = datetime.now(UTC)

    def beat(self, now: datetime | None = None) -> None:
        with self.store.session() as session:
            beat(session, self.worker_id, running=self.running, started_at=self.started_at, now=now)
            session.commit()


def jobs_running(store: Store, now: datetime | None = None) -> tuple[bool, str]:
    """Whether a process is running the jobs, and a line saying why (for ``/readyz``)."""
    moment = now or datetime.now(UTC)
    with store.session() as session:
        alive = live_workers(session, LIVE_WITHIN, moment)
    if not alive:
        return False, (
            f"no process has run the scheduled jobs in the last {LIVE_WITHIN.total_seconds():.0f}s "
            "(run deskroute worker, or deskroute serve without --no-jobs)"
        )
    age: timedelta = moment - alive[0].heartbeat_at
    return True, f"{len(alive)} process(es) running the jobs; last heartbeat {age.total_seconds():.0f}s ago"
