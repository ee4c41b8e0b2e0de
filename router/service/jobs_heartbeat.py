"""The heartbeat of whatever process runs the scheduled jobs: written while it runs them, read by ``/readyz``.

One row of the agent state, shared by every process on the database: any process running the jobs keeps it
fresh, so a service started with ``--no-jobs`` is ready as long as some other process does the work.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from router.store import Store
from router.store.tables import AgentStateRow

HEARTBEAT_KEY = "jobs_heartbeat"
#: How often a process running the jobs writes the heartbeat, and how old it may be before nobody counts as running.
BEAT_SECONDS = 15.0
STALE_AFTER = timedelta(seconds=4 * BEAT_SECONDS)


def beat(store: Store, now: datetime | None = None) -> None:
    """Say that this process is running the jobs, now."""
    moment = now or datetime.now(UTC)
    with store.session() as session:
        row = session.get(AgentStateRow, HEARTBEAT_KEY) or AgentStateRow(key=HEARTBEAT_KEY, updated_at=moment)
        row.value = {"host": socket.gethostname(), "pid": os.getpid(), "at": moment.isoformat()}
        row.updated_at = moment
        session.add(row)
        session.commit()


def last_beat(store: Store) -> datetime | None:
    """When some process last said it runs the jobs, or None if none ever did."""
    with store.session() as session:
        row = session.get(AgentStateRow, HEARTBEAT_KEY)
        return row.updated_at if row is not None else None


def jobs_running(store: Store, now: datetime | None = None) -> tuple[bool, str]:
    """Whether a process is running the jobs, and a line saying why (for ``/readyz``)."""
    last = last_beat(store)
    if last is None:
        return False, "no process has run the scheduled jobs yet (deskroute serve without --no-jobs runs them)"
    age = (now or datetime.now(UTC)) - last
    if age > STALE_AFTER:
        return False, f"the last process running the jobs stopped {age.total_seconds():.0f}s ago"
    return True, f"jobs heartbeat {age.total_seconds():.0f}s ago"
