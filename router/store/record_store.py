"""Writing canonical records into the store and reading them back. Upserts by (source, external_id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, select

from connectors import BehaviorEvent, Comment, Customer, SatisfactionRating, Ticket
from router.store.tables import (
    BehaviorEventRow,
    CommentRow,
    CustomerRow,
    SatisfactionRatingRow,
    SyncCursorRow,
    TicketRow,
)

ROW_FOR: dict[type[BaseModel], type[SQLModel]] = {
    Ticket: TicketRow,
    Comment: CommentRow,
    Customer: CustomerRow,
    BehaviorEvent: BehaviorEventRow,
    SatisfactionRating: SatisfactionRatingRow,
}
RECORD_FOR: dict[type[SQLModel], type[BaseModel]] = {row: rec for rec, row in ROW_FOR.items()}

R = TypeVar("R", bound=BaseModel)

# Rows per INSERT statement: keeps statements under SQLite's variable limit for the widest table.
_CHUNK = 200


def _insert_for(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"database dialect {name!r} is not supported; use SQLite or PostgreSQL")


def upsert(session: Session, records: Sequence[BaseModel]) -> int:
    """Insert or update records of one kind by (source, external_id). Returns how many were written.

    Runs inside the caller's transaction, so a caller can commit records and a sync cursor together.
    """
    if not records:
        return 0
    kind = type(records[0])
    row_cls = ROW_FOR[kind]
    table = row_cls.__table__  # type: ignore[attr-defined]
    insert = _insert_for(session)
    # Last one wins when a batch holds the same record twice (a re-sent page), as it would one by one.
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        if type(rec) is not kind:
            raise TypeError("upsert takes records of one kind at a time")
        data = rec.model_dump(mode="python")
        unique[(data["source"], data["external_id"])] = data
    values = list(unique.values())
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        stmt = insert(table).values(chunk)
        updatable = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in ("id",)}
        stmt = stmt.on_conflict_do_update(index_elements=["source", "external_id"], set_=updatable)
        session.execute(stmt)
    return len(values)


def insert_new(session: Session, records: Sequence[BaseModel]) -> int:
    """Insert records of one kind whose (source, external_id) is not stored yet; returns how many were new.

    A record sent again (a retried batch) leaves the stored one as it is: the first version of a message wins,
    so a retry can never rewrite history. Atomic per row on SQLite and PostgreSQL (ON CONFLICT DO NOTHING), so
    processes racing on one id store it once.
    """
    if not records:
        return 0
    kind = type(records[0])
    table = ROW_FOR[kind].__table__  # type: ignore[attr-defined]
    insert = _insert_for(session)
    new = 0
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        if type(rec) is not kind:
            raise TypeError("insert_new takes records of one kind at a time")
        data = rec.model_dump(mode="python")
        unique.setdefault((data["source"], data["external_id"]), data)
    values = list(unique.values())
    for start in range(0, len(values), _CHUNK):
        stmt = insert(table).values(values[start : start + _CHUNK])
        stmt = stmt.on_conflict_do_nothing(index_elements=["source", "external_id"]).returning(table.c.external_id)
        new += len(session.execute(stmt).all())
    return new


def to_record(row: SQLModel) -> Any:
    """The canonical record for a stored row."""
    rec_cls = RECORD_FOR[type(row)]
    data = {name: getattr(row, name) for name in rec_cls.model_fields}
    # What is stored was validated on the way in; the limits of today do not make yesterday's rows unreadable.
    return rec_cls.model_validate(data, context={"stored": True})


def get_ticket(session: Session, source: str, external_id: str) -> Ticket | None:
    row = session.exec(
        select(TicketRow).where(TicketRow.source == source, TicketRow.external_id == external_id)
    ).first()
    return to_record(row) if row else None


def iter_tickets(session: Session, source: str | None = None, batch: int = 500) -> Iterable[Ticket]:
    """Every stored ticket, oldest first, streamed in batches."""
    last_id = 0
    while True:
        query = select(TicketRow).where(TicketRow.id > last_id)  # type: ignore[operator]
        if source:
            query = query.where(TicketRow.source == source)
        rows = session.exec(query.order_by(TicketRow.id).limit(batch)).all()  # type: ignore[arg-type]
        if not rows:
            return
        for row in rows:
            yield to_record(row)
        last_id = rows[-1].id or last_id


def get_cursor(session: Session, connector: str) -> dict[str, Any] | None:
    row = session.get(SyncCursorRow, connector)
    return dict(row.cursor) if row else None


def set_cursor(session: Session, connector: str, cursor: dict[str, Any]) -> None:
    """Record where a sync stopped; commit it in the same transaction as the records it covers."""
    row = session.get(SyncCursorRow, connector)
    now = datetime.now(UTC)
    if row is None:
        session.add(SyncCursorRow(connector=connector, cursor=cursor, updated_at=now))
    else:
        row.cursor = cursor
        row.updated_at = now
        session.add(row)


def count(session: Session, row_cls: type[SQLModel]) -> int:
    return int(session.exec(select(sa.func.count()).select_from(row_cls)).one())
