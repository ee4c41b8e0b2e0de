"""The outbox: actions are committed with their decision first, then applied to the helpdesk.

Every row carries the action's idempotency key. A row is marked ``applying`` (and committed) before the
connector is called, so a process that dies between the helpdesk's answer and our commit leaves the row
``applying``; once its lease expires (at once if its process is gone from this machine) the next drain, in any
process, applies it again, and the connector's idempotency (set-field writes are harmless twice; notes and
outreach carry a marker that is checked before writing; the file connector looks for the key in its file under
a file lock) makes that second call a no-op.

Several processes drain at once: each leases a few rows at a time (claimed with SKIP LOCKED), so a row is
applied by the one process that holds its lease.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors import SUGGEST_KINDS, Action, ActionResult
from connectors.errors import ConnectorError
from router.store import Store
from router.store.tables import AgentStateRow, OutboxRow

log = logging.getLogger(__name__)

PAUSE_KEY = "pause"
CLAIM = 25  # outbox rows leased at a time: a killed worker's share of the backlog waits one lease at most
LEASE = timedelta(seconds=60)  # how long a leased row is nobody else's; renewed as each row is applied
RETRYABLE_STATES = ("pending", "applying", "failed")
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0  # the longest Retry-After honoured


class ActionTarget(Protocol):
    """What the outbox needs of a connector: apply one action, idempotently."""

    def apply(self, action: Action) -> ActionResult: ...


@dataclass(frozen=True)
class OutboxPolicy:
    """Retry schedule: exponential backoff from ``base_delay``; ``dead`` after ``max_attempts`` failures."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        return min(self.base_delay * (2 ** max(attempts - 1, 0)), self.max_delay)


@dataclass
class OutboxReport:
    applied: int = 0
    already_applied: int = 0
    skipped: int = 0
    failed: int = 0
    dead: int = 0
    paused: bool = False
    errors: list[str] = field(default_factory=list)


def is_paused(session: Session) -> bool:
    row = session.get(AgentStateRow, PAUSE_KEY)
    return bool(row and row.value.get("paused"))


def set_paused(session: Session, paused: bool, *, by: str = "cli", reason: str = "") -> None:
    """Stop (or resume) every write to every helpdesk at once; decisions keep being recorded."""
    now = datetime.now(UTC)
    row = session.get(AgentStateRow, PAUSE_KEY) or AgentStateRow(key=PAUSE_KEY, updated_at=now)
    row.value = {"paused": paused, "by": by, "reason": reason, "at": now.isoformat()}
    row.updated_at = now
    session.add(row)
    session.commit()


def allowed_by_mode(kind: str, mode: str) -> bool:
    """shadow writes nothing; suggest writes only tags and the note; auto writes everything."""
    if mode == "auto":
        return True
    if mode == "suggest":
        return kind in SUGGEST_KINDS
    return False


def due_rows(
    session: Session, now: datetime, source: str | None = None, limit: int = 500, after_id: int = 0
) -> list[OutboxRow]:
    query = select(OutboxRow).where(
        col(OutboxRow.state).in_(RETRYABLE_STATES), col(OutboxRow.next_attempt_at) <= now, col(OutboxRow.id) > after_id
    )
    if source:
        query = query.where(OutboxRow.source == source)
    return list(session.exec(query.order_by(col(OutboxRow.id)).limit(limit)).all())


