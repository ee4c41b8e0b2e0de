"""The Zendesk adapter's pull offline: documented pages as records, resumable exports, faults mid-pull.

Against the fixtures themselves (served as they are) and the fake Zendesk built from them (respx).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors import MalformedResponse, PullBatch, RateLimited, Unavailable
from connectors.zendesk import ZendeskConnector, ZendeskSettings
from tests.connectors.fake_vendor import Fault
from tests.connectors.zendesk.fake_zendesk import AGENT_EMAIL, ROOT, T0, TOKEN, FakeZendesk, fixture


def connector(fake: FakeZendesk | None = None, sleeps: list[float] | None = None, **kw: object) -> ZendeskConnector:
    options: dict[str, object] = {
        "base_url": ROOT,
        "email": AGENT_EMAIL,
        "token": SecretStr(TOKEN),
        "queue_map": {"Service Outages and Maintenance": "Outages", "General Inquiry": "General"},
        "band_field_id": 360001,
    }
    options.update(kw)
    clock = (lambda: fake.now.timestamp()) if fake is not None else (lambda: (T0 + timedelta(days=1)).timestamp())
    return ZendeskConnector(
        "zendesk",
        ZendeskSettings(**options),  # type: ignore[arg-type]
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        clock=clock,
    )


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    desk = FakeZendesk()
    with respx.mock(base_url=ROOT, assert_all_called=False) as mock:
        mock.route().mock(side_effect=desk)
        yield desk


def ticket_ids(batches: list[PullBatch]) -> list[str]:
    return [t.external_id for b in batches for t in b.tickets]


def test_documented_pages_read_as_canonical_records() -> None:
    with respx.mock(base_url=ROOT) as mock:
        mock.get("/api/v2/incremental/tickets/cursor.json").respond(json=fixture("incremental_tickets_cursor.json"))
        mock.get(path__regex=r"/api/v2/tickets/\d+/comments.json").respond(json=fixture("ticket_comments.json"))
        mock.get(path__regex=r"/api/v2/tickets/\d+/audits.json").respond(json=fixture("ticket_audits.json"))
        mock.get("/api/v2/organizations/show_many.json").respond(json=fixture("organizations_show_many.json"))
        mock.get("/api/v2/groups.json").respond(json=fixture("groups.json"))
        mock.get("/api/v2/incremental/users/cursor.json").respond(json=fixture("incremental_users_cursor.json"))
        mock.get("/api/v2/satisfaction_ratings.json").respond(json=fixture("satisfaction_ratings.json"))
        batches = list(connector().pull(None))
    tickets = {t.external_id: t for b in batches for t in b.tickets}
    outage, question = tickets["101"], tickets["102"]
    assert outage.queue == "Service Outages and Maintenance" and question.queue == "General Inquiry"
    assert outage.requester == "ann@example.com" and outage.organization == "Acme Shops"
    assert outage.priority == "normal" and outage.priority_raw == "normal" and question.priority is None
    assert outage.tags == ["checkout", "vip"] and outage.channel == "email" and outage.status == "new"
    # The latest audit is the customer's reply (a trigger reopened the ticket in the same update).
    assert outage.updated_by == "ann@example.com"
    assert question.assignee == "bob@support.example.com"
    assert question.custom_fields["deskroute_band"] == "deskroute_band_3_normal"
    comments = {c.external_id: c for b in batches for c in b.comments if c.ticket_external_id == "101"}
    assert comments["40001"].author_is_customer and comments["40001"].public
    assert not comments["40002"].author_is_customer and not comments["40002"].public
    assert comments["40002"].author == "bob@support.example.com"
    customers = {c.external_id: c for b in batches for c in b.customers}
    assert customers["9001"].email == "ann@example.com" and customers["9001"].organization == "Acme Shops"
    assert "8001" not in customers  # agents are not customers
    ratings = {r.external_id: r for b in batches for r in b.ratings}
    assert ratings["70001"].rating == "bad" and ratings["70001"].customer_external_id == "9001"
    final = batches[-1].cursor
    assert final["tickets"] == {"cursor": "MTc4MDMwNDcwMC4wfHwxMDJ8"}
    assert final["users"] == {"cursor": "MTc4MDE0MDgwMC4wfHw4MDAxfA"}
    assert final["ratings"]["start_time"] == 1779364800 and final["ratings"]["seen"] == ["70002"]


def test_a_pull_resumed_from_any_committed_batch_gets_every_ticket_once(fake: FakeZendesk) -> None:
    for n in range(7):
        fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(minutes=n))
    conn = connector(fake, page_size=2)
    # The first pull dies after its second batch: only what that batch's cursor covers is committed.
    first = conn.pull(None)
    committed = [next(first), next(first)]
    first.close()
    resumed = list(connector(fake, page_size=2).pull(committed[-1].cursor))
    seen = ticket_ids(committed) + ticket_ids(resumed)
    assert sorted(seen) == sorted(str(t) for t in fake.tickets) and len(seen) == len(set(seen))
    # Incremental: nothing new, nothing pulled; a reply is pulled once its minute has passed.
    cursor = resumed[-1].cursor
    assert ticket_ids(list(connector(fake).pull(cursor))) == []
    target = next(iter(fake.tickets))
    fake.customer_replies(target, "any news?")
    assert ticket_ids(list(connector(fake).pull(cursor))) == []  # the export holds the last minute back
    fake.now += timedelta(seconds=61)
    again = list(connector(fake).pull(cursor))
    assert ticket_ids(again) == [str(target)]
    assert again[0].tickets[0].updated_by == "ann@example.com"


def test_same_second_updates_are_neither_lost_nor_repeated(fake: FakeZendesk) -> None:
    for n in range(5):
        fake.add_ticket(f"same second {n}", updated=T0)
    first = connector(fake, page_size=2).pull(None)
    batch = next(first)
    first.close()
    rest = list(connector(fake, page_size=2).pull(batch.cursor))
    seen = ticket_ids([batch, *rest])
    assert Counter(seen) == Counter(str(t) for t in fake.tickets)


def test_a_pull_from_a_moment_asks_from_before_the_held_back_minute(fake: FakeZendesk) -> None:
    fake.add_ticket("old", updated=T0)
    conn = connector(fake)
    cursor = conn.cursor_since(fake.now)  # "from now": Zendesk refuses a start time in its last minute
    assert ticket_ids(list(conn.pull(cursor))) == []
    assert ticket_ids(list(conn.pull(conn.cursor_since(T0)))) == [next(str(t) for t in fake.tickets)]


def test_429_with_retry_after_mid_pull_is_waited_out(fake: FakeZendesk) -> None:
    for n in range(5):
        fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(minutes=n))
    fake.faults.append(Fault("GET", "incremental/tickets", 429, {"Retry-After": "7"}, times=1))
    fake.faults.append(Fault("GET", r"tickets/\d+/comments", 429, {"Retry-After": "3"}, times=2))
    sleeps: list[float] = []
    batches = list(connector(fake, sleeps, page_size=2).pull(None))
    assert sorted(ticket_ids(batches)) == sorted(str(t) for t in fake.tickets)
    assert 7 in sleeps and sleeps.count(3) == 2


def test_a_429_longer_than_the_client_waits_keeps_the_pages_before_it(fake: FakeZendesk) -> None:
    for n in range(5):
        fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(minutes=n))
    conn = connector(fake, page_size=2)
    got: list[PullBatch] = []
    pull = conn.pull(None)
    got.append(next(pull))
    fake.faults.append(Fault("GET", "incremental/tickets", 429, {"Retry-After": "3600"}, times=1))
    with pytest.raises(RateLimited) as raised:
        got.extend(pull)
    assert raised.value.retry_after == 3600
    rest = list(connector(fake, page_size=2).pull(got[-1].cursor))
    assert sorted(ticket_ids(got + rest)) == sorted(str(t) for t in fake.tickets)


def test_5xx_and_timeouts_are_retried_and_a_lasting_failure_keeps_earlier_pages(fake: FakeZendesk) -> None:
    for n in range(4):
        fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(minutes=n))
    fake.faults += [Fault("GET", "incremental/tickets", 503, times=2), Fault("GET", r"/audits", 0, times=1)]
    batches = list(connector(fake, page_size=2).pull(None))
    assert sorted(ticket_ids(batches)) == sorted(str(t) for t in fake.tickets)
    pull = connector(fake, page_size=2).pull(None)
    first = next(pull)
    fake.faults.append(Fault("GET", "incremental/tickets", 500, times=99))
    with pytest.raises(Unavailable):
        list(pull)
    assert len(first.tickets) == 2 and first.cursor["tickets"]["cursor"]


def test_a_ticket_that_does_not_validate_is_refused_and_the_rest_kept(fake: FakeZendesk) -> None:
    good = fake.add_ticket("fine", updated=T0)
    bad = fake.add_ticket("broken", updated=T0 + timedelta(seconds=1))
    render = fake.render

    def broken(ticket):  # type: ignore[no-untyped-def]
        item = render(ticket)
        if ticket.id == bad.id:
            item["tags"] = "not-a-list"
        return item

    fake.render = broken  # type: ignore[method-assign]
    batches = list(connector(fake).pull(None))
    assert ticket_ids(batches) == [str(good.id)]
    refused = [r for b in batches for r in b.refused]
    assert [(r.kind, r.external_id, r.field) for r in refused] == [("ticket", str(bad.id), "tags")]
    assert f"Zendesk ticket {bad.id}: field 'tags'" in refused[0].reason


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ({"tickets": {}, "end_of_stream": True}, "field 'tickets' is {}, expected a list"),
        ({"tickets": [{"id": "1/../users"}], "end_of_stream": True}, "field 'tickets[0].id'"),
        ({"tickets": [], "end_of_stream": "yes"}, "field 'end_of_stream'"),
        ({"tickets": [], "end_of_stream": False, "after_cursor": None}, "field 'after_cursor'"),
    ],
)
def test_an_export_page_in_another_shape_names_the_field(page: dict, message: str) -> None:
    with respx.mock(base_url=ROOT) as mock:
        mock.get("/api/v2/incremental/tickets/cursor.json").respond(json=page)
        with pytest.raises(MalformedResponse, match=message.replace("[", r"\[").replace("{", r"\{")):
            list(connector().pull(None))


def test_an_export_that_ignores_the_cursor_is_refused_not_followed_for_ever() -> None:
    page = {"tickets": [], "after_cursor": "c1", "end_of_stream": False}
    with respx.mock(base_url=ROOT) as mock:
        mock.get("/api/v2/incremental/tickets/cursor.json").respond(json=page)
        with pytest.raises(MalformedResponse, match="ignores the cursor"):
            list(connector().pull({"tickets": {"cursor": "c1"}}))


def test_the_exports_are_paced_by_their_own_budget(fake: FakeZendesk) -> None:
    for n in range(12):
        fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(minutes=n))
    sleeps: list[float] = []
    conn = connector(fake, sleeps, page_size=1)
    assert conn.api.export.budget.per_minute == 10 and conn.api.http.budget.per_minute is None
    batches = list(conn.pull(None))
    assert len(ticket_ids(batches)) == 12
    # Ten export requests a minute, less the reserve: the later export pages waited; the other calls did not.
    assert sleeps and min(sleeps) > 30


def test_a_stored_cursor_this_adapter_cannot_read_says_what_to_do(fake: FakeZendesk) -> None:
    with pytest.raises(ValueError, match="run a --full sync"):
        list(connector(fake).pull({"tickets": {"cursor": 7}}))


def test_customer_history_holds_requested_tickets_comments_ratings_and_organization(fake: FakeZendesk) -> None:
    rated = fake.add_ticket("old problem", updated=T0)
    fake.add_ticket("new problem", updated=T0 + timedelta(minutes=1))
    render = fake.render

    def with_rating(ticket):  # type: ignore[no-untyped-def]
        item = render(ticket)
        if ticket.id == rated.id:
            item["satisfaction_rating"] = {"id": 77001, "score": "bad", "comment": "slow", "reason": "Other"}
        return item

    fake.render = with_rating  # type: ignore[method-assign]
    history = connector(fake).customer_history("ann@example.com")
    assert history.customer is not None and history.customer.organization == "Acme Shops"
    assert sorted(t.subject for t in history.tickets) == ["new problem", "old problem"]
    assert {c.ticket_external_id for c in history.comments} == {str(t) for t in fake.tickets}
    assert [(r.external_id, r.rating) for r in history.ratings] == [("77001", "bad")]
    assert connector(fake).customer_history("nobody@example.com").customer is None
    assert connector(fake).customer_history("9001").customer is not None


def test_the_credentials_never_reach_a_message(fake: FakeZendesk) -> None:
    conn = ZendeskConnector(
        "zendesk",
        ZendeskSettings(base_url=ROOT, email=AGENT_EMAIL, token=SecretStr("wrong-" + TOKEN)),
        sleep=lambda s: None,
    )
    report = conn.check()
    assert not report.ok and "refused the credentials (401" in report.items[0].detail
    assert TOKEN not in json.dumps([i.detail for i in report.items]) and "wrong-" not in repr(conn.api.http)


def test_requests_carry_zendesk_token_auth(fake: FakeZendesk) -> None:
    with httpx.Client() as client:
        answer = client.get(f"{ROOT}/api/v2/users/me.json")
    assert answer.status_code == 401  # without the agent's "email/token" basic credentials
    assert connector(fake).me()["email"] == AGENT_EMAIL


def test_a_persons_rerouting_is_not_hidden_by_deskroutes_writes_after_it(fake: FakeZendesk) -> None:
    from connectors import Action

    fake.add_group("Billing")
    ticket = fake.add_ticket("Refund please", updated=T0)
    conn = connector(fake)
    assert conn.apply(Action(kind="route", target=str(ticket.id), params={"queue": "Outages"})).status == "applied"
    fake.now += timedelta(seconds=61)
    [mine] = [t for b in conn.pull(None) for t in b.tickets]
    assert mine.updated_by == AGENT_EMAIL  # deskroute's own change: recognised as such
    fake.person_reroutes(ticket.id, "Billing")
    conn.apply(Action(kind="add_tags", target=str(ticket.id), params={"tags": ["refund"]}))
    fake.now += timedelta(seconds=61)
    [pulled] = [t for b in conn.pull(None) for t in b.tickets]
    # The latest audit is deskroute's tags, yet the routing is Bob's: deskroute must see his correction.
    assert pulled.queue == "Billing" and pulled.updated_by == "bob@support.example.com"
    # A trigger or the customer changing things does not count as a person's routing.
    fake.customer_replies(ticket.id, "thanks")
    fake.now += timedelta(seconds=61)
    [pulled] = [t for b in conn.pull(None) for t in b.tickets]
    assert pulled.updated_by == "ann@example.com"


def test_zendesks_quota_headers_pace_the_requests_before_a_429(fake: FakeZendesk) -> None:
    for n in range(3):
        fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(minutes=n))
    sleeps: list[float] = []
    batches = list(connector(fake, sleeps).pull(None))
    assert len(ticket_ids(batches)) == 3 and sleeps == []  # plenty of quota left: no waiting
    fake.quota = {"ratelimit-limit": "700", "ratelimit-remaining": "3", "ratelimit-reset": "40"}
    list(connector(fake, sleeps).pull(None))
    # Three requests left for 40 seconds: the rest are spread over the time to the reset, not spent at once.
    assert sleeps and all(0 < s <= 40 for s in sleeps)


def test_the_fake_answers_in_the_documented_shapes(fake: FakeZendesk) -> None:
    # What the fake serves must have exactly the fields of the documented payloads its answers are built from.
    ticket = fake.add_ticket("shape")
    fake.customer_replies(ticket.id, "more")
    documented = fixture("incremental_tickets_cursor.json")
    assert set(fake.render(ticket)) == set(documented["tickets"][0])
    assert {k for c in ticket.comments for k in c} == set(fixture("ticket_comments.json")["comments"][0])
    assert {k for a in ticket.audits for k in a} == set(fixture("ticket_audits.json")["audits"][0])
    with httpx.Client(base_url=ROOT) as client:
        page = client.get(
            "/api/v2/incremental/tickets/cursor.json",
            params={"start_time": 0, "include": "users"},
            auth=(f"{AGENT_EMAIL}/token", TOKEN),
        ).json()
    assert set(page) == set(documented)
    assert set(fixture("incremental_users_cursor.json")) == set(page) - {"tickets", "users"} | {"users"}


def test_ratings_read_half_way_are_read_again_not_lost(fake: FakeZendesk) -> None:
    template = fake.ratings[0]
    fake.ratings = [
        {**template, "id": 71000 + n, "created_at": f"2026-05-{20 - n % 10:02d}T12:00:{n % 60:02d}Z"}
        for n in range(150)
    ]
    pull = connector(fake).pull(None)
    first = next(b for b in pull if b.ratings)  # the first page of ratings, out of time order
    pull.close()
    assert len(first.ratings) == 100 and first.cursor.get("ratings") is None  # the cursor waits for the end
    resumed = list(connector(fake).pull(first.cursor))
    read = {r.external_id for b in [first, *resumed] for r in b.ratings}
    assert read == {str(71000 + n) for n in range(150)}
    newest = max(int(datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")).timestamp()) for r in fake.ratings)
    assert resumed[-1].cursor["ratings"]["start_time"] == newest
    assert [r for b in connector(fake).pull(resumed[-1].cursor) for r in b.ratings] == []
