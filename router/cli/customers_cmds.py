"""``deskroute customers show ID``: one person as every source knows them, and what their history holds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import typer

from router.cli.common import ConfigOption, console, fail, open_store, settings, styled

app = typer.Typer(help="Customers as one person across helpdesks and the product.", no_args_is_help=True)


@app.command("show")
def show(
    customer: str = typer.Argument(..., help="A helpdesk customer id, an e-mail address or a product user id."),
    config: Path | None = ConfigOption,
) -> None:
    """The resolved person: helpdesk records, product records, the keys their events use, and their history."""
    from router.behaviour import load_history
    from router.behaviour.identity import IdentityLinks, resolve_person

    cfg = settings(config)
    links = IdentityLinks(cfg.events.source, cfg.events.identity_attribute)
    store = open_store(cfg)
    now = datetime.now(UTC)
    with store.session() as session:
        person = resolve_person(session, links, customer)
        if not person.customers and not person.product_people:
            from sqlmodel import func, select

            from router.store import BehaviorEventRow

            pending = session.exec(
                select(func.count())
                .select_from(BehaviorEventRow)
                .where(
                    BehaviorEventRow.source == links.events_source, BehaviorEventRow.customer_external_id == customer
                )
            ).one()
            if not pending:
                raise fail(f"no customer, product user or product event is known as {customer!r}")
        histories = [(c, load_history(session, c.source, c.external_id, now, links)) for c in person.customers]
    console.print(styled(("person ", "bold"), (customer, "bold")))
    if not person.customers:
        console.print("  no helpdesk customer yet: product events wait under this key until the person writes in")
    for record, history in histories:
        kinds = Counter(e.kind for e in history.events)
        console.print(
            styled(
                ("  helpdesk ", "cyan"),
                f"{record.source}:{record.external_id}",
                f"  e-mail {record.email or '-'}  name {record.name or '-'}",
            )
        )
        console.print(
            f"    {len(history.tickets)} tickets, {len(history.ratings)} ratings, {len(history.events)} events"
            + (f" ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})" if kinds else "")
        )
    for product in person.product_people:
        console.print(
            styled(
                ("  product ", "magenta"), f"{product.source}:{product.external_id}", f"  e-mail {product.email or '-'}"
            )
        )
    keys = person.product_keys or [customer]
    console.print(f"  product events keyed by: {', '.join(keys)}")
