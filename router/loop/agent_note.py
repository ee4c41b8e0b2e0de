"""What an agent sees on a ticket: one internal note and a few tags that explain deskroute's decision.

Read in one glance: intent and confidence, urgency (and what moved it from the words' level), churn risk and
its top reasons, two similar past tickets, the rule that fired, and the model and policy versions. The policy's
own notes follow it in the same comment, so a decision writes one note.
"""

from __future__ import annotations

import re

from connectors import Ticket
from policies import Decision, Signals

CHURN_BANDS = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))


def churn_band(risk: float) -> str:
    return next(band for floor, band in CHURN_BANDS if risk >= floor)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "unknown"


def agent_tags(signals: Signals) -> list[str]:
    """Tags agents can filter on: the predicted intent and the churn-risk band."""
    tags = []
    if signals.intent and not signals.abstain:
        tags.append(f"intent-{_slug(signals.intent)}")
    if signals.churn_risk is not None:
        tags.append(f"churn-{churn_band(signals.churn_risk)}")
    return tags


def agent_note(ticket: Ticket, signals: Signals, decision: Decision, similar: dict[str, str]) -> str:
    """The explanation note; ``similar`` maps neighbour ticket ids to their subjects."""
    lines = []
    head = []
    if decision.abstained:
        head.append(f"not routed: {decision.abstain_reason}")
    elif decision.queue:
        head.append(f"routed to {decision.queue}")
    if signals.intent:
        head.append(f"intent {signals.intent} {signals.intent_probability or 0:.0%}")
    if signals.urgency:
        head.append(f"urgency {signals.urgency} {signals.urgency_probability or 0:.0%}")
    if decision.priority:
        head.append(f"priority set to {decision.priority}")
    lines.append("deskroute: " + (" · ".join(head) if head else "no model signals; the policy's rules decided"))
    if signals.abstain:
        # The two call for different follow-ups: a new topic may need a new queue or training data, low
        # confidence only a human's pick between the candidates.
        lines.append(
            "Model abstained: new kind of ticket, unlike any it learnt from"
            if signals.novel
            else "Model abstained: low confidence between known queues"
        )
    if signals.urgency_reasons:
        lines.append("Urgency: " + "; ".join(signals.urgency_reasons))
    if signals.churn_risk is not None:
        reasons = "; ".join(signals.churn_reasons[:3])
        lines.append(
            f"Churn risk {signals.churn_risk:.0%} ({churn_band(signals.churn_risk)})"
            + (f": {reasons}" if reasons else "")
        )
    neighbours = [n for n in signals.neighbours if n.ticket_id != ticket.external_id][:2]
    if neighbours:
        shown = ", ".join(
            f'#{n.ticket_id} "{(similar.get(n.ticket_id) or n.subject or "")[:60]}"'
            + (f" ({n.queue})" if n.queue else "")
            for n in neighbours
        )
        lines.append(f"Similar past tickets: {shown}")
    fired = decision.fired_rules()
    versions = ", ".join(f"{k} {v}" for k, v in sorted(signals.model_versions.items())) or "none (rules only)"
    lines.append(
        f"Rules: {', '.join(fired) if fired else 'none fired'} · policy {decision.policy_name or ''} "
        f"{decision.policy_version} · models: {versions}"
    )
    return "\n".join(lines)
