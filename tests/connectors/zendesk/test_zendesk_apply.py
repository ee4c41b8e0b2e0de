"""Writing to Zendesk: the safe-update guard, tags merged, notes and outreach once, faults mid-apply, check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from connectors import Action
from tests.connectors.fake_vendor import Fault
from tests.connectors.zendesk.fake_zendesk import ME, ROOT, FakeZendesk
from tests.connectors.zendesk.test_zendesk_pull import connector


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    desk = FakeZendesk()
    with respx.mock(base_url=ROOT, assert_all_called=False) as mock:
        mock.route().mock(side_effect=desk)
        yield desk


def puts(fake: FakeZendesk) -> list[dict]:
    return [changes for method, _, changes in fake.writes if method == "PUT"]


def notes(fake: FakeZendesk, ticket_id: int, marker: str) -> list[dict]:
    return [c for c in fake.tickets[ticket_id].comments if marker in c["body"]]


def test_route_priority_band_and_assignee_are_written_and_not_again(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Checkout is down")
    conn = connector(fake)
    route = Action(kind="route", target=str(ticket.id), params={"queue": "Service Outages and Maintenance"})
    priority = Action(kind="set_priority", target=str(ticket.id), params={"priority": "urgent"})
    assign = Action(kind="assign", target=str(ticket.id), params={"assignee": "bob@support.example.com"})
    assert [conn.apply(a).status for a in (route, priority, assign)] == ["applied"] * 3
    assert ticket.group_id == fake.group_id("Outages") and ticket.priority == "urgent" and ticket.assignee_id == 8001
    assert ticket.custom_fields[360001] == "deskroute_band_1_urgent"
    assert all(c["safe_update"] is True and c["updated_stamp"] for c in puts(fake))
    writes = len(fake.writes)
    assert [conn.apply(a).status for a in (route, priority, assign)] == ["already_applied"] * 3
    assert len(fake.writes) == writes
    # deskroute's writes are its own: the audit names the agent, so a pull recognises them.
    assert ticket.audits[-1]["author_id"] == ME


def test_tags_are_added_without_clobbering_the_ones_others_set(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Refund", tags=["vip", "from_web"])
    conn = connector(fake)
    action = Action(kind="add_tags", target=str(ticket.id), params={"tags": ["Churn Risk", "vip"]})
    assert conn.apply(action).status == "applied"
    assert puts(fake)[-1]["additional_tags"] == ["churn_risk"] and "tags" not in puts(fake)[-1]
    assert ticket.tags == ["vip", "from_web", "churn_risk"]
    assert conn.apply(action).status == "already_applied"


def test_a_conflict_from_a_customer_reply_is_retried_against_the_new_stamp(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Checkout is down")
    fake.interleave[ticket.id] = "customer"
    result = connector(fake).apply(
        Action(kind="route", target=str(ticket.id), params={"queue": "Service Outages and Maintenance"})
    )
    assert result.status == "applied"
    assert ticket.group_id == fake.group_id("Outages") and len(ticket.comments) == 2  # the reply, kept


def test_a_conflict_from_a_persons_rerouting_writes_nothing(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Checkout is down")
    fake.add_group("Billing")
    fake.interleave[ticket.id] = "person:Billing"
    result = connector(fake).apply(
        Action(kind="route", target=str(ticket.id), params={"queue": "Service Outages and Maintenance"})
    )
    assert (
        result.status == "skipped"
        and "bob@support.example.com set the ticket's assignee or group by hand" in result.detail
    )
    assert fake.writes == [] and ticket.audits[-1]["author_id"] == 8001
    assert ticket.group_id == fake.group_id("Billing")


def test_a_note_whose_answer_was_lost_is_found_by_its_marker_and_not_written_again(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Question")
    note = Action(kind="add_note", target=str(ticket.id), params={"body": "deskroute: routed to General"})
    # Zendesk takes the note, the answer is lost (a 502 from a proxy); the HTTP layer retries the PUT with the
    # same stamp, Zendesk answers 409, and the re-read finds the note.
    fake.faults.append(Fault("PUT", r"tickets/\d+\.json", 502, after=True))
    conn = connector(fake)
    assert conn.apply(note).status == "already_applied"
    assert conn.apply(note).status == "already_applied"
    [written] = notes(fake, ticket.id, note.marker())
    assert written["public"] is False and written["author_id"] == ME


def test_a_note_applied_twice_writes_once(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Question")
    note = Action(kind="add_note", target=str(ticket.id), params={"body": "checked"})
    conn = connector(fake)
    assert [conn.apply(note).status, conn.apply(note).status] == ["applied", "already_applied"]
    assert len(notes(fake, ticket.id, note.marker())) == 1


def test_outreach_applied_twice_creates_one_ticket_even_when_the_answer_was_lost(fake: FakeZendesk) -> None:
    outreach = Action(
        kind="create_outreach",
        target="carla@example.net",
        params={"subject": "We noticed trouble", "body": "Can we help?", "channel": "email", "priority": "high"},
    )
    fake.faults.append(Fault("POST", r"/tickets\.json", 0, after=True))  # created, answer timed out
    conn = connector(fake)
    first = conn.apply(outreach)
    assert first.status == "already_applied" and first.external_ref  # the retried POST hit the same key
    assert conn.apply(outreach).status == "already_applied"  # found by its external id
    created = [t for t in fake.tickets.values() if t.external_id == f"deskroute-{outreach.idempotency_key}"]
    assert len(created) == 1 and created[0].tags == ["deskroute_outreach"] and created[0].priority == "high"
    assert fake.users[created[0].requester_id]["email"] == "carla@example.net"


def test_a_429_mid_apply_is_waited_out_and_a_long_one_surfaces_for_the_outbox(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Question")
    sleeps: list[float] = []
    fake.faults.append(Fault("PUT", r"tickets/\d+\.json", 429, {"Retry-After": "5"}))
    action = Action(kind="add_tags", target=str(ticket.id), params={"tags": ["billing"]})
    assert connector(fake, sleeps).apply(action).status == "applied" and 5 in sleeps
    fake.faults.append(Fault("PUT", r"tickets/\d+\.json", 429, {"Retry-After": "900"}))
    from connectors import RateLimited

    with pytest.raises(RateLimited):
        connector(fake).apply(Action(kind="add_tags", target=str(ticket.id), params={"tags": ["refund"]}))
    assert "refund" not in ticket.tags


def test_refused_actions_say_why(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Question")
    conn = connector(fake)
    unknown_group = conn.apply(Action(kind="route", target=str(ticket.id), params={"queue": "Nowhere"}))
    assert unknown_group.status == "failed" and "no Zendesk group named 'Nowhere'" in unknown_group.detail
    missing = conn.apply(Action(kind="add_tags", target="999999", params={"tags": ["x"]}))
    assert missing.status == "failed" and "does not exist" in missing.detail
    customer = conn.apply(Action(kind="assign", target=str(ticket.id), params={"assignee": "ann@example.com"}))
    assert customer.status == "failed" and "no Zendesk agent" in customer.detail


def test_check_reports_credentials_role_groups_band_field_and_webhook(fake: FakeZendesk) -> None:
    report = connector(fake, webhook_id="01GH5X7Q3M9D5E2ZB8RK4V1T6Y").check()
    items = {i.name: i for i in report.items}
    assert items["credentials"].ok and items["role"].ok and items["groups"].ok
    assert items["band field"].ok and "1 Urgent, 2 High, 3 Normal, 4 Low" in items["band field"].detail
    assert not items["webhook"].ok and "webhook_secret_env is not set" in items["webhook"].detail
    fake.band_field["custom_field_options"][0]["name"] = "Urgent"  # sorts after "4 Low"
    fake.users[ME]["role"] = "agent"
    report = connector(fake, queue_map={"Billing and Payments": "Billing"}).check()
    items = {i.name: i for i in report.items}
    assert not items["role"].ok and "need an admin" in items["role"].detail
    assert not items["groups"].ok and "not found: Billing" in items["groups"].detail
    assert not items["band field"].ok and "do not sort urgent to low" in items["band field"].detail


def test_routing_a_person_set_by_hand_before_deskroute_wrote_is_left_alone(fake: FakeZendesk) -> None:
    ticket = fake.add_ticket("Checkout is down")
    fake.add_group("Billing")
    fake.person_reroutes(ticket.id, "Billing")  # between deskroute's decision and its write: no conflict
    conn = connector(fake)
    route = conn.apply(Action(kind="route", target=str(ticket.id), params={"queue": "Outages"}))
    assert route.status == "skipped" and "set the ticket's assignee or group by hand" in route.detail
    # Priority is not what the person set: deskroute still writes it, and its own routing stays writable.
    priority = conn.apply(Action(kind="set_priority", target=str(ticket.id), params={"priority": "high"}))
    assert priority.status == "applied" and ticket.group_id == fake.group_id("Billing")
    other = fake.add_ticket("Refund")
    assert conn.apply(Action(kind="route", target=str(other.id), params={"queue": "Outages"})).status == "applied"
    assert conn.apply(Action(kind="route", target=str(other.id), params={"queue": "Billing"})).status == "applied"
