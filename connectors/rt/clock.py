"""Writing a UTC time the way RT's TicketSQL will read it.

REST 2 answers in UTC, but TicketSQL reads a date in the RT user's time zone (or the server's ``$Timezone``).
With ``timezone`` configured the conversion is exact (daylight saving included). Without it, the offset is
measured on the instance: a binary search over quarter hours with ``Created >=`` probes on the newest ticket
(seven searches, repeated hourly), and a search from an old cursor starts an hour earlier in case a
daylight-saving change lies between. Results are always filtered exactly in UTC afterwards, so a wider search
costs a little reading, never a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.errors import ConnectorError
from connectors.records import as_utc
from connectors.rt.api import RTApi
from connectors.rt.cursor import SETTLE, parse_time

RT_TIME = "%Y-%m-%d %H:%M:%S"
REMEASURE_SECONDS = 3600.0
_QUARTER = timedelta(minutes=15)


class TicketSqlClock:
    """Converts UTC times into TicketSQL date literals for one RT instance."""

    def __init__(
        self,
        api: RTApi,
        timezone: str | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.api = api
        self.timezone = timezone
        self._monotonic = monotonic
        self._zone: ZoneInfo | None = None
        self._measured: tuple[float, timedelta] | None = None
        if timezone:
            try:
                self._zone = ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConnectorError(
                    f"timezone {timezone!r} is not a known time zone (e.g. Europe/Berlin)", connector=api.connector
                ) from None

    def offset(self) -> timedelta:
        """How far RT's reading of a TicketSQL date is from UTC, measured on the newest ticket."""
        now = self._monotonic()
        if self._measured is not None and now - self._measured[0] < REMEASURE_SECONDS:
            return self._measured[1]
        newest = self.api.search_tickets(
            "id > 0", per_page=1, orderby=("id",), order=("DESC",), fields="Created", expand=False
        )
        offset = timedelta(0)
        created = parse_time(newest["items"][0].get("Created")) if newest["items"] else None
        if created is not None:
            ticket_id = str(newest["items"][0]["id"])

            def read_at_or_after(quarters: int) -> bool:
                # True exactly when RT's offset is at least `quarters` quarter hours.
                moment = (created + quarters * _QUARTER).strftime(RT_TIME)
                found = self.api.search_tickets(
                    f"id = {ticket_id} AND Created >= '{moment}'", per_page=1, fields="id", expand=False
                )
                return bool(found["items"])

            low, high = -56, 57  # time zones lie within -14 h .. +14 h
            while high - low > 1:
                middle = (low + high) // 2
                if read_at_or_after(middle):
                    low = middle
                else:
                    high = middle
            offset = low * _QUARTER
        self._measured = (now, offset)
        return offset

    def local(self, moment: datetime) -> str:
        """``moment`` written as RT will read it in a TicketSQL date comparison."""
        if self._zone is not None:
            return as_utc(moment).astimezone(self._zone).strftime(RT_TIME)
        return (as_utc(moment) + self.offset()).strftime(RT_TIME)

    def search_from(self, since: datetime) -> str:
        """The lower bound of a search for changes at or after ``since``: a little earlier, never later."""
        margin = SETTLE
        if self._zone is None and datetime.now(UTC) - since > timedelta(hours=12):
            # A measured offset is today's; across a daylight-saving change it can be an hour off.
            margin += timedelta(hours=1)
        return self.local(since - margin)

    def describe(self) -> str:
        if self._zone is not None:
            return f"{self.timezone} (configured)"
        hours = self.offset().total_seconds() / 3600
        return f"TicketSQL dates read at UTC{hours:+.2f} h (measured); set timezone for exactness across DST"
