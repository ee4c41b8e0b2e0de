"""Pulling from Freshdesk: tickets by updated_since across the page cap, resumed after a stop, codes mapped
through the instance's ticket fields, who changed a ticket, contacts and ratings, 429s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.actions import Action
from connectors.base import PullBatch
from connectors.errors import RateLimited
from tests.connectors.fake_vendor import Fault
from tests.connectors.freshdesk.conftest import connect
from tests.connectors.freshdesk.fake_freshdesk import ANA, BILLING, BOB, T0, FakeFreshdesk, iso


def ticket_ids(batches: list[PullBatch]) -> list[str]:
    return [t.external_id for b in batches for t in b.tickets]


def test_a_full_pull_reads_tickets_conversations_contacts_and_ratings(fake: FakeFreshdesk) -> None:
    first = fake.add_ticket("Invoice shows the wrong VAT number", id=101)
    fake.converse(first, ANA, "Could you send the corrected invoice too?", incoming=True, private=False)
    waiting = fake.add_ticket("Waiting on the bank", status=6, priority=4, group_id=BILLING, responder_id=BOB)
    with connect() as desk:
        batches = list(desk.pull(None))
    tickets = {t.external_id: t for b in batches for t in b.tickets}
    assert list(tickets) == ["101", str(waiting)]
    vat = tickets["101"]
    assert (vat.queue, vat.priority, vat.status, vat.channel) == ("triage", "low", "open", "email")
    assert vat.requester == "ana@customer.example" and vat.organization == "Customer Example BV"
    assert vat.updated_by == "ana@customer.example"  # the reply is the latest change
    bank = tickets[str(waiting)]
    # 6 is the account's own "Waiting on Customer": named by the ticket fields, waiting like Pending.
    assert (bank.queue, bank.priority, bank.status, bank.assignee) == (
        "billing",
        "urgent",
        "pending",
        "bob@support.example.com",
    )
    assert bank.custom_fields["freshdesk_status"] == "Waiting on Customer" and bank.updated_by is None
    comments = [c for b in batches for c in b.comments]
    assert [(c.author, c.author_is_customer, c.public) for c in comments] == [("ana@customer.example", True, True)]
    customers = [c for b in batches for c in b.customers]
    assert customers[-1].email == "ana@customer.example" and customers[-1].organization == "Customer Example BV"
    ratings = {r.external_id: (r.rating, r.score) for b in batches for r in b.ratings}
    assert ratings == {"41000071234": ("good", 103.0), "41000071235": ("bad", -102.0)}
    assert all(not b.refused for b in batches)


def test_a_status_map_decides_what_the_names_do_not(fake: FakeFreshdesk) -> None:
    fake.add_ticket("Third party", status=7)
    with connect(status_map={"Waiting on Third Party": "hold"}) as desk:
        (ticket,) = [t for b in desk.pull(None) for t in b.tickets]
    assert ticket.status == "hold"


def test_a_pull_crosses_the_page_cap_by_moving_updated_since_forward(fake: FakeFreshdesk) -> None:
    fake.page_cap = 2
    for n in range(23):
        fake.add_ticket(f"ticket {n}")
    with connect(page_size=5, page_cap=2) as desk:
        batches = list(desk.pull(None))
    assert len(ticket_ids(batches)) == 23 == len(set(ticket_ids(batches)))
    # 23 tickets are more than 2 pages of 5: the fake answers 400 past its cap, so none was asked for.


def test_tickets_of_one_second_are_paged_through_and_none_is_lost(fake: FakeFreshdesk) -> None:
    for n in range(12):
        fake.add_ticket(f"same second {n}", at=T0)
    fake.add_ticket("later", at=T0 + timedelta(seconds=5))
    with connect(page_size=5) as desk:
        assert sorted(ticket_ids(list(desk.pull(None)))) == sorted(str(i) for i in fake.tickets)


def test_a_stopped_pull_resumes_from_the_last_batch_without_loss_or_repeat(fake: FakeFreshdesk) -> None:
    for n in range(9):
        fake.add_ticket(f"ticket {n}", at=T0 + timedelta(seconds=n // 2))  # pairs share a second
    with connect(page_size=3) as desk:
        pulled = desk.pull(None)
        first = [next(pulled), next(pulled)]  # the process stops here; these two batches were committed
        pulled.close()
    with connect(page_size=3) as desk:
        rest = list(desk.pull(first[-1].cursor))
    ids = ticket_ids(first) + ticket_ids(rest)
    assert sorted(ids) == sorted(str(i) for i in fake.tickets) and len(ids) == len(set(ids))
    # Incremental: nothing new, nothing read again; a ticket changed since comes back once.
    with connect(page_size=3) as desk:
        again = list(desk.pull(rest[-1].cursor))
        assert ticket_ids(again) == []
        fake.now = T0 + timedelta(minutes=1)
        fake.person_changes(5003, group_id=BILLING)
        changed = list(desk.pull(again[-1].cursor if again else rest[-1].cursor))
    assert ticket_ids(changed) == ["5003"]


def test_a_ticket_updated_while_the_listing_is_read_does_not_hide_another(fake: FakeFreshdesk) -> None:
    for n in range(6):
        fake.add_ticket(f"ticket {n}")
    with connect(page_size=2) as desk:
        pulled = desk.pull(None)
        first = next(pulled)
        fake.person_changes(int(first.tickets[0].external_id), group_id=BILLING)  # moves to the end
        rest = list(pulled)
    ids = ticket_ids([first, *rest])
    assert set(ids) == {str(i) for i in fake.tickets}


def test_a_429_waits_for_retry_after_and_the_budget_reads_freshdesks_headers(fake: FakeFreshdesk) -> None:
    fake.add_ticket("one")
    fake.faults.append(Fault("GET", r"^/api/v2/tickets$", 429, {"Retry-After": "7"}))
    waits: list[float] = []
    with connect() as desk:
        desk.api.listing_http._sleep = waits.append
        assert len(ticket_ids(list(desk.pull(None)))) == 1
        assert 7 in waits
        budget = desk.api.listing_http.budget
        assert budget._remaining == 180.0 and budget._limit == 200.0
    fake.faults.append(Fault("GET", r"^/api/v2/tickets$", 429, {"Retry-After": "3600"}, times=10))
    with connect() as desk, pytest.raises(RateLimited):
        list(desk.pull(None))


def test_a_malformed_ticket_is_refused_and_the_rest_kept(fake: FakeFreshdesk) -> None:
    fine = fake.add_ticket("fine")
    bad = fake.add_ticket("bad")
    fake.tickets[bad]["priority"] = "high"
    with connect() as desk:
        batches = list(desk.pull(None))
    refused = [r for b in batches for r in b.refused]
    assert ticket_ids(batches) == [str(fine)]
    assert refused[0].reason == f"Freshdesk ticket {bad}: field 'priority' is 'high', expected a numeric code"


def test_since_a_time(fake: FakeFreshdesk) -> None:
    fake.add_ticket("old", at=T0 - timedelta(days=40))
    fake.add_ticket("new", at=T0)
    with connect() as desk:
        batches = list(desk.pull(desk.cursor_since(T0 - timedelta(days=1))))
    assert [t.subject for b in batches for t in b.tickets] == ["new"]
    assert batches[-1].cursor["tickets"]["since"] == iso(T0)


def test_listings_are_paced_by_the_plans_list_limit_and_writes_by_their_own(fake: FakeFreshdesk) -> None:
    for n in range(8):
        fake.add_ticket(f"ticket {n}")
    listing_waits: list[float] = []
    other_waits: list[float] = []
    with connect(page_size=2, list_per_minute=3) as desk:
        desk.api.listing_http._sleep = listing_waits.append
        desk.api.http._sleep = other_waits.append
        assert len(ticket_ids(list(desk.pull(None)))) == 8
    # Listing pages past the plan's limit wait for the minute to pass; conversations and the rest do not.
    assert listing_waits and all(w > 0 for w in listing_waits) and other_waits == []


def test_a_customers_history_by_email_or_contact_id(fake: FakeFreshdesk) -> None:
    first = fake.add_ticket("VAT", at=T0 - timedelta(days=60))  # older than the listing's default 30 days
    fake.converse(first, ANA, "Any news?", incoming=True, private=False)
    other = fake.add_contact("someone@else.example")
    fake.add_ticket("Not Ana's", requester=other)
    with connect() as desk:
        by_email = desk.customer_history("ana@customer.example")
        by_id = desk.customer_history(str(ANA))
        assert desk.customer_history("nobody@example.org").customer is None
    for history in (by_email, by_id):
        assert history.customer is not None and history.customer.organization == "Customer Example BV"
        assert [t.external_id for t in history.tickets] == [str(first)]
        assert history.tickets[0].requester == "ana@customer.example"
        assert [c.body for c in history.comments] == ["Any news?"]


def test_a_neutral_rating_is_not_good_or_bad_and_a_malformed_one_is_refused(fake: FakeFreshdesk) -> None:
    fake.ratings[0]["ratings"] = {"default_question": 100}
    fake.ratings[1]["user_id"] = "ana"
    with connect() as desk:
        batches = list(desk.pull(None))
    assert [r for b in batches for r in b.ratings] == []
    (refused,) = [r for b in batches for r in b.refused]
    assert refused.kind == "rating" and "field 'user_id' is 'ana', expected a record number" in refused.reason


def test_deskroutes_own_note_is_recognised_by_a_later_process(fake: FakeFreshdesk) -> None:
    ticket = fake.add_ticket("VAT", at=T0 - timedelta(minutes=5))
    with connect() as desk:
        desk.apply(Action(kind="add_note", target=str(ticket), params={"body": "Routed"}))
    with connect() as later:  # remembers nothing of the write: the note names its author
        (pulled,) = [t for b in later.pull(None) for t in b.tickets]
        assert pulled.updated_by == "deskroute@support.example.com" and later.is_own_change(pulled)


def test_full_and_incremental_pulls_across_the_page_cap_resumed_after_a_stop(fake: FakeFreshdesk) -> None:
    fake.page_cap = 2  # 2 pages of 3: every pull below reads more than the cap allows in one listing
    for n in range(20):
        fake.add_ticket(f"ticket {n}", at=T0 + timedelta(seconds=n // 3))
    with connect(page_size=3, page_cap=2) as desk:
        pulled = desk.pull(None)
        first = [next(pulled) for _ in range(3)]
        pulled.close()  # stopped; the three batches and their cursor were committed
    with connect(page_size=3, page_cap=2) as desk:
        rest = [b for b in desk.pull(first[-1].cursor) if b.tickets or b.cursor.get("tickets")]
    full = ticket_ids(first) + ticket_ids(rest)
    assert sorted(full) == sorted(str(i) for i in fake.tickets) and len(full) == len(set(full))
    fake.now = T0 + timedelta(minutes=5)
    changed = [int(i) for i in sorted(fake.tickets)[::2]]
    for ticket in changed:
        fake.person_changes(ticket, priority=3)
    with connect(page_size=3, page_cap=2) as desk:
        incremental = ticket_ids(list(desk.pull(rest[-1].cursor)))
    assert sorted(incremental) == sorted(str(i) for i in changed) and len(incremental) == len(set(incremental))
