"""An HTML report of a routing run: where tickets went, how sure the models were, what was abstained.

One self-contained file (plots embedded as PNG), so it can be opened from disk or attached to a ticket.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class RoutedTicket:
    """One decided ticket as the report shows it."""

    ticket_id: str
    subject: str
    queue: str | None
    priority: str | None
    intent: str | None
    confidence: float | None
    abstained: bool
    churn_risk: float | None
    rules: list[str] = field(default_factory=list)
    label: str | None = None


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def routing_plot(tickets: Sequence[RoutedTicket]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = Counter(t.queue or "(not routed)" for t in tickets)
    labels, values = zip(*counts.most_common(), strict=True) if counts else ((), ())
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(labels), 3) + 1))
    ax.barh(list(labels)[::-1], list(values)[::-1], color="#4C72B0")
    ax.set_xlabel("tickets")
    ax.set_title("Where tickets were routed")
    return _png(fig)


def confidence_plot(tickets: Sequence[RoutedTicket], threshold: float | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    routed = [t.confidence for t in tickets if t.confidence is not None and not t.abstained]
    held = [t.confidence for t in tickets if t.confidence is not None and t.abstained]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bins = [i / 20 for i in range(21)]
    ax.hist([routed, held], bins=bins, stacked=True, label=["routed", "abstained"], color=["#55A868", "#C44E52"])
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"min confidence {threshold:g}")
    ax.set_xlabel("intent confidence")
    ax.set_ylabel("tickets")
    ax.set_title("How sure the intent model was")
    ax.legend()
    return _png(fig)


def priority_plot(tickets: Sequence[RoutedTicket]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = ["urgent", "high", "normal", "low", None]
    counts = Counter(t.priority for t in tickets)
    labels = [p or "unchanged" for p in order if counts.get(p)]
    values = [counts[p] for p in order if counts.get(p)]
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.bar(labels, values, color="#8172B2")
    ax.set_title("Priorities set")
    ax.set_ylabel("tickets")
    return _png(fig)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(
    path: Path,
    *,
    title: str,
    tickets: Sequence[RoutedTicket],
    min_confidence: float | None,
    simulation: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
) -> Path:
    """Write the HTML report to ``path`` and return it."""
    abstained = [t for t in tickets if t.abstained]
    reasons = Counter(r for t in tickets for r in t.rules)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {len(tickets)} tickets decided, "
        f"{len(abstained)} abstained (sent to triage with a note).</p>",
    ]
    if facts:
        parts.append("<h2>Run</h2>" + _table(list(facts.items()), ["", ""]))
    parts.append(f'<h2>Routing</h2><img src="data:image/png;base64,{routing_plot(tickets)}">')
    parts.append(f'<h2>Confidence</h2><img src="data:image/png;base64,{confidence_plot(tickets, min_confidence)}">')
    parts.append(f'<h2>Priorities</h2><img src="data:image/png;base64,{priority_plot(tickets)}">')
    parts.append("<h2>Rules that fired</h2>" + _table(reasons.most_common(), ["rule", "tickets"]))
    if abstained:
        parts.append(
            "<h2>Abstentions</h2>"
            + _table(
                [(t.ticket_id, t.subject[:70], t.intent or "", f"{(t.confidence or 0):.0%}") for t in abstained],
                ["ticket", "subject", "best guess", "confidence"],
            )
        )
    if simulation:
        rows = [(k, v) for k, v in simulation.items() if not isinstance(v, dict)]
        parts.append("<h2>Policy simulation on the held-back tickets' labels</h2>" + _table(rows, ["measure", "value"]))
        for key in ("per_queue", "priorities"):
            if isinstance(simulation.get(key), dict):
                parts.append(_table(list(simulation[key].items()), [key.replace("_", " "), "tickets"]))
    parts.append(
        "<h2>Every decision</h2>"
        + _table(
            [
                (
                    t.ticket_id,
                    t.subject[:60],
                    t.queue or "",
                    t.priority or "",
                    t.intent or "",
                    "" if t.confidence is None else f"{t.confidence:.0%}",
                    "" if t.churn_risk is None else f"{t.churn_risk:.0%}",
                    ", ".join(t.rules),
                    t.label or "",
                )
                for t in tickets
            ],
            ["ticket", "subject", "queue", "priority", "intent", "conf.", "churn", "rules", "label"],
        )
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}"
    )
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
