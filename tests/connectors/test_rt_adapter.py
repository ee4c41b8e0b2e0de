"""The RT adapter offline: vocabularies, the same-second cursor, time-zone measurement, priority names.

Against a respx stand-in (tests/connectors/fake_rt.py); tests/integration runs the adapter against a real RT.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx
from pydantic import SecretStr

from connectors import Action, WebhookUnsupported
from connectors.rt import PriorityScale, RTConnector, RTSettings, Vocabulary, VocabularyError
from connectors.rt.cursor import PullCursor
from connectors.rt.vocabulary import priority_names_from_form
from tests.connectors.fake_rt import ROOT, T0, FakeRT

SECRET = "rt-Pa55word!"


def connector(**kw: object) -> RTConnector:
    options: dict[str, object] = {"base_url": ROOT, "username": "deskroute", "password": SecretStr(SECRET)}
    options.update(kw)
    return RTConnector("rt", RTSettings(**options), sleep=lambda s: None)  # type: ignore[arg-type]


def pulled(conn: RTConnector, cursor: dict | None) -> tuple[list[str], dict]:
    ids: list[str] = []
    last = cursor or {}
    for batch in conn.pull(cursor):
        ids += [t.external_id for t in batch.tickets]
        last = batch.cursor
    return ids, last


def test_priority_scale_follows_rts_rule() -> None:
    scale = PriorityScale.from_pairs({"Medium": 50, "Low": 0, "High": 80, "On Fire": 100}, "instance")
    assert [n for n, _ in scale.names] == ["Low", "Medium", "High", "On Fire"]
    assert scale.name_for(0) == "Low" and scale.name_for(79) == "Medium" and scale.name_for(85) == "High"
    assert scale.name_for(-1) is None
    assert scale.number_for("on fire") == 100 and scale.number_for("Urgent") is None


def test_priority_names_are_read_from_rts_ticket_form() -> None:
    page = """<div><select name="Queue"><option value="1">General</option></select>
      <select class="select-priority" name="InitialPriority">
        <option value="">-</option>
        <option class="priority-low" value="0" >Low</option>
        <option value="50">Medium</option>
        <option value="100">On &amp; Fire</option>
      </select>
      <select name="FinalPriority"><option value="7">Other</option></select></div>"""
    assert priority_names_from_form(page) == (("Low", 0), ("Medium", 50), ("On & Fire", 100))
    assert priority_names_from_form("<input name='InitialPriority' value='0'>") == ()


def test_vocabulary_maps_both_ways() -> None:
    scale = PriorityScale.from_pairs({"Low": 0, "Medium": 50, "High": 80, "On Fire": 100}, "instance")
    plain = Vocabulary({}, {}, {})
    assert [plain.rt_priority(p, scale) for p in ("low", "normal", "high", "urgent")] == [0, 50, 80, 100]
    assert plain.canonical_priority(80, scale) == "high"
    assert plain.canonical_priority(100, scale) is None  # "On Fire" means nothing canonical without a map
    mapped = Vocabulary({"billing": "Billing Queue"}, {"urgent": "On Fire", "low": "10"}, {"stalled": "pending"})
    assert mapped.rt_priority("urgent", scale) == 100 and mapped.rt_priority("low", scale) == 10
    assert mapped.canonical_priority(100, scale) == "urgent" and mapped.canonical_priority(10, scale) == "low"
    assert mapped.rt_queue("billing") == "Billing Queue" and mapped.canonical_queue("Billing Queue") == "billing"
    assert mapped.canonical_queue("General") == "General"
    assert mapped.canonical_status("stalled") == "pending" and mapped.canonical_status("resolved") == "solved"
    assert mapped.canonical_status("waiting-on-vendor") == "open"
    with pytest.raises(VocabularyError, match=r"priority_map\.high = 'Hot' is not a priority name"):
        Vocabulary({}, {"high": "Hot"}, {}).rt_priority("high", scale)
    with pytest.raises(VocabularyError, match="not a canonical priority"):
        Vocabulary({}, {"critical": "High"}, {})
    with pytest.raises(VocabularyError, match="not a canonical status"):
        Vocabulary({}, {}, {"stalled": "parked"})


def test_pull_state_keeps_tickets_of_the_cursors_second() -> None:
    state = PullCursor.load({"since": "2026-06-01T12:00:05Z", "seen": ["7"]})
    second = T0 + timedelta(seconds=5)
    assert not state.is_new("7", second)  # pulled already at this version
    assert state.is_new("8", second)  # same second, not seen: must not be lost
    assert not state.is_new("9", second - timedelta(seconds=1))
    state.advance("8", second)
    assert state.dump() == {"since": "2026-06-01T12:00:05Z", "seen": ["7", "8"]}
    state.advance("3", second + timedelta(seconds=1))
    # until RT's clock is two seconds past it, the new second may still change: nothing is marked seen
    assert state.dump() == {"since": "2026-06-01T12:00:06Z", "seen": []}
    state.observe_clock(second + timedelta(seconds=2))
    assert state.dump()["seen"] == []
    state.observe_clock(second + timedelta(seconds=3))
    assert state.dump() == {"since": "2026-06-01T12:00:06Z", "seen": ["3"]}
    with pytest.raises(ValueError, match="--full"):
        PullCursor.load({"since": "yesterday"})


@respx.mock
def test_pull_splits_same_second_ties_across_pages_and_never_repeats() -> None:
    rt = FakeRT()
    respx.route(host="rt.example.com").mock(side_effect=rt)
    for n in range(1, 8):  # seven tickets, five of them updated in one second
        rt.add(n, T0 + timedelta(seconds=0 if n <= 5 else n))
    conn = connector(page_size=2)
    ids, cursor = pulled(conn, None)
    assert sorted(ids, key=int) == [str(n) for n in range(1, 8)] and len(ids) == 7
    assert cursor == {"since": "2026-06-01T12:00:07Z", "seen": ["7"]}
    # Later in the cursor's own second another ticket changes: the next pull gets it, and only it.
    rt.add(8, T0 + timedelta(seconds=7))
    assert pulled(conn, cursor)[0] == ["8"]
    assert pulled(conn, {"since": "2026-06-01T12:00:07Z", "seen": ["7", "8"]})[0] == []


@respx.mock
def test_a_second_that_can_still_change_is_read_again_by_the_next_pull() -> None:
    rt = FakeRT()
    respx.route(host="rt.example.com").mock(side_effect=rt)
    rt.add(1, T0)
    rt.add(2, T0 + timedelta(seconds=1))
    rt.clock = T0 + timedelta(seconds=1, milliseconds=400)  # the pull runs within ticket 2's second
    conn = connector()
    ids, cursor = pulled(conn, None)
    assert ids == ["1", "2"] and cursor == {"since": "2026-06-01T12:00:01Z", "seen": []}
    rt.tickets[2].subject = "changed again in the same second"
    rt.clock = T0 + timedelta(seconds=5)
    batches = list(conn.pull(cursor))
    assert [t.subject for b in batches for t in b.tickets] == ["changed again in the same second"]
    assert batches[-1].cursor == {"since": "2026-06-01T12:00:01Z", "seen": ["2"]}  # settled now
    assert pulled(conn, batches[-1].cursor)[0] == []


@respx.mock
def test_a_full_page_of_one_second_pages_on_instead_of_looping() -> None:
    rt = FakeRT()
    respx.route(host="rt.example.com").mock(side_effect=rt)
    for n in range(1, 10):
        rt.add(n, T0)
    conn = connector(page_size=3)
    ids, cursor = pulled(conn, {"since": "2026-06-01T12:00:00Z", "seen": ["1", "2", "3", "4"]})
    assert ids == ["5", "6", "7", "8", "9"]
    assert cursor["seen"] == [str(n) for n in range(1, 10)]


@respx.mock
@pytest.mark.parametrize("hours", [-5, 0, 5.5, 13])
def test_the_rt_users_time_zone_is_measured_so_no_change_is_missed(hours: float) -> None:
    rt = FakeRT(utc_offset=timedelta(hours=hours))
    respx.route(host="rt.example.com").mock(side_effect=rt)
    rt.add(1, T0)
    conn = connector()
    _, cursor = pulled(conn, None)
    rt.add(2, T0 + timedelta(seconds=3))
    assert pulled(conn, cursor)[0] == ["2"]
    assert conn.clock.offset() == timedelta(hours=hours)
    # the search started just before the cursor as RT reads it (an hour earlier for an old cursor, in case a
    # daylight-saving change lies between), not hours off
    started = rt._read_date(rt.searches[-1].rsplit("'", 2)[-2])
    assert T0 - timedelta(hours=1, seconds=2) <= started <= T0 - timedelta(seconds=2)


@respx.mock
def test_a_configured_time_zone_is_used_as_is() -> None:
    rt = FakeRT(utc_offset=timedelta(hours=2))  # Europe/Berlin in June
    respx.route(host="rt.example.com").mock(side_effect=rt)
    conn = connector(timezone="Europe/Berlin")
    assert conn.clock.local(T0) == "2026-06-01 14:00:00"
    assert not any("Created" in q for q in rt.searches)  # nothing measured


@respx.mock
def test_records_carry_who_changed_them_and_the_instances_priority_names() -> None:
    rt = FakeRT(priority_names={"Low": 0, "Normal": 30, "High": 70, "Urgent": 100})
    respx.route(host="rt.example.com").mock(side_effect=rt)
    t = rt.add(1, T0, priority=70, owner="sam", updated_by="deskroute", tags=["vip"])
    t.comments += [(501, "Correspond", "ann@example.com", "Any news?"), (502, "Comment", "sam", "Looking")]
    conn = connector(queue_map={"billing": "General"})
    batch = next(iter(conn.pull(None)))
    ticket = batch.tickets[0]
    assert ticket.priority == "high" and ticket.priority_raw == "70" and ticket.queue == "billing"
    assert ticket.updated_by == "deskroute" and conn.is_own_change(ticket)
    assert ticket.assignee == "sam" and ticket.tags == ["vip"] and ticket.body == "body 1"
    assert ticket.requester == "ann@example.com"
    assert [(c.author, c.author_is_customer, c.public, c.body) for c in batch.comments] == [
        ("ann@example.com", True, True, "Any news?"),
        ("sam", False, False, "Looking"),
    ]
    assert [c.external_id for c in batch.customers] == ["ann@example.com"]
    assert conn.priority_scale("1").origin == "instance"


@respx.mock
def test_a_note_is_written_once_whatever_the_retries() -> None:
    rt = FakeRT()
    respx.route(host="rt.example.com").mock(side_effect=rt)
    rt.add(1, T0)
    conn = connector()
    note = Action(kind="add_note", target="1", params={"body": "Routed to Billing (refund words)."})
    assert conn.apply(note).status == "applied"
    assert conn.apply(note).status == "already_applied"
    assert len(rt.tickets[1].comments) == 1
    assert rt.tickets[1].comments[0][3].endswith(note.marker())
    assert conn.apply(Action(kind="add_note", target="99", params={"body": "x"})).status == "failed"


def test_credentials_are_required_and_never_shown() -> None:
    with pytest.raises(Exception, match="token_env"):
        RTConnector("rt", RTSettings(base_url=ROOT))
    conn = connector()
    assert SECRET not in repr(conn.settings) and SECRET not in repr(conn) and SECRET not in repr(conn.api.http)


@respx.mock
def test_a_refused_write_is_a_failed_result_and_rt_sends_no_webhooks() -> None:
    rt = FakeRT()
    respx.route(host="rt.example.com").mock(side_effect=rt)
    rt.add(1, T0)
    conn = connector()
    # the stand-in refuses every PUT (404): RT said no to this action, so it is failed, not raised
    result = conn.apply(Action(kind="route", target="1", params={"queue": "Billing"}))
    assert result.status == "failed" and "rejected the request (404" in result.detail
    assert conn.apply(Action(kind="route", target="1", params={"queue": "General"})).status == "already_applied"
    with pytest.raises(WebhookUnsupported):
        conn.verify_webhook({}, b"{}", T0)