def claim_due(
    session: Session,
    now: datetime,
    sources: Collection[str],
    *,
    owner: str,
    lease: timedelta,
    limit: int = CLAIM,
    after_id: int = 0,
) -> list[int]:
    """Lease up to ``limit`` due rows of ``sources`` (ids above ``after_id``) to ``owner``; commits the lease.

    Rows under another's unexpired lease are not due to anyone else; rows another transaction is claiming at
    this instant are skipped, not waited for (SKIP LOCKED; on SQLite, one process, the clause is left out).
    """
    lease_now = datetime.now(UTC)  # leases are about processes being alive: wall-clock time, not the cycle's
    dead = _dead_lessees(session, lease_now)
    due = (
        select(col(OutboxRow.id))
        .where(
            col(OutboxRow.state).in_(RETRYABLE_STATES),
            col(OutboxRow.next_attempt_at) <= now,
            col(OutboxRow.id) > after_id,
            col(OutboxRow.source).in_(list(sources)),
            sa.or_(
                col(OutboxRow.lease_expires_at).is_(None),
                col(OutboxRow.lease_expires_at) <= lease_now,
                col(OutboxRow.lease_owner).in_(dead),
            ),
        )
        .order_by(col(OutboxRow.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # One statement, one round trip: the rows are chosen, locked and leased together.
    claimed = session.execute(
        sa.update(OutboxRow)
        .where(col(OutboxRow.id).in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=lease_now + lease)
        .returning(col(OutboxRow.id))
    ).scalars()
    ids = sorted(claimed)
    session.commit()
    return ids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _dead_lessees(session: Session, now: datetime) -> list[str]:
    """Holders of unexpired leases that were processes on this machine and are gone (lessees are named
    host:pid:random): their rows need not wait for the leases to run out. A restarted `deskroute run --once`
    takes up at once what its killed predecessor held; a lessee on another machine is waited for."""
    owners = session.exec(
        select(OutboxRow.lease_owner)
        .where(col(OutboxRow.lease_expires_at) > now, col(OutboxRow.state).in_(RETRYABLE_STATES))
        .distinct()
    ).all()
    host = socket.gethostname()
    dead = []
    for owner in owners:
        parts = (owner or "").split(":")
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not _alive(int(parts[1])):
            dead.append(owner)
    return [owner for owner in dead if owner is not None]


def _release(store: Store, ids: list[int], owner: str) -> None:
    """Give back leases not used (a pause stopped the drain): the rows are due to anyone again at once."""
    if not ids:
        return
    with store.session() as session:
        session.execute(
            sa.update(OutboxRow)
            .where(col(OutboxRow.id).in_(ids), col(OutboxRow.lease_owner) == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        session.commit()


def default_owner() -> str:
    """Who holds a lease when the caller names nobody: this process, this drain."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def drain(
    store: Store,
    targets: Mapping[str, tuple[ActionTarget, str]],
    *,
    now: datetime | None = None,
    policy: OutboxPolicy | None = None,
    source: str | None = None,
    owner: str | None = None,
    lease: timedelta = LEASE,
    stop: Callable[[], bool] = lambda: False,
) -> OutboxReport:
    """Apply every due outbox row through its connector, in that connector's mode.

    ``targets`` maps a connector name to (connector, mode). Rows for connectors not in ``targets`` wait.
    Rows are leased a batch at a time (see :func:`claim_due`), so any number of processes can drain at once
    and each row is applied by one of them; a row whose lessee died is due again when the lease expires.
    The lease is renewed as each row is applied, so only a single call longer than ``lease`` can outlive it
    (the connector's idempotency then makes a second application a no-op).
    """
    policy = policy or OutboxPolicy()
    report = OutboxReport()
    when = now or datetime.now(UTC)
    owner = owner or default_owner()
    sources = [name for name in targets if source is None or name == source]
    last_id = 0
    # The whole backlog in one drain (a run after a pause, a first run over a thousand tickets), not one batch;
    # ids only go up, so each row is visited once however its attempt ends.
    while sources and not stop():
        with store.session() as session:
            claimed = claim_due(session, when, sources, owner=owner, lease=lease, limit=CLAIM, after_id=last_id)
        if not claimed:
            break
        last_id = claimed[-1]
        claimed = _skip_by_mode(store, claimed, targets, owner, report)
        if report.paused:
            _release(store, claimed, owner)
            return report
        for position, row_id in enumerate(claimed):
            if not _apply_leased(store, row_id, targets, owner, lease, when, policy, report):
                _release(store, claimed[position:], owner)
                return report
    return report


def _skip_by_mode(
    store: Store, ids: list[int], targets: Mapping[str, tuple[ActionTarget, str]], owner: str, report: OutboxReport
) -> list[int]:
    """Mark the leased rows their connector's mode does not write as skipped, all in one transaction (a shadow
    backlog is one commit per batch, not per row); returns the rows left to apply. Nothing while paused."""
    with store.session() as session:
        if is_paused(session):
            report.paused = True
            return ids
        rows = session.exec(select(OutboxRow).where(col(OutboxRow.id).in_(ids))).all()
        left = []
        for row in rows:
            if row.lease_owner != owner or row.state not in RETRYABLE_STATES:
                continue
            mode = targets[row.source][1]
            if allowed_by_mode(row.kind, mode):
                left.append(row.id)
                continue
            row.state = "skipped"
            row.result = {"status": "skipped", "detail": f"{mode} mode does not write {row.kind}"}
            row.lease_owner = row.lease_expires_at = None
            session.add(row)
            report.skipped += 1
        session.commit()
    return sorted(row_id for row_id in left if row_id is not None)


def _apply_leased(
    store: Store,
    row_id: int,
    targets: Mapping[str, tuple[ActionTarget, str]],
    owner: str,
    lease: timedelta,
    when: datetime,
    policy: OutboxPolicy,
    report: OutboxReport,
) -> bool:
    """Apply one leased row; False when writes are paused (the drain stops there)."""
    with store.session() as session:
        # Re-read the pause flag for every row: `deskroute pause` from another process stops us mid-batch.
        if is_paused(session):
            report.paused = True
            return False
        current = session.get(OutboxRow, row_id)
        if current is None or current.state not in RETRYABLE_STATES or current.lease_owner != owner:
            return True
        connector, mode = targets[current.source]
        if not allowed_by_mode(current.kind, mode):
            current.state = "skipped"
            current.result = {"status": "skipped", "detail": f"{mode} mode does not write {current.kind}"}
            current.lease_owner = current.lease_expires_at = None
            session.add(current)
            session.commit()
            report.skipped += 1
            return True
        current.state = "applying"
        current.attempts += 1
        current.lease_expires_at = datetime.now(UTC) + lease
        session.add(current)
        session.commit()
        action = Action.model_validate(current.action)
        retry_after: float | None = None
        final = False
        try:
            result = connector.apply(action)
        except ConnectorError as exc:
            # Credentials or a refused request will not fix themselves: dead-letter at once, visibly.
            final = not exc.retryable
            retry_after = getattr(exc, "retry_after", None)
            result = ActionResult(status="failed", detail=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # anything unexpected is retried with backoff, then dead-lettered
            result = ActionResult(status="failed", detail=f"{type(exc).__name__}: {exc}")
        _record(current, result, when, policy, report, final=final, retry_after=retry_after)
        current.lease_owner = current.lease_expires_at = None
        session.add(current)
        session.commit()
    return True


def _record(
    row: OutboxRow,
    result: ActionResult,
    now: datetime,
    policy: OutboxPolicy,
    report: OutboxReport,
    *,
    final: bool = False,
    retry_after: float | None = None,
) -> None:
    row.result = result.model_dump(mode="json")
    if result.status in ("applied", "already_applied"):
        row.state = "applied"
        row.applied_at = now
        row.last_error = None
        if result.status == "applied":
            report.applied += 1
        else:
            report.already_applied += 1
    elif result.status == "skipped":
        row.state = "skipped"
        report.skipped += 1
    else:
        row.last_error = result.detail[:2000]
        report.errors.append(f"{row.source} {row.kind} on {row.target}: {result.detail}")
        if final or row.attempts >= policy.max_attempts:
            row.state = "dead"
            report.dead += 1
        else:
            row.state = "failed"
            delay = policy.delay(row.attempts)
            if retry_after is not None and math.isfinite(retry_after):
                # A helpdesk's wait is honoured up to a day: a larger one is a broken header, not a plan.
                delay = max(delay, timedelta(seconds=min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)))
            row.next_attempt_at = now + delay
            report.failed += 1


def requeue_dead(session: Session, source: str | None = None, now: datetime | None = None) -> int:
    """Give dead-lettered actions another round (after the cause is fixed)."""
    query = select(OutboxRow).where(OutboxRow.state == "dead")
    if source:
        query = query.where(OutboxRow.source == source)
    rows = session.exec(query).all()
    for row in rows:
        row.state = "pending"
        row.attempts = 0
        row.next_attempt_at = now or datetime.now(UTC)
        session.add(row)
    session.commit()
    return len(rows)
