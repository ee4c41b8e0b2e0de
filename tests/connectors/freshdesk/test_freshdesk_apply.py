"""Writing to Freshdesk: fields, tags merged with a person's concurrent change, notes and outreach exactly once,
a person's re-routing left alone and told from deskroute's own write."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.actions import Action
from connectors.errors import Unavailable
from connectors.freshdesk import outreach_tag
from tests.connectors.fake_vendor import Fault
from tests.connectors.freshdesk.conftest import connect
from tests.connectors.freshdesk.fake_freshdesk import BILLING, BOB, T0, TRIAGE, FakeFreshdesk


def test_route_priority_and_assign_write_once(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT")
    with connect() as desk:
        for action in (
            Action(kind="route", target=str(ticket), params={"queue": "billing"}),
            Action(kind="set_priority", target=str(ticket), params={"priority": "urgent"}),
            Action(kind="assign", target=str(ticket), params={"assignee": "bob@support.example.com"}),
        ):
            assert desk.apply(action).status == "applied"
            assert desk.apply(action).status == "already_applied"
    assert [w[2] for w in fake.writes] == [{"group_id": BILLING}, {"priority": 4}, {"responder_id": BOB}]


def test_an_unknown_group_or_agent_fails_with_the_fix(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT")
    with connect() as desk:
        result = desk.apply(Action(kind="route", target=str(ticket), params={"queue": "legal"}))
        assert result.status == "failed" and "no Freshdesk group named 'legal'" in result.detail
        result = desk.apply(Action(kind="assign", target=str(ticket), params={"assignee": "nobody@x.example"}))
        assert result.status == "failed" and "no Freshdesk agent" in result.detail
        assert desk.apply(Action(kind="route", target="999999", params={"queue": "billing"})).status == "failed"
    assert fake.writes == []


def test_own_write_and_a_persons_rerouting_are_told_apart(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT", at=T0 - timedelta(minutes=5))
    with connect() as desk:
        desk.apply(Action(kind="route", target=str(ticket), params={"queue": "billing"}))
        (own,) = [t for b in desk.pull(None) for t in b.tickets]
        assert own.updated_by == "deskroute@support.example.com" and desk.is_own_change(own)
        fake.person_changes(ticket, group_id=TRIAGE)
        # A write still queued from before does not route it back: the person's routing stands.
        again = desk.apply(Action(kind="route", target=str(ticket), params={"queue": "billing"}, idempotency_key="k2"))
        (moved,) = [t for b in desk.pull(None) for t in b.tickets]
        assert moved.queue == "triage" and not desk.is_own_change(moved) and moved.updated_by is None
    assert again.status == "skipped" and "changed the ticket's group since deskroute last read" in again.detail
    assert fake.tickets[ticket]["group_id"] == TRIAGE


def test_tags_are_merged_with_a_persons_change_made_after_deskroute_read_the_ticket(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT")
    fake.tickets[ticket]["tags"] = ["vip"]
    action = Action(kind="add_tags", target=str(ticket), params={"tags": ["deskroute band high", "vip"]})
    with connect() as desk:
        original = desk.api.ticket

        def read(ticket_id: str) -> dict | None:
            item = original(ticket_id)
            if len([r for r in fake.requests if r == ("GET", f"/api/v2/tickets/{ticket}")]) == 1:
                fake.person_changes(ticket, tags=["vip", "escalated"])  # between deskroute's two reads
            return item

        desk.api.ticket = read  # type: ignore[method-assign]
        assert desk.apply(action).status == "applied"
        assert desk.apply(action).status == "already_applied"
    assert fake.tickets[ticket]["tags"] == ["vip", "escalated", "deskroute-band-high"]


def test_a_note_applied_twice_is_written_once_even_when_the_answer_was_lost(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT")
    action = Action(kind="add_note", target=str(ticket), params={"body": "Routed to <billing>: VAT question"})
    fake.faults.append(Fault("POST", r"/notes$", 0, after=True))  # the note is written; the answer never comes
    with connect() as desk:
        with pytest.raises(Unavailable):  # the outbox keeps the action and tries again
            desk.apply(action)
        assert desk.apply(action).status == "already_applied"
    notes = [w for w in fake.writes if w[0] == "POST note"]
    assert len(notes) == 1 and notes[0][2]["private"] is True
    assert "Routed to &lt;billing&gt;" in notes[0][2]["body"] and action.marker() in notes[0][2]["body"]


def test_outreach_applied_twice_creates_one_ticket_even_when_the_answer_was_lost(fake: FakeFreshdesk) -> None:
    action = Action(
        kind="create_outreach",
        target="new.customer@example.org",
        params={"subject": "Your invoice", "body": "We fixed it.", "channel": "email", "queue": "billing"},
    )
    fake.faults.append(Fault("POST", r"outbound_email$", 502, after=True))
    with connect() as desk:
        with pytest.raises(Unavailable):  # the outbox keeps the action and tries again
            desk.apply(action)
        again = desk.apply(action)
    created = [w for w in fake.writes if w[0] == "POST outbound"]
    assert len(created) == 1 and again.status == "already_applied"
    assert again.external_ref == str(created[0][1])
    fields = created[0][2]
    assert fields["email_config_id"] and fields["group_id"] == BILLING
    assert fields["tags"] == ["deskroute-outreach", outreach_tag(action.idempotency_key)]


def test_outreach_without_a_mailbox_says_which_option_to_set(fake: FakeFreshdesk) -> None:
    action = Action(
        kind="create_outreach", target="a@example.org", params={"subject": "s", "body": "b", "channel": "email"}
    )
    with connect(email_config_id=None) as desk:
        result = desk.apply(action)
    assert result.status == "failed" and "options.email_config_id" in result.detail


def test_check_reports_access_groups_statuses_and_mailbox(fake: FakeFreshdesk) -> None:
    with connect(outreach_group="Billing") as desk:
        report = desk.check()
    assert report.ok, report.items
    details = {i.name: i.detail for i in report.items}
    assert details["ticket access"] == "global" and "6 Waiting on Customer->pending" in details["statuses"]
    assert details["mailbox"] == "support@example.com (41000015452)"
    fake.me["ticket_scope"] = 2
    with connect(queue_map={"legal": "Legal"}) as desk:
        report = desk.check()
    bad = {i.name: i.detail for i in report.items if not i.ok}
    assert set(bad) == {"ticket access", "groups"} and "Legal" in bad["groups"]


def test_a_rerouting_after_the_pull_and_before_the_write_is_not_overwritten(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT", at=T0 - timedelta(minutes=5))
    with connect() as desk:
        list(desk.pull(None))  # the state deskroute decides on
        fake.person_changes(ticket, group_id=BILLING, priority=3)
        route = desk.apply(Action(kind="route", target=str(ticket), params={"queue": "triage"}))
        tags = desk.apply(Action(kind="add_tags", target=str(ticket), params={"tags": ["vat"]}))
    assert route.status == "skipped" and tags.status == "applied"
    assert fake.tickets[ticket]["group_id"] == BILLING and fake.tickets[ticket]["tags"] == ["vat"]
