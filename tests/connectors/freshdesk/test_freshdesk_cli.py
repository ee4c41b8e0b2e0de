"""The whole loop against the fake Freshdesk, driven as a user drives it: ``deskroute sync`` and ``deskroute run
--once`` processes with a deskroute.toml naming a freshdesk connector.

Auto mode routes, prioritises, tags and notes new tickets, and a second run writes nothing; suggest mode writes
only tags and a private note; shadow mode writes nothing; a ticket a person re-routed is left alone and the
correction recorded. A sync SIGKILLed mid-pull and a run SIGKILLed after Freshdesk took a note (before deskroute
heard of it) end, once restarted, with every ticket stored once and every action applied once, on SQLite and on
PostgreSQL.
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
from tests.connectors.freshdesk.fake_freshdesk import API_KEY, T0, FakeFreshdesk

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
    "Outages",
    "General",
)


@dataclass
class Desk(DeskrouteProcesses):
    fake: FakeFreshdesk = field(default_factory=FakeFreshdesk)

    def configure(self, url: str, *, mode: str = "auto", page_size: int = 100) -> None:
        (self.folder / "deskroute.toml").write_text(
            f'policy = "{STARTER}"\n'
            "[connectors.freshdesk]\n"
            'type = "freshdesk"\n'
            f'mode = "{mode}"\n'
            f'base_url = "{url}"\n'
            'token_env = "FD_KEY"\n'
            f"page_size = {page_size}\n"
            'queue_map = {"Service Outages and Maintenance" = "Outages", "General Inquiry" = "General"}\n',
            encoding="utf-8",
        )


def make_desk(folder: Path, database_url: str, entry_points: Path | None) -> Desk:
    fake = FakeFreshdesk(now=T0 + timedelta(hours=1))
    for team in TEAMS:
        fake.add_group(team)
    env = process_env(folder, database_url, entry_points, {"FD_KEY": API_KEY})
    return Desk(folder, env, database_url, fake)


@pytest.fixture
def desk(tmp_path: Path, sqlite_url: str, freshdesk_registered: Path | None) -> Iterator[Desk]:
    yield make_desk(tmp_path, sqlite_url, freshdesk_registered)


def new_tickets(fake: FakeFreshdesk) -> tuple[int, int]:
    outage = fake.add_ticket("Checkout is down for every customer", at=T0)
    refund = fake.add_ticket(
        "Refund for invoice 4411: I returned the order two weeks ago", at=T0 + timedelta(minutes=1)
    )
    return outage, refund


def decisions(desk: Desk) -> int:
    store = desk.store()
    with store.session() as session:
        found = count(session, DecisionRow)
    store.dispose()
    return found


def corrections(desk: Desk) -> list[FeedbackRow]:
    store = desk.store()
    with store.session() as session:
        rows = list(session.execute(sa.select(FeedbackRow)).scalars().all())
        session.expunge_all()
    store.dispose()
    return rows


def test_auto_mode_routes_prioritises_tags_and_notes_once(desk: Desk) -> None:
    outage, refund = new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url)
        first = desk.run("run", "--once")
        assert first.returncode == 0, first.stderr
        ticket = desk.fake.tickets[outage]
        assert ticket["group_id"] == desk.fake.group_id("Outages") and ticket["priority"] == 4
        assert desk.fake.tickets[refund]["group_id"] == desk.fake.group_id("Billing and Payments")
        assert len(desk.fake.notes_of(outage)) == 1 and "outage" in ticket["tags"]
        writes, decided = len(desk.fake.writes), decisions(desk)
        again = desk.run("run", "--once")
        assert again.returncode == 0, again.stderr
    assert len(desk.fake.writes) == writes and decisions(desk) == decided


def test_suggest_mode_writes_only_tags_and_a_private_note(desk: Desk) -> None:
    outage, _ = new_tickets(desk.fake)
    group = desk.fake.tickets[outage]["group_id"]
    with desk.fake.serve() as url:
        desk.configure(url, mode="suggest")
        result = desk.run("run", "--once")
    assert result.returncode == 0, result.stderr
    kinds = {(method, tuple(sorted(fields))) for method, _, fields in desk.fake.writes}
    assert kinds and kinds <= {("PUT", ("tags",)), ("POST note", ("body", "private"))}
    assert desk.fake.tickets[outage]["group_id"] == group and len(desk.fake.notes_of(outage)) == 1


def test_shadow_mode_decides_and_writes_nothing(desk: Desk) -> None:
    new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url, mode="shadow")
        result = desk.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert desk.fake.writes == [] and decisions(desk) == 2


def test_a_ticket_a_person_rerouted_is_left_alone_and_the_correction_recorded(desk: Desk) -> None:
    outage, _ = new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url)
        assert desk.run("run", "--once").returncode == 0
        desk.fake.person_changes(outage, group_id=desk.fake.group_id("Technical Support"))
        writes = len(desk.fake.writes)
        result = desk.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(desk.fake.writes) == writes
    assert desk.fake.tickets[outage]["group_id"] == desk.fake.group_id("Technical Support")
    [feedback] = corrections(desk)
    assert feedback.ticket_external_id == str(outage) and feedback.corrected == "Technical Support"


@pytest.fixture
def killable(tmp_path: Path, database_url: str, freshdesk_registered: Path | None) -> Iterator[Desk]:
    yield make_desk(tmp_path, database_url, freshdesk_registered)


@pytest.mark.slow
def test_a_sync_killed_mid_pull_resumes_with_every_ticket_once(killable: Desk) -> None:
    desk = killable
    for n in range(7):
        desk.fake.add_ticket(f"ticket {n}", at=T0 + timedelta(seconds=n // 2))  # pairs share a second
    with desk.fake.serve() as url:
        desk.configure(url, page_size=2)
        process = desk.start("sync", "freshdesk")
        # Requests: the first pair; their second again (all seen: page 2); the second pair; then killed while
        # asking from the second pair's second.
        desk.fake.kill = Kill(process.pid, "GET", r"^/api/v2/tickets$", nth=4)
        process.communicate(timeout=180)
        assert process.returncode == -signal.SIGKILL
        store = desk.store()
        with store.session() as session:
            assert count(session, TicketRow) == 4  # two pairs committed with their cursor
        resumed = desk.run("sync", "freshdesk")
        assert resumed.returncode == 0, resumed.stderr
        assert "freshdesk: 3 tickets" in resumed.stdout  # from the committed cursor on, not from the start
        with store.session() as session:
            rows = session.execute(sa.select(TicketRow.external_id).where(TicketRow.source == "freshdesk")).scalars()
            stored = sorted(rows.all())
            cursor = get_cursor(session, "freshdesk")
        store.dispose()
    assert stored == sorted(str(t) for t in desk.fake.tickets)
    assert cursor is not None and cursor["tickets"]["since"] == "2026-06-01T09:00:03Z"


@pytest.mark.slow
def test_a_run_killed_after_freshdesk_took_a_note_applies_every_action_once(killable: Desk) -> None:
    desk = killable
    outage, refund = new_tickets(desk.fake)
    with desk.fake.serve() as url:
        desk.configure(url)
        process = desk.start("run", "--once")
        desk.fake.kill = Kill(process.pid, "POST", r"/notes$")
        process.communicate(timeout=180)
        assert process.returncode == -signal.SIGKILL
        assert sum(len(desk.fake.notes_of(t)) for t in (outage, refund)) == 1  # Freshdesk has it; deskroute never heard
        resumed = desk.run("run", "--once")
        assert resumed.returncode == 0, resumed.stderr
    assert len(desk.fake.notes_of(outage)) == 1 and len(desk.fake.notes_of(refund)) == 1
    assert desk.fake.tickets[outage]["tags"].count("outage") == 1
    store = desk.store()
    with store.session() as session:
        states = session.execute(sa.select(OutboxRow.state)).scalars().all()
    store.dispose()
    assert states and set(states) == {"applied"}


def test_connectors_check_reports_what_deskroute_needs_and_never_the_key(desk: Desk) -> None:
    with desk.fake.serve() as url:
        desk.configure(url)
        ready = desk.run("connectors", "check", "freshdesk")
        assert ready.returncode == 0, ready.stdout + ready.stderr
        for line in ("ok   credentials: deskroute@support.example.com", "ok   ticket access: global", "ok   mailbox"):
            assert line in ready.stdout
        desk.env["FD_KEY"] = "not-the-" + API_KEY
        refused = desk.run("connectors", "check", "freshdesk")
    assert refused.returncode == 1 and "refused the credentials (401" in refused.stdout
    assert API_KEY not in refused.stdout + refused.stderr
