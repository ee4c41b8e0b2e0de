"""The whole loop against the fake Zendesk, driven as a user drives it: ``deskroute sync`` and ``deskroute run
--once`` processes with a deskroute.toml naming a zendesk connector.

Scenarios (those of the live RT tests): auto mode routes, prioritises (with the band), tags and notes new
tickets, and a second run writes nothing; suggest mode writes only tags and an internal note; shadow mode
writes nothing; a ticket a person re-routed is left alone and the correction recorded, also when the person
moved it between deskroute's decision and its write (the safe-update guard). A sync SIGKILLed mid-pull and a
run SIGKILLed mid-apply (after Zendesk took the write, before deskroute heard of it) end, once restarted,
with every ticket stored once and every action applied once, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from router.store import TicketRow, count, get_cursor
from router.store.tables import DecisionRow, FeedbackRow, OutboxRow
from tests.conftest import REPO_ROOT
from tests.connectors.deskroute_processes import DeskrouteProcesses, process_env
from tests.connectors.fake_vendor import Kill
from tests.connectors.zendesk.fake_zendesk import AGENT_EMAIL, ME, T0, TOKEN, FakeTicket, FakeZendesk

STARTER = REPO_ROOT / "policies" / "examples" / "starter.yaml"
TEAMS = (
    "Technical Support",
    "Product Support",
    "Customer Service",
    "IT Support",
    "Billing and Payments",
    "Returns and Exchanges",
    "Sales and Pre-Sales",
    "Human Resources",
    "Kundenservice DE",
    "Triage",
)


@dataclass
class Desk(DeskrouteProcesses):
    fake: FakeZendesk = field(default_factory=FakeZendesk)

    def configure(self, url: str, *, mode: str = "auto", page_size: int = 100) -> None:
        (self.folder / "deskroute.toml").write_text(
            f'policy = "{STARTER}"\n'
            "[connectors.zendesk]\n"
            'type = "zendesk"\n'
            f'mode = "{mode}"\n'
            f'base_url = "{url}"\n'
            'username_env = "ZD_EMAIL"\n'
            'token_env = "ZD_TOKEN"\n'
            f"page_size = {page_size}\n"
            'queue_map = {"Service Outages and Maintenance" = "Outages", "General Inquiry" = "General"}\n'
            "options = {band_field_id = 360001}\n",
            encoding="utf-8",
        )


def make_desk(folder: Path, database_url: str, entry_points: Path | None) -> Desk:
    fake = FakeZendesk()
    for team in TEAMS:
        fake.add_group(team)
    env = process_env(folder, database_url, entry_points, {"ZD_EMAIL": AGENT_EMAIL, "ZD_TOKEN": TOKEN})
    return Desk(folder, env, database_url, fake)


@pytest.fixture
def desk(tmp_path: Path, sqlite_url: str, zendesk_registered: Path | None) -> Iterator[Desk]:
    yield make_desk(tmp_path, sqlite_url, zendesk_registered)


def new_tickets(fake: FakeZendesk) -> tuple[FakeTicket, FakeTicket]:
    outage = fake.add_ticket("Checkout is down for every customer", "Since 9:00 nobody can pay.", updated=T0)
    refund = fake.add_ticket(
        "Refund for invoice 4411", "I returned the order two weeks ago.", updated=T0 + timedelta(minutes=1)
    )
    return outage, refund


def my_notes(ticket: FakeTicket) -> list[dict]:
    return [c for c in ticket.comments if c["author_id"] == ME and "deskroute:action=" in c["body"]]


def decisions(desk: Desk) -> int:
    store = desk.store()
    with store.session() as session:
        found = count(session, DecisionRow)
    store.dispose()
    return found


def test_auto_mode_routes_prioritises_tags_and_notes_once(desk: Desk) -> None:
    outage, refund = new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url)
        first = desk.run("run", "--once")
        assert first.returncode == 0, first.stderr
        assert outage.group_id == desk.fake.group_id("Outages") and outage.priority == "urgent"
        assert outage.custom_fields[360001] == "deskroute_band_1_urgent"
        assert refund.group_id == desk.fake.group_id("Billing and Payments")
        assert len(my_notes(outage)) == 1 and my_notes(outage)[0]["public"] is False
        assert "outage" in outage.tags
        writes, decided = len(desk.fake.writes), decisions(desk)
        # deskroute's own changes come back once the export's held-back minute has passed: nothing to do.
        desk.fake.now += timedelta(seconds=61)
        again = desk.run("run", "--once")
        assert again.returncode == 0, again.stderr
        assert len(desk.fake.writes) == writes and decisions(desk) == decided
        assert "skipped own change: 2" in again.stdout.replace("_", " ")


def test_suggest_mode_writes_only_tags_and_an_internal_note(desk: Desk) -> None:
    outage, _ = new_tickets(desk.fake)
    group = outage.group_id
    with desk.fake.serve() as url:
        desk.configure(url, mode="suggest")
        result = desk.run("run", "--once")
    assert result.returncode == 0, result.stderr
    written = [changes for method, _, changes in desk.fake.writes]
    assert written and all(
        set(c) - {"safe_update", "updated_stamp"} in ({"additional_tags"}, {"comment"}) for c in written
    )
    assert all(c["comment"]["public"] is False for c in written if "comment" in c)
    assert outage.group_id == group and outage.priority is None and len(my_notes(outage)) == 1


def test_shadow_mode_decides_and_writes_nothing(desk: Desk) -> None:
    new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url, mode="shadow")
        result = desk.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert desk.fake.writes == [] and decisions(desk) == 2


def corrections(desk: Desk) -> list[FeedbackRow]:
    store = desk.store()
    with store.session() as session:
        rows = list(session.execute(sa.select(FeedbackRow)).scalars().all())
        session.expunge_all()
    store.dispose()
    return rows


def test_a_ticket_a_person_rerouted_is_left_alone_and_the_correction_recorded(desk: Desk) -> None:
    outage, _ = new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url)
        assert desk.run("run", "--once").returncode == 0
        desk.fake.person_reroutes(outage.id, "Technical Support")
        writes = len(desk.fake.writes)
        desk.fake.now += timedelta(seconds=61)
        result = desk.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(desk.fake.writes) == writes and outage.group_id == desk.fake.group_id("Technical Support")
    [feedback] = corrections(desk)
    assert feedback.ticket_external_id == str(outage.id) and feedback.corrected == "Technical Support"
    assert feedback.corrected_by == "bob@support.example.com"


def test_a_rerouting_between_decision_and_write_is_not_overwritten(desk: Desk) -> None:
    outage, _ = new_tickets(desk.fake)
    desk.fake.interleave[outage.id] = "person:Technical Support"
    with desk.fake.serve() as url:
        desk.configure(url)
        first = desk.run("run", "--once")
        assert first.returncode == 0, first.stderr
        assert outage.group_id == desk.fake.group_id("Technical Support")  # the safe-update guard held
        desk.fake.now += timedelta(seconds=61)
        assert desk.run("run", "--once").returncode == 0
    store = desk.store()
    with store.session() as session:
        route = session.execute(
            sa.select(OutboxRow).where(OutboxRow.kind == "route", OutboxRow.target == str(outage.id))
        ).scalar_one()
        assert route.state == "skipped" and "by hand; deskroute leaves that to them" in str(route.result)
    store.dispose()
    assert [f.ticket_external_id for f in corrections(desk)] == [str(outage.id)]


@pytest.fixture
def killable(tmp_path: Path, database_url: str, zendesk_registered: Path | None) -> Iterator[Desk]:
    yield make_desk(tmp_path, database_url, zendesk_registered)


@pytest.mark.slow
def test_a_sync_killed_mid_pull_resumes_with_every_ticket_once(killable: Desk) -> None:
    desk = killable
    for n in range(7):
        desk.fake.add_ticket(f"ticket {n}", updated=T0 + timedelta(seconds=n // 2))  # pairs share a second
    with desk.fake.serve() as url:
        desk.configure(url, page_size=2)
        process = desk.start("sync", "zendesk")
        desk.fake.kill = Kill(process.pid, "GET", r"incremental/tickets", nth=3)
        process.communicate(timeout=180)
        assert process.returncode == -signal.SIGKILL
        store = desk.store()
        with store.session() as session:
            assert count(session, TicketRow) == 4  # two pages committed with their cursor; the third never came
        resumed = desk.run("sync", "zendesk")
        assert resumed.returncode == 0, resumed.stderr
        assert "zendesk: 3 tickets" in resumed.stdout  # from page three on, not from the start
        with store.session() as session:
            rows = session.execute(sa.select(TicketRow.external_id).where(TicketRow.source == "zendesk")).scalars()
            stored = sorted(rows.all())
            cursor = get_cursor(session, "zendesk")
        store.dispose()
    assert stored == sorted(str(t) for t in desk.fake.tickets)
    assert cursor is not None and cursor["tickets"]["cursor"]


@pytest.mark.slow
def test_a_run_killed_after_zendesk_took_a_note_applies_every_action_once(killable: Desk) -> None:
    desk = killable
    outage, refund = new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url)
        process = desk.start("run", "--once")
        desk.fake.kill = Kill(process.pid, "PUT", r"tickets/\d+\.json", needle='"comment"')
        process.communicate(timeout=180)
        assert process.returncode == -signal.SIGKILL
        assert sum(len(my_notes(t)) for t in (outage, refund)) == 1  # Zendesk has it; deskroute never heard
        resumed = desk.run("run", "--once")
        assert resumed.returncode == 0, resumed.stderr
    assert len(my_notes(outage)) == 1 and len(my_notes(refund)) == 1
    assert outage.tags.count("outage") == 1 and outage.group_id == desk.fake.group_id("Outages")
    store = desk.store()
    with store.session() as session:
        states = session.execute(sa.select(OutboxRow.state)).scalars().all()
    store.dispose()
    assert states and set(states) == {"applied"}


def test_connectors_check_reports_what_deskroute_needs_and_never_the_token(desk: Desk) -> None:
    with desk.fake.serve() as url:
        desk.configure(url)
        ready = desk.run("connectors", "check", "zendesk")
        assert ready.returncode == 0, ready.stdout + ready.stderr
        for line in ("ok   credentials: deskroute@support.example.com", "ok   role: admin", "ok   band field"):
            assert line in ready.stdout
        desk.env["ZD_TOKEN"] = "not-the-" + TOKEN
        refused = desk.run("connectors", "check", "zendesk")
    assert refused.returncode == 1 and "refused the credentials (401" in refused.stdout
    assert TOKEN not in refused.stdout + refused.stderr
