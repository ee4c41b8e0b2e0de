"""Quarantine: records a helpdesk sent that did not validate, kept where a person sees them.

A sync stores a batch's good records, its refused ones and the cursor after them in one transaction, so the
cursor never moves past a record that is neither stored nor quarantined. Everything written here came from
outside and failed validation, so it is made storable first: NULs escaped, ids cut to fit the index, the
payload serialised as ASCII JSON and truncated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from connectors import Refused
from connectors.records import MAX_ID_CHARS
from router.store.record_store import _insert_for, count
from router.store.tables import QuarantineRow

#: How much of the helpdesk's payload is kept: enough to recognise the record, bounded whatever it holds.
PAYLOAD_CHARS = 8_000
REASON_CHARS = 2_000
_CHUNK = 200


def _storable(text: str, limit: int) -> str:
    """Text any database accepts: NULs and unpaired surrogates shown as escapes, cut at ``limit``."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quarantine_id(external_id: str) -> str:
    """The id under which a refused record is kept: itself without NULs (as a valid version of it would be
    stored, which then releases it), or when too long for the index, its start and a digest (so two long ids
    that start alike stay apart and the same one always maps to the same row)."""
    external_id = external_id.replace("\x00", "")
    text = _storable(external_id, 10 * MAX_ID_CHARS)
    if len(text) <= MAX_ID_CHARS:
        return text
    digest = hashlib.sha256(external_id.encode("utf-8", "backslashreplace")).hexdigest()[:16]
    return f"{text[: MAX_ID_CHARS - 40]}...(sha256 {digest})"


def _payload(payload: Any) -> str:
    if payload is None:
        return ""
    try:
        text = json.dumps(payload, ensure_ascii=True, default=str, sort_keys=True)
    except (ValueError, TypeError, RecursionError):
        text = "(the payload could not be written as JSON)"
    return _storable(text, PAYLOAD_CHARS)


def quarantine(session: Session, source: str, refused: Sequence[Refused], now: datetime | None = None) -> int:
    """Keep ``refused`` records of ``source``; a record refused again updates its row. Returns how many."""
    if not refused:
        return 0
    moment = now or datetime.now(UTC)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in refused:
        key = (item.kind, quarantine_id(item.external_id))
        rows[key] = {
            "source": source,
            "kind": item.kind,
            "external_id": key[1],
            "field": _storable(item.field, MAX_ID_CHARS) if item.field else None,
            "reason": _storable(item.reason, REASON_CHARS),
            "payload": _payload(item.payload),
            "first_seen_at": moment,
            "quarantined_at": moment,
            "times": 1,
        }
    table = QuarantineRow.__table__  # type: ignore[attr-defined]
    insert = _insert_for(session)
    values = list(rows.values())
    for start in range(0, len(values), _CHUNK):
        stmt = insert(table).values(values[start : start + _CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "kind", "external_id"],
            set_={
                "field": stmt.excluded.field,
                "reason": stmt.excluded.reason,
                "payload": stmt.excluded.payload,
                "quarantined_at": stmt.excluded.quarantined_at,
                "times": table.c.times + 1,
            },
        )
        session.execute(stmt)
    return len(values)


def release(session: Session, source: str, kind: str, external_ids: Iterable[str]) -> int:
    """Forget quarantined versions of records that have now been stored. Returns how many rows went."""
    ids = sorted({quarantine_id(i) for i in external_ids})
    removed = 0
    for start in range(0, len(ids), _CHUNK):
        result = session.execute(
            sa.delete(QuarantineRow).where(
                QuarantineRow.source == source,  # type: ignore[arg-type]
                QuarantineRow.kind == kind,  # type: ignore[arg-type]
                QuarantineRow.external_id.in_(ids[start : start + _CHUNK]),  # type: ignore[attr-defined]
            )
        )
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    return removed


def quarantine_summary(session: Session, recent: int = 10) -> dict[str, Any]:
    """How many records are in quarantine and the latest ``recent`` of them, with their reasons."""
    rows = session.exec(
        select(QuarantineRow)
        .order_by(QuarantineRow.quarantined_at.desc(), QuarantineRow.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(recent)
    ).all()
    return {
        "count": count(session, QuarantineRow),
        "recent": [
            {
                "source": row.source,
                "kind": row.kind,
                "external_id": row.external_id,
                "field": row.field,
                "reason": row.reason,
                "quarantined_at": row.quarantined_at.isoformat(),
                "times": row.times,
            }
            for row in rows
        ],
    }
