"""The RT pull cursor: the latest ``LastUpdated`` second pulled, and the tickets already pulled in it.

``LastUpdated`` has one-second resolution. The search asks for ``LastUpdated >= since`` and the cursor drops the
tickets it has seen in that second, so tickets updated in the same second are never lost and none is pulled
twice. ``seen`` is written into the stored cursor only once RT's clock has moved two seconds past ``since``:
until then a pulled ticket may change again within that second (same ``LastUpdated``), and the next pull reads
that second once more rather than miss the change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.base import Cursor
from connectors.records import as_utc

SETTLE = timedelta(seconds=2)


def parse_time(value: Any) -> datetime | None:
    """An RT REST 2 time (ISO 8601, UTC); None for unset (RT's 1970-01-01) or unreadable values."""
    if not isinstance(value, str) or not value or value.startswith("1970-01-01"):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def http_date(value: Any) -> datetime | None:
    """An HTTP ``Date`` header as a UTC time."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None


def iso(moment: datetime) -> str:
    """RT's own format for a time: ISO 8601 in UTC to the second."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PullCursor:
    """The cursor while a pull runs; :meth:`dump` gives what is stored with each batch."""

    since: datetime | None = None
    seen: set[str] = field(default_factory=set)
    settled: bool = False

    @classmethod
    def load(cls, cursor: Cursor | None) -> PullCursor:
        if not cursor or not cursor.get("since"):
            return cls()
        since = parse_time(str(cursor["since"]))
        if since is None:
            raise ValueError(f"RT cursor has an unreadable 'since': {cursor['since']!r}; run a --full sync")
        return cls(since=since, seen={str(i) for i in cursor.get("seen", [])}, settled=True)

    @classmethod
    def starting_at(cls, moment: datetime) -> Cursor:
        """A stored cursor from which everything updated at or after ``moment`` is pulled."""
        return {"since": iso(as_utc(moment) - timedelta(seconds=1)), "seen": []}

    def is_new(self, ticket_id: str, updated: datetime) -> bool:
        if self.since is None or updated > self.since:
            return True
        return updated == self.since and ticket_id not in self.seen

    def advance(self, ticket_id: str, updated: datetime) -> None:
        if self.since is None or updated > self.since:
            self.since, self.seen, self.settled = updated, {ticket_id}, False
        elif updated == self.since:
            self.seen.add(ticket_id)

    def observe_clock(self, server_time: datetime | None) -> None:
        """RT's clock at a search: two seconds past ``since``, no change can still land in that second."""
        if self.since is not None and server_time is not None and server_time >= self.since + SETTLE:
            self.settled = True

    def dump(self) -> Cursor:
        if self.since is None:
            return {}
        seen = sorted(self.seen, key=lambda s: (len(s), s)) if self.settled else []
        return {"since": iso(self.since), "seen": seen}
