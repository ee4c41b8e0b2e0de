"""The RT adapter against a live Request Tracker: sync into the store, every action, idempotency, ties.

The RT server is set up by scripts/rt-setup.sh; see tests/integration/conftest.py for the skip rules.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors import Action, Ticket
from connectors.rt import RTConnector
from router.adapters.connector_factory import build_connector
from router.cli import app
from router.config import load_settings
from router.store import CommentRow, CustomerRow, Store, TicketRow, count, get_cursor, get_ticket, iter_tickets
from tests.integration.conftest import RUN, RTAdmin, write_config

pytestmark = pytest.mark.integration

runner = CliRunner()


def cli_sync(*args: str) -> int:
    """Run ``deskroute sync rt`` and return how many tickets it stored."""
    result = runner.invoke(app, ["sync", "rt", *args])
    assert result.exit_code == 0, result.output
    found = re.search(r"rt: (\d+) tickets", result.stdout)
    assert found, result.stdout
    return int(found.group(1))


def store_for(folder: Path) -> Store:
    return Store(f"sqlite:///{folder / 'deskroute.db'}")


def test_a_ticket_created_in_rt_appears_in_the_store_after_sync(rt: RTAdmin, cli_env: Path, rt_env: None) -> None:
    queue = rt.queue("sync")
    customer = f"{RUN}-ann@example.com"
    (first,) = rt.create(queue, Requestor=customer, Priority=100, Subject="Charged twice", Content="Refund please")
    (second,) = rt.create(queue, Subject="Other", Content="Hello")
    rt.rest("POST", f"ticket/{first}/correspond", json={"Content": "We are on it", "ContentType": "text/plain"})
    rt.rest(
        "POST", f"ticket/{first}/comment", json={"Content": "Looks like a double charge", "ContentType": "text/plain"}
    )
    write_config(cli_env, queue)

    assert cli_sync() == 2
    store = store_for(cli_env)
    with store.session() as session:
        ticket = get_ticket(session, "rt", first)
        assert ticket is not None
        assert (ticket.subject, ticket.body, ticket.requester, ticket.queue) == (
            "Charged twice",
            "Refund please",
            customer,
            queue,
        )
        assert (ticket.priority, ticket.priority_raw, ticket.status) == ("high", "100", "open")
        assert ticket.updated_by == "root"  # RT's own record of who made the latest change
        comments = sorted(
            (c.public, c.body)
            for c in session.exec(CommentRow.__table__.select()).all()  # type: ignore[attr-defined]
        )
        assert comments == [(False, "Looks like a double charge"), (True, "We are on it")]
        assert count(session, CustomerRow) == 1
        cursor = get_cursor(session, "rt")
    latest = max(t["LastUpdated"] for t in rt.tickets(f"Queue = '{queue}'"))
    assert cursor is not None and cursor["since"] == latest

    rt.rest("PUT", f"ticket/{second}", json={"Subject": "Other, renamed"})
    # the renamed ticket, and the first one again if the last sync ran within its second (it may have changed)
    assert cli_sync() in (1, 2)
    with store.session() as session:
        renamed = get_ticket(session, "rt", second)
        assert renamed is not None and renamed.subject == "Other, renamed"
        assert count(session, TicketRow) == 2


def _marked(rt: RTAdmin, ticket_id: str, marker: str) -> int:
    return sum(text.count(marker) for text in rt.texts(ticket_id))


def test_every_action_is_visible_in_rt_and_applying_twice_changes_rt_once(
    rt: RTAdmin, cli_env: Path, rt_env: None
) -> None:
    queue = rt.queue("act")
    billing = rt.queue("act-billing")
    customer = f"{RUN}-bob@example.com"
    (ticket,) = rt.create(queue, Requestor=customer, Priority=50)
    config = write_config(
        cli_env, queue, extra=f'outreach_queue = "{queue}"\n[connectors.rt.queue_map]\nbilling = "{billing}"\n'
    )
    connector = build_connector("rt", load_settings(config).connectors["rt"])
    assert isinstance(connector, RTConnector)

    checks = {
        "route": (
            Action(kind="route", target=ticket, params={"queue": "billing"}),
            lambda: (
                rt.tickets(f"id = {ticket}", "Queue")[0]["Queue"]["id"] == str(rt.rest("GET", f"queue/{billing}")["id"])
            ),
        ),
        "set_priority": (
            Action(kind="set_priority", target=ticket, params={"priority": "low"}),
            lambda: rt.ticket(ticket)["Priority"] == "0",
        ),
        "add_tags": (
            Action(kind="add_tags", target=ticket, params={"tags": ["refund", RUN]}),
            lambda: (
                {"refund", RUN}
                <= {
                    v
                    for cf in rt.ticket(ticket)["CustomFields"]
                    if cf["name"] == "deskroute tags"
                    for v in cf["values"]
                }
            ),
        ),
        "assign": (
            Action(kind="assign", target=ticket, params={"assignee": "root"}),
            lambda: rt.ticket(ticket)["Owner"]["id"] == "root",
        ),
    }
    note = Action(kind="add_note", target=ticket, params={"body": "Routed to Billing: refund words."})
    checks["add_note"] = (note, lambda: _marked(rt, ticket, note.marker()) == 1)
    for kind, (action, visible) in checks.items():
        assert not visible(), kind
        before = rt.history_size(ticket)
        result = connector.apply(action)
        assert result.status == "applied", (kind, result)
        assert visible(), kind
        changed = rt.history_size(ticket)
        assert changed > before, kind
        again = connector.apply(action)
        assert again.status == "already_applied", (kind, again)
        assert rt.history_size(ticket) == changed and visible(), kind

    # the note is internal: a Comment transaction, not correspondence to the customer
    history = rt.rest("GET", f"ticket/{ticket}/history", params={"fields": "Type", "per_page": 100})["items"]
    assert [h["Type"] for h in history].count("Comment") == 1 and "Correspond" not in [h["Type"] for h in history]

    outreach = Action(
        kind="create_outreach",
        target=customer,
        params={
            "subject": "We noticed a failed payment",
            "body": "Hello,\n\nyour card was declined.",
            "channel": "email",
        },
    )
    created = connector.apply(outreach)
    assert created.status == "applied" and created.external_ref
    repeat = connector.apply(outreach)
    assert repeat.status == "already_applied" and repeat.external_ref == created.external_ref
    mine = rt.tickets(f"Requestor.EmailAddress = '{customer}' AND Creator = 'root'", "Subject")
    marked = [t for t in mine if _marked(rt, str(t["id"]), outreach.marker())]
    assert [str(t["id"]) for t in marked] == [created.external_ref]
    assert rt.ticket(created.external_ref)["Requestor"][0]["id"] == customer
    assert "failed payment" in marked[0]["Subject"]

    history_of_customer = connector.customer_history(customer)
    assert history_of_customer.customer is not None and history_of_customer.customer.email == customer
    assert {t.external_id for t in history_of_customer.tickets} == {ticket, created.external_ref}
    connector.close()


def _ties(rt: RTAdmin, queue: str) -> Counter[str]:
    return Counter(t["LastUpdated"] for t in rt.tickets(f"Queue = '{queue}'"))


def test_tickets_updated_within_the_same_second_are_all_pulled(rt: RTAdmin, cli_env: Path, rt_env: None) -> None:
    queue = rt.queue("ties")
    ids = rt.create(queue, 6)
    write_config(cli_env, queue, page_size=2)  # pages of two split every group of ties
    for attempt in range(3):  # one bulk update lands in one second (or two); make sure some tie
        rt.rest("PUT", "tickets/bulk", json=[{"id": int(i), "Priority": 10 + attempt} for i in ids])
        if max(_ties(rt, queue).values()) >= 3:
            break
    assert max(_ties(rt, queue).values()) >= 2
    assert cli_sync() == 6
    rt_times = {str(t["id"]): t["LastUpdated"] for t in rt.tickets(f"Queue = '{queue}'")}
    store = store_for(cli_env)
    with store.session() as session:
        stored: list[Ticket] = list(iter_tickets(session, "rt"))
        cursor = get_cursor(session, "rt")
    assert sorted(t.external_id for t in stored) == sorted(ids)
    assert {t.external_id: t.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") for t in stored} == rt_times
    latest = max(rt_times.values())
    at_latest = sorted((i for i, s in rt_times.items() if s == latest), key=int)
    assert cursor is not None and cursor["since"] == latest and set(cursor["seen"]) <= set(at_latest)
    # Two seconds on, RT's clock has left that second behind: it is read at most once more, then settled.
    time.sleep(2)
    assert cli_sync() <= len(at_latest)
    with store.session() as session:
        assert get_cursor(session, "rt") == {"since": latest, "seen": at_latest}
        assert count(session, TicketRow) == 6
    assert cli_sync() == 0


def test_check_and_wrong_credentials_through_the_cli(rt: RTAdmin, cli_env: Path, rt_env: None, monkeypatch) -> None:
    write_config(cli_env, f"{RUN}-none")
    ok = runner.invoke(app, ["connectors", "check", "rt"])
    assert ok.exit_code == 0, ok.output
    assert "tags field: 'deskroute tags' exists" in ok.stdout and "(instance)" in ok.stdout
    monkeypatch.setenv("DESKROUTE_TEST_RT_PASSWORD", "not-the-password")
    refused = runner.invoke(app, ["sync", "rt"])
    assert refused.exit_code == 1 and "refused the credentials (401" in refused.output
    assert "Traceback" not in refused.output and "not-the-password" not in refused.output
