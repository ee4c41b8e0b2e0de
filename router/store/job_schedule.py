"""Jobs that run once per interval across every process: a stored next-run time, read and moved on under the
job's advisory lock, so of several workers asking at once exactly one runs the job and the others skip it.

The lock is held for the job's whole run (a transaction-scoped lock on a connection of its own), so a job
never overlaps itself; a worker killed mid-job loses its connection, the lock goes with it, and the next-run
time, never moved on, makes the job due again for the next worker that asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy.dialects import postgresql, sqlite

from connectors.errors import excerpt
from router.store.advisory_locks import is_postgresql, try_job_lock
from router.store.database import Store
from router.store.tables import ScheduledJobRow

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobRun(Generic[T]):
    """What asking for a job gave: its result when it ran here, else why not ("not due", "running elsewhere")."""

    name: str
    ran: bool
    reason: str
    result: T | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def _ensure_row(store: Store, name: str) -> None:
    """The job's row exists (inserted once, whoever gets there first), in a short transaction of its own.

    Apart from the job's transaction so that on SQLite that one only reads until the job has run: SQLite has
    one writer at a time, and the job itself writes.
    """
    with store.session() as session:
        insert = postgresql.insert if is_postgresql(session) else sqlite.insert
        row = insert(ScheduledJobRow).values(name=name, runs=0)
        session.execute(row.on_conflict_do_nothing(index_elements=["name"]))
        session.commit()


def run_if_due(
    store: Store,
    name: str,
    every: timedelta,
    work: Callable[[], T],
    *,
    worker: str,
    clock: Callable[[], datetime] = utc_now,
    on_event: Callable[[str, str], None] | None = None,
) -> JobRun[T]:
    """Run ``work`` if job ``name`` is due and no other process is running it; then it is due ``every`` later.

    ``every`` of zero runs it whenever nobody else is (``deskroute run --once``). A job that raises is not
    retried before its next interval either (a failing helpdesk is not hammered by every worker): the error is
    stored on the job's row and raised to the caller. ``on_event(event, name)`` hears "start" once the job is
    this process's to run and "done" when it has run, both while the lock is held.
    """
    _ensure_row(store, name)
    error: Exception | None = None
    result: T | None = None
    with store.session() as session:
        if not try_job_lock(session, name):
            session.rollback()
            return JobRun(name, ran=False, reason="running elsewhere")
        row = session.get(ScheduledJobRow, name, populate_existing=True)
        assert row is not None  # _ensure_row inserted it, and job rows are never deleted
        started = clock()
        if every > timedelta(0) and row.next_run_at is not None and row.next_run_at > started:
            session.rollback()
            return JobRun(name, ran=False, reason="not due")
        if on_event is not None:
            on_event("start", name)
        try:
            result = work()
        except Exception as exc:  # stored, then raised: the caller reports it its own way
            error = exc
        if on_event is not None:
            on_event("done", name)
        finished = clock()
        row.last_started_at = started
        row.last_finished_at = finished
        row.next_run_at = started + every
        row.last_worker = worker
        row.last_error = f"{type(error).__name__}: {excerpt(str(error))}" if error is not None else None
        row.runs += 1
        session.add(row)
        session.commit()
    if error is not None:
        raise error
    return JobRun(name, ran=True, reason="ran", result=result, started_at=started, finished_at=finished)
