"""The store: SQL tables for the canonical records (SQLite by default, PostgreSQL too).

``Store(url)`` opens a database and brings its schema to the latest Alembic migration; ``upsert`` writes
records idempotently by ``(source, external_id)``; cursors are committed with the records they cover, and
with the refused records a sync keeps in quarantine.
"""

from router.store.database import Store, StoreError, current_revision, head_revision, upgrade
from router.store.quarantine import quarantine, quarantine_summary, release
from router.store.record_store import (
    count,
    get_cursor,
    get_ticket,
    insert_new,
    iter_tickets,
    set_cursor,
    to_record,
    upsert,
)
from router.store.stats import store_stats
from router.store.tables import (
    BehaviorEventRow,
    CommentRow,
    CustomerRow,
    QuarantineRow,
    SatisfactionRatingRow,
    SyncCursorRow,
    TicketRow,
)

__all__ = [
    "BehaviorEventRow",
    "CommentRow",
    "CustomerRow",
    "QuarantineRow",
    "SatisfactionRatingRow",
    "Store",
    "StoreError",
    "SyncCursorRow",
    "TicketRow",
    "count",
    "current_revision",
    "get_cursor",
    "get_ticket",
    "head_revision",
    "insert_new",
    "iter_tickets",
    "quarantine",
    "quarantine_summary",
    "release",
    "set_cursor",
    "store_stats",
    "to_record",
    "upgrade",
    "upsert",
]
