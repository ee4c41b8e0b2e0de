"""The Freshdesk pull cursor: for each stream (tickets, contacts, satisfaction ratings), the latest change time
read and the records already read at that time.

Freshdesk filters its listings by a time with one-second resolution (``updated_since``, ``_updated_since``,
``created_since``) and includes that second: the next request asks from the latest second read again and drops
the records of that second it has already seen, so records changed in the same second are neither lost nor
repeated. A record changed again later has a later time, and is read again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Cursor
from connectors.records import as_utc

STREAMS = ("tickets", "contacts", "ratings")


class CursorError(ValueError):
    """A stored cursor this adapter cannot read; the message says to run a full sync."""


def _second(moment: datetime) -> datetime:
    return as_utc(moment).replace(microsecond=0)


@dataclass
class StreamPosition:
    """Where one stream stopped: ``since`` (None: from the beginning) and the ids read at that second."""

    since: datetime | None = None
    seen: set[int] = field(default_factory=set)

    def is_new(self, record_id: int, changed: datetime) -> bool:
        second = _second(changed)
        if self.since is None or second > self.since:
            return True
        return second == self.since and record_id not in self.seen

    def advance(self, record_id: int, changed: datetime) -> None:
        second = _second(changed)
        if self.since is None or second > self.since:
            self.since, self.seen = second, {record_id}
        elif second == self.since:
            self.seen.add(record_id)

    def copy(self) -> StreamPosition:
        return StreamPosition(self.since, set(self.seen))

    def dump(self) -> dict[str, Any] | None:
        if self.since is None:
            return None
        return {"since": self.since.strftime("%Y-%m-%dT%H:%M:%SZ"), "seen": sorted(self.seen)}

    @classmethod
    def load(cls, raw: Any, stream: str) -> StreamPosition:
        if raw is None:
            return cls()
        since, seen = (raw.get("since"), raw.get("seen", [])) if isinstance(raw, dict) else (None, None)
        if not isinstance(since, str) or not isinstance(seen, list):
            raise CursorError(f"Freshdesk cursor: '{stream}' is {raw!r}; run a --full sync")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in seen):
            raise CursorError(f"Freshdesk cursor: '{stream}.seen' is {seen!r}; run a --full sync")
        try:
            moment = _second(datetime.fromisoformat(since.replace("Z", "+00:00")))
        except ValueError:
            raise CursorError(f"Freshdesk cursor: '{stream}.since' is {since!r}; run a --full sync") from None
        return cls(moment, set(seen))


@dataclass
class FreshdeskCursor:
    """The cursor while a pull runs; :meth:`dump` gives what is stored with each batch."""

    tickets: StreamPosition = field(default_factory=StreamPosition)
    contacts: StreamPosition = field(default_factory=StreamPosition)
    ratings: StreamPosition = field(default_factory=StreamPosition)

    @classmethod
    def load(cls, cursor: Cursor | None) -> FreshdeskCursor:
        if not cursor:
            return cls()
        if not isinstance(cursor, dict):
            raise CursorError(f"Freshdesk cursor is {cursor!r}, not an object; run a --full sync")
        return cls(*(StreamPosition.load(cursor.get(name), name) for name in STREAMS))

    @classmethod
    def starting_at(cls, moment: datetime) -> Cursor:
        """A stored cursor from which everything changed at or after ``moment`` is pulled."""
        start = _second(moment)
        return cls(StreamPosition(start), StreamPosition(start), StreamPosition(start)).dump()

    def dump(self) -> Cursor:
        out: Cursor = {}
        for name in STREAMS:
            value = getattr(self, name).dump()
            if value is not None:
                out[name] = value
        return out
