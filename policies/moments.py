"""The moment of deciding: the range of moments a policy can reason about in local time."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors import as_utc

# The moments decide() accepts, in UTC: a day inside the range datetime can represent, so that the moment in
# any time zone (offsets are under a day) and the day before it (the outreach daily cap) exist too.
EARLIEST_MOMENT = datetime(1, 1, 2, tzinfo=UTC)
LATEST_MOMENT = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


class MomentError(ValueError):
    """A moment of deciding outside the range a policy can reason about (time zones, business hours)."""


def moment_of_deciding(now: datetime) -> datetime:
    """``now`` in UTC (a naive ``now`` is UTC), or MomentError when it is too close to year 1 or year 9999."""
    try:
        moment = as_utc(now)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST_MOMENT <= moment <= LATEST_MOMENT:
        raise MomentError(
            f"{now.isoformat()} is outside the moments a policy can decide at "
            f"({EARLIEST_MOMENT.isoformat()} to {LATEST_MOMENT.isoformat()}): local times and business hours "
            "would fall outside the calendar"
        )
    return moment
