"""Outreach guardrails: whether deskroute may contact a customer now, given when it last did."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors import Customer, as_utc
from policies.routing_policy import OutreachGuardrails


@dataclass(frozen=True)
class OutreachRecord:
    """One past proactive contact with a customer (from the outbox's history)."""

    sent_at: datetime
    customer_external_id: str | None = None
    channel: str | None = None


def _utc(moment: datetime) -> datetime:
    """In UTC; a moment whose UTC time falls before year 1 is the earliest one (it is past all the same)."""
    try:
        return as_utc(moment)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def past_contacts(history: Iterable[OutreachRecord | datetime], customer: Customer, now: datetime) -> list[datetime]:
    """This customer's past contacts up to ``now`` (later ones do not exist yet when replaying history)."""
    times: list[datetime] = []
    for item in history:
        if isinstance(item, datetime):
            sent = _utc(item)
        else:
            if item.customer_external_id is not None and item.customer_external_id != customer.external_id:
                continue
            sent = _utc(item.sent_at)
        if sent <= now:
            times.append(sent)
    return times


def outreach_refusal(
    rules: OutreachGuardrails,
    customer: Customer | None,
    history: Iterable[OutreachRecord | datetime],
    now: datetime,
) -> str | None:
    """Why an outreach may not happen now, or None when it may. ``now`` is timezone-aware UTC."""
    if customer is None:
        return "there is no customer record to contact"
    if customer.opted_out:
        return "the customer opted out of proactive contact"
    if rules.daily_cap <= 0:
        return "outreach.daily_cap is 0"
    if rules.in_quiet_hours(now):
        local = now.astimezone(rules.timezone).strftime("%H:%M")
        start = rules.quiet_start.strftime("%H:%M") if rules.quiet_start else ""
        end = rules.quiet_end.strftime("%H:%M") if rules.quiet_end else ""
        return f"{local} {rules.timezone.key} is within quiet hours {start}-{end}"
    contacts = past_contacts(history, customer, now)
    if contacts:
        last = max(contacts)
        cooldown = timedelta(hours=rules.cooldown_hours)
        if now - last < cooldown:
            # The end of the cool-down can lie past year 9999 (a long cool-down late in the calendar).
            until = (
                (last + cooldown).isoformat() if datetime.max.replace(tzinfo=UTC) - last >= cooldown else "after 9999"
            )
            return f"last contact {last.isoformat()} is within the {rules.cooldown_hours:g}h cool-down (until {until})"
        day_ago = now - timedelta(hours=24)
        recent = sum(1 for t in contacts if t > day_ago)
        if recent >= rules.daily_cap:
            return f"{recent} contact(s) in the last 24h reach the daily cap of {rules.daily_cap}"
    return None
