"""Incremental sync: a connector's batches into the store, each batch with its cursor in one transaction.

A sync killed at any point resumes from the last committed batch: the records of a batch and the cursor
after it are committed together or not at all, and upserts by (source, external_id) make a re-pulled record
replace itself rather than appear twice. A record the helpdesk sent that does not validate goes into the
quarantine in the same transaction, so the cursor never moves past a record that is neither stored nor kept
there; a later good version of it is stored and leaves the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from connectors.base import Connector, Cursor, PullBatch, Refused
from router.store import Store, get_cursor, quarantine, release, set_cursor, upsert


@dataclass
class SyncReport:
    """What a sync did: where it started and stopped, and what it stored."""

    connector: str
    started_from: Cursor | None
    cursor: Cursor | None = None
    batches: int = 0
    tickets: int = 0
    comments: int = 0
    customers: int = 0
    ratings: int = 0
    events: int = 0
    own_changes: int = 0
    problems: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    released: int = 0

    @property
    def records(self) -> int:
        return self.tickets + self.comments + self.customers + self.ratings + self.events


def stored_cursor(store: Store, connector: str) -> Cursor | None:
    """The cursor the last committed batch of ``connector`` left."""
    with store.session() as session:
        return get_cursor(session, connector)


def _write(store: Store, connector: str, batch: PullBatch) -> int:
    """Store the batch, its refused records and its cursor in one transaction; returns how many quarantined
    records the batch's good ones replaced."""
    kinds: list[tuple[str, Any]] = [
        ("ticket", batch.tickets),
        ("comment", batch.comments),
        ("customer", batch.customers),
        ("rating", batch.ratings),
        ("event", batch.events),
    ]
    released = 0
    with store.session() as session, session.begin():
        for kind, records in kinds:
            rows: list[BaseModel] = list(records)
            if rows:
                upsert(session, rows)
                released += release(session, connector, kind, (r.external_id for r in records))
        quarantine(session, connector, batch.refused)
        set_cursor(session, connector, batch.cursor)
    return released


def sync(
    store: Store,
    connector: Connector,
    *,
    since: datetime | None = None,
    full: bool = False,
    on_batch: Callable[[PullBatch, SyncReport], None] | None = None,
) -> SyncReport:
    """Pull from where the stored cursor stopped (or from ``since``, or everything with ``full``) into the store.

    Connector errors propagate after the batches before them were committed; run the sync again to resume.
    """
    if full:
        start: Cursor | None = None
    elif since is not None:
        start = connector.cursor_since(since)
    else:
        start = stored_cursor(store, connector.name)
    report = SyncReport(connector=connector.name, started_from=start, cursor=start)
    for batch in connector.pull(start):
        report.released += _write(store, connector.name, batch)
        report.batches += 1
        report.cursor = batch.cursor
        report.tickets += len(batch.tickets)
        report.comments += len(batch.comments)
        report.customers += len(batch.customers)
        report.ratings += len(batch.ratings)
        report.events += len(batch.events)
        report.own_changes += sum(1 for t in batch.tickets if connector.is_own_change(t))
        report.problems.extend(batch.problems)
        report.refused.extend(batch.refused)
        if on_batch is not None:
            on_batch(batch, report)
    return report
