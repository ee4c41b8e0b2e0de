"""``deskroute decisions``: why a ticket was routed where it was."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from router.cli.common import ConfigOption, console, fail, open_store, settings, styled
from router.store.decision_log import corrections, decisions_for_ticket, outbox_for_decision

app = typer.Typer(help="The decision log: why every ticket went where it went.", no_args_is_help=True)


@app.command("show")
def show(
    ticket: str = typer.Argument(..., help="The ticket's id in its helpdesk."),
    connector: str | None = typer.Option(None, "--connector", help="Only this connector's ticket of that id."),
    as_json: bool = typer.Option(False, "--json", help="Print the full records as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Each decision for TICKET: signals, the trace of rules, versions, actions and their outbox state."""
    store = open_store(settings(config))
    with store.session() as s:
        rows = decisions_for_ticket(s, connector, ticket)
        if not rows:
            raise fail(f"no decision recorded for ticket {ticket!r}; check the id or run `deskroute run --once`")
        dumped = []
        for row in rows:
            assert row.id is not None
            outbox = outbox_for_decision(s, row.id)
            dumped.append((row, outbox))
        feedback = corrections(s, rows[0].source, ticket)
    if as_json:
        console.print_json(
            data=[
                {**row.model_dump(mode="json"), "outbox": [o.model_dump(mode="json") for o in outbox]}
                for row, outbox in dumped
            ]
        )
        return
    for row, outbox in dumped:
        signals = row.signals
        console.rule(
            styled((f"{row.source} ticket {row.ticket_external_id}", "bold"), f" — decision {row.id} ({row.reason})")
        )
        console.print(
            styled(
                f"decided {row.decided_at:%Y-%m-%d %H:%M:%S} UTC in ",
                (row.mode, "bold"),
                f" mode; ticket version {row.ticket_version}; policy {row.policy_version}",
            ),
            soft_wrap=True,
        )
        models = ", ".join(f"{k} {v}" for k, v in sorted(row.model_versions.items())) or "none (rules only)"
        console.print(f"models: {models}")
        if signals.get("intent"):
            console.print(f"intent: {signals['intent']} ({signals.get('intent_probability') or 0:.0%})")
        if signals.get("urgency"):
            console.print(f"urgency: {signals['urgency']} ({signals.get('urgency_probability') or 0:.0%})")
        if signals.get("churn_risk") is not None:
            console.print(f"churn risk: {signals['churn_risk']:.0%} — {', '.join(signals.get('churn_reasons', []))}")
        if row.abstained:
            console.print(styled(("abstained", "yellow"), f": {row.decision.get('abstain_reason')}"), soft_wrap=True)
        trace = Table(title="rules", show_lines=False)
        for column in ("rule", "fired", "why"):
            trace.add_column(column)
        for entry in row.decision.get("trace", []):
            why = entry.get("reason", "")
            if entry.get("details"):
                why += " — " + "; ".join(entry["details"])
            trace.add_row(entry["rule"], "yes" if entry["fired"] else "no", why)
        console.print(trace)
        actions = Table(title="actions")
        for column in ("kind", "target", "parameters", "state", "attempts", "last error"):
            actions.add_column(column)
        for o in outbox:
            params = {k: v for k, v in o.action.get("params", {}).items() if k != "body"}
            actions.add_row(
                o.kind,
                o.target,
                json.dumps(params, ensure_ascii=False)[:80],
                o.state,
                str(o.attempts),
                (o.last_error or "")[:60],
            )
        console.print(actions)
    for f in feedback:
        console.print(
            styled(
                ("correction", "magenta"),
                f" by {f.corrected_by or 'a person'}: {f.field} {f.predicted} -> {f.corrected}",
            ),
            soft_wrap=True,
        )
