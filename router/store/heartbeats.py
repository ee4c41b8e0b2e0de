"""Worker heartbeats: which processes are running the jobs, what each is doing, and whether it still lives.

A worker writes its row as it starts and at least every few seconds while it runs, and deletes it when it
stops cleanly; a killed worker's row stays, its heartbeat growing old, so "alive" always means "beat lately".
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from router.store.tables import WorkerHeartbeatRow

# A worker beats every few seconds; missing several in a row means it is gone (or stuck).
LIVE_WITHIN = timedelta(seconds=60)


def new_worker_id() -> str:
    """Unique per process start: a restarted worker (even with the same pid) is a new one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def beat(session: Session, worker_id: str, *, running: str, started_at: datetime, now: datetime | None = None) -> None:
    """Record that ``worker_id`` (this process) is alive and what it is doing; the caller commits."""
    when = now or datetime.now(UTC)
    row = session.get(WorkerHeartbeatRow, worker_id)
    if row is None:
        row = WorkerHeartbeatRow(
            worker_id=worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=started_at,
            heartbeat_at=when,
            running=running,
        )
    row.heartbeat_at = when
    row.running = running[:200]
    session.add(row)


def sign_off(session: Session, worker_id: str) -> None:
    """A worker stopping cleanly takes its row away; the caller commits."""
    row = session.get(WorkerHeartbeatRow, worker_id)
    if row is not None:
        session.delete(row)


def live_workers(
    session: Session, within: timedelta = LIVE_WITHIN, now: datetime | None = None
) -> list[WorkerHeartbeatRow]:
    """The workers that beat within ``within`` of ``now``, most recent first (none: nobody runs the jobs)."""
    since = (now or datetime.now(UTC)) - within
    query = select(WorkerHeartbeatRow).where(col(WorkerHeartbeatRow.heartbeat_at) >= since)
    return list(session.exec(query.order_by(col(WorkerHeartbeatRow.heartbeat_at).desc())).all())
