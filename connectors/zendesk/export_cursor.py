"""The Zendesk pull cursor: where each stream (tickets, users, satisfaction ratings) stopped.

Tickets and users come from Zendesk's cursor-based incremental exports: the cursor Zendesk hands back is exact
(tickets updated in the same second are neither lost nor repeated) and is kept even at the end of the stream,
where it covers everything up to a minute ago; the minute Zendesk holds back is read by the next pull from
that cursor. Before the first page a stream holds a start time (Unix seconds) instead.

Satisfaction ratings are listed by creation time with one-second resolution: the cursor keeps the latest
second read and the ratings already read in it, and the next pull asks from that second again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Cursor
from connectors.records import as_utc

STREAMS = ("tickets", "users", "ratings")


class CursorError(ValueError):
    """A stored cursor this adapter cannot read; the message says to run a full sync."""


def _position(raw: Any, stream: str) -> tuple[str | None, int | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise CursorError(f"Zendesk cursor: '{stream}' is {raw!r}, not an object; run a --full sync")
    cursor, start = raw.get("cursor"), raw.get("start_time")
    if cursor is not None and not (isinstance(cursor, str) and cursor):
        raise CursorError(f"Zendesk cursor: '{stream}.cursor' is {cursor!r}; run a --full sync")
    if start is not None and not (isinstance(start, int) and not isinstance(start, bool) and start >= 0):
        raise CursorError(f"Zendesk cursor: '{stream}.start_time' is {start!r}; run a --full sync")
    return cursor, start


@dataclass
class ExportCursor:
    """The cursor while a pull runs; :meth:`dump` gives what is stored with each batch."""

    tickets: str | None = None
    tickets_start: int | None = None
    users: str | None = None
    users_start: int | None = None
    ratings_start: int | None = None
    ratings_seen: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, cursor: Cursor | None) -> ExportCursor:
        if not cursor:
            return cls()
        tickets, tickets_start = _position(cursor.get("tickets"), "tickets")
        users, users_start = _position(cursor.get("users"), "users")
        ratings = cursor.get("ratings")
        ratings_start: int | None = None
        seen: set[str] = set()
        if ratings is not None:
            _, ratings_start = _position(ratings, "ratings")
            listed = ratings.get("seen", [])
            if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
                raise CursorError(f"Zendesk cursor: 'ratings.seen' is {listed!r}; run a --full sync")
            seen = set(listed)
        return cls(tickets, tickets_start, users, users_start, ratings_start, seen)

    @classmethod
    def starting_at(cls, moment: datetime) -> Cursor:
        """A stored cursor from which everything changed at or after ``moment`` is pulled."""
        start = max(0, int(as_utc(moment).timestamp()))
        return cls(tickets_start=start, users_start=start, ratings_start=start).dump()

    def advance_ratings(self, rating_id: str, created: datetime) -> None:
        second = int(as_utc(created).timestamp())
        if self.ratings_start is None or second > self.ratings_start:
            self.ratings_start, self.ratings_seen = second, {rating_id}
        elif second == self.ratings_start:
            self.ratings_seen.add(rating_id)

    def rating_is_new(self, rating_id: str, created: datetime) -> bool:
        second = int(as_utc(created).timestamp())
        if self.ratings_start is None or second > self.ratings_start:
            return True
        return second == self.ratings_start and rating_id not in self.ratings_seen

    def dump(self) -> Cursor:
        def position(cursor: str | None, start: int | None) -> dict[str, Any] | None:
            if cursor is not None:
                return {"cursor": cursor}
            return {"start_time": start} if start is not None else None

        out: Cursor = {}
        for name, value in (
            ("tickets", position(self.tickets, self.tickets_start)),
            ("users", position(self.users, self.users_start)),
        ):
            if value is not None:
                out[name] = value
        if self.ratings_start is not None:
            out["ratings"] = {
                "start_time": self.ratings_start,
                "seen": sorted(self.ratings_seen, key=lambda s: (len(s), s)),
            }
        return out
