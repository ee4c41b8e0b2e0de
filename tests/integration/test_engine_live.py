"""The whole loop against the live RT, driven through the CLI: sync -> signals -> policy -> outbox -> RT.

Scenarios (each in its own queues, see :mod:`tests.integration.helpdesk_team`):
- ``deskroute run --once`` re-queues, prioritises, tags and comments new tickets as the starter policy says;
- a second run changes nothing in RT and records no decision;
- a ticket an agent re-queued is left alone and the correction is recorded;
- a run killed (SIGKILL) after deciding and before applying, and one killed after RT took a comment but
  before deskroute recorded it, end, once restarted, with every action applied exactly once (SQLite and
  PostgreSQL);
- ``deskroute pause`` stops every write while decisions are still recorded; ``deskroute resume`` lets them
  out, except onto a ticket a person routed by hand meanwhile.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from connectors import Action
from router.cli import app
from router.store import Store
from router.store.tables import DecisionRow, FeedbackRow, OutboxRow
from tests.conftest import REPO_ROOT
from tests.integration.conftest import RUN, RTAdmin
from tests.integration.helpdesk_team import (
    AGENT_RIGHTS,
    DESKROUTE_RIGHTS,
    Helpdesk,
    RTUser,
    build_helpdesk,
    create_user,
    deskroute_env,
    disable_user,
    queue_name,
    tags_of,
    transactions,
    write_deskroute_config,
    write_policy,
)

pytestmark = pytest.mark.integration

runner = CliRunner()

OUTAGE = {"Subject": "Checkout is down for every customer", "Content": "Since 9:00 nobody can pay in the shop."}
REFUND = {"Subject": "Refund for invoice 4411", "Content": "I returned the order two weeks ago."}
QUESTION = {"Subject": "Do you ship to Norway?", "Content": "And how long does it take?"}
CHARGED = {"Subject": "Charged twice this month", "Content": "Two identical debits on my card."}


@dataclass(frozen=True)
class People:
    deskroute: RTUser
    bob: RTUser


@pytest.fixture(scope="module")
def people(rt: RTAdmin) -> Iterator[People]:
    """deskroute's own RT account and an agent, both created for this run and disabled after it."""
    team = People(
        deskroute=create_user(rt, f"deskroute-{RUN}", DESKROUTE_RIGHTS),
        bob=create_user(rt, f"agent-bob-{RUN}", AGENT_RIGHTS),
    )
    yield team
    disable_user(rt, team.deskroute)
    disable_user(rt, team.bob)


@dataclass
class Scenario:
    """One scenario's helpdesk, store and configuration, and how to run deskroute's CLI in it."""

    rt: RTAdmin
    people: People
    helpdesk: Helpdesk
    folder: Path
    database_url: str
    config: Path

    @property
    def env(self) -> dict[str, str | None]:
        return deskroute_env(self.people.deskroute, self.database_url, self.folder)

    def cli(self, *args: str) -> Result:
        result = runner.invoke(app, [*args, "--config", str(self.config)], env=self.env)
        assert result.exit_code == 0, f"deskroute {' '.join(args)}: {result.output}"
        return result

    def run_once(self) -> Result:
        return self.cli("run", "--once", "--connector", "rt")

    def create(self, customer: str, **fields: Any) -> str:
        (ticket,) = self.rt.create(self.helpdesk.inbox, Requestor=f"{RUN}-{customer}@example.com", **fields)
        return ticket

    def store(self) -> Store:
        return Store(self.database_url)

    def count(self, table: type[Any]) -> int:
        store = self.store()
        try:
            with store.session() as session:
                return int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        finally:
            store.dispose()

    def outbox(self) -> list[OutboxRow]:
        store = self.store()
        try:
            with store.session() as session:
                return list(session.execute(sa.select(OutboxRow).order_by(OutboxRow.id)).scalars())  # type: ignore[arg-type]
        finally:
            store.dispose()

    def history_sizes(self, tickets: list[str]) -> dict[str, int]:
        return {t: self.rt.history_size(t) for t in tickets}


def make_scenario(rt: RTAdmin, people: People, folder: Path, name: str, database_url: str | None = None) -> Scenario:
    helpdesk = build_helpdesk(rt, name)
    url = database_url or f"sqlite:///{folder / 'deskroute.db'}"
    policy = write_policy(folder, helpdesk)
    return Scenario(rt, people, helpdesk, folder, url, write_deskroute_config(folder, helpdesk, policy, url))


def by_deskroute(scenario: Scenario, ticket: str) -> list[dict[str, Any]]:
    return [t for t in transactions(scenario.rt, ticket) if t["Creator"] == scenario.people.deskroute.name]


def marker_count(rt: RTAdmin, ticket: str, marker: str) -> int:
    return sum(text.count(marker) for text in rt.texts(ticket))


def assert_each_action_applied_once(scenario: Scenario, tickets: list[str]) -> None:
    """Every outbox action is applied, visible in RT, and RT holds exactly one change of deskroute's for it."""
    rows = [r for r in scenario.outbox() if r.target in tickets]
    assert rows and all(r.state == "applied" for r in rows), [(r.kind, r.state, r.last_error) for r in rows]
    for ticket in tickets:
        mine = [r for r in rows if r.target == ticket]
        changes = Counter(
            "route" if t["Field"] == "Queue"
            else "set_priority" if t["Field"] == "Priority"
            else "add_tags" if t["Type"] == "CustomField"
            else "add_note" if t["Type"] == "Comment"
            else f"{t['Type']} {t['Field']}"
            for t in by_deskroute(scenario, ticket)
        )  # fmt: skip
        # RT records one custom-field transaction per tag added.
        wanted = Counter(r.kind for r in mine for _ in (r.action["params"]["tags"] if r.kind == "add_tags" else [r]))
        assert changes == wanted, (ticket, changes, wanted)
        for row in mine:
            if row.kind == "add_note":
                marker = Action.model_validate(row.action).marker()
                assert marker_count(scenario.rt, ticket, marker) == 1, (ticket, row.action)


# -- a first run, a second run and an agent's correction ----------------------------------------------------


@dataclass
class Routed:
    scenario: Scenario
    tickets: dict[str, str]  # outage, refund, question, charged -> RT id
    first_run: Result


@pytest.fixture(scope="module")
def routed(rt: RTAdmin, people: People, tmp_path_factory: pytest.TempPathFactory) -> Routed:
    """Four new tickets in the inbox, then one ``deskroute run --once`` in auto mode."""
    scenario = make_scenario(rt, people, tmp_path_factory.mktemp("routed"), "routed")
    tickets = {
        "outage": scenario.create("ann", **OUTAGE),
        "refund": scenario.create("ben", **REFUND),
        "question": scenario.create("cat", **QUESTION),
        "charged": scenario.create("dan", **CHARGED),
    }
    return Routed(scenario, tickets, scenario.run_once())


def test_run_once_routes_prioritises_and_tags_new_tickets_by_the_example_policy(routed: Routed) -> None:
    scenario, rt, ids = routed.scenario, routed.scenario.rt, routed.tickets
    helpdesk = scenario.helpdesk
    assert scenario.count(DecisionRow) == 4
    tickets = {name: rt.ticket(ticket) for name, ticket in ids.items()}

    outage = tickets["outage"]
    assert queue_name(rt, outage) == helpdesk.queue("Service Outages and Maintenance")
    assert outage["Priority"] == "100"  # urgent: the top of RT's default scale (Low 0, Medium 50, High 100)
    assert tags_of(outage) == {"outage"}

    for name in ("refund", "charged"):
        assert queue_name(rt, tickets[name]) == helpdesk.queue("Billing and Payments"), name
        assert tags_of(tickets[name]) == {"billing"}, name
        assert tickets[name]["Priority"] == "0", name  # the policy sets no priority for billing

    question = tickets["question"]
    assert queue_name(rt, question) == helpdesk.queue("General Inquiry")  # no rule, no model: the default
    assert tags_of(question) == set()

    # one internal note each, saying where the ticket went and which rule sent it
    assert_each_action_applied_once(scenario, list(ids.values()))
    notes = {name: [t for t in rt.texts(ticket) if "deskroute:" in t] for name, ticket in ids.items()}
    assert all(len(found) == 1 for found in notes.values()), notes
    assert "routed to Service Outages and Maintenance" in notes["outage"][0]
    assert "priority set to urgent" in notes["outage"][0] and "outage-escalation" in notes["outage"][0]
    assert "routed to Billing and Payments" in notes["refund"][0] and "billing" in notes["refund"][0]
    assert "decided new: 4" in routed.first_run.stdout


def test_a_second_run_changes_nothing_in_rt_and_records_no_decision(routed: Routed) -> None:
    scenario = routed.scenario
    untouched = [routed.tickets[n] for n in ("outage", "refund", "question")]
    before = scenario.history_sizes(untouched)
    decisions, outbox = scenario.count(DecisionRow), len(scenario.outbox())

    again = scenario.run_once()

    assert scenario.history_sizes(untouched) == before
    assert scenario.count(DecisionRow) == decisions and len(scenario.outbox()) == outbox
    assert "decided new" not in again.stdout and "decided reply" not in again.stdout


def test_a_ticket_an_agent_requeued_is_left_alone_and_the_correction_recorded(routed: Routed) -> None:
    scenario, rt = routed.scenario, routed.scenario.rt
    ticket = routed.tickets["charged"]
    billing = scenario.helpdesk.queue("Billing and Payments")
    returns = scenario.helpdesk.queue("Returns and Exchanges")
    decisions = scenario.count(DecisionRow)

    # agent-bob, not deskroute, moves the ticket: in RT the change is his.
    with scenario.people.bob.client() as bob:
        moved = bob.put(f"/REST/2.0/ticket/{ticket}", json={"Queue": returns})
        assert moved.status_code == 200 and "Queue changed" in moved.text, moved.text
    assert transactions(rt, ticket)[-1]["Creator"] == scenario.people.bob.name
    size = rt.history_size(ticket)

    scenario.run_once()
    scenario.run_once()  # and it stays his on every later run

    assert rt.history_size(ticket) == size
    assert queue_name(rt, rt.ticket(ticket)) == returns
    assert scenario.count(DecisionRow) == decisions
    store = scenario.store()
    with store.session() as session:
        feedback = list(session.execute(sa.select(FeedbackRow)).scalars())
    store.dispose()
    assert [(f.ticket_external_id, f.field, f.predicted, f.corrected, f.corrected_by) for f in feedback] == [
        (ticket, "queue", billing, returns, scenario.people.bob.name)
    ]
    shown = scenario.cli("decisions", "show", ticket).stdout
    assert f"correction by {scenario.people.bob.name}: queue {billing} -> {returns}" in " ".join(shown.split())


# -- pause and resume ---------------------------------------------------------------------------------------


def test_pause_stops_every_write_but_not_the_decisions_and_resume_lets_them_out(
    rt: RTAdmin, people: People, tmp_path: Path
) -> None:
    scenario = make_scenario(rt, people, tmp_path, "paused")
    outage, refund, charged = (
        scenario.create("eve", **OUTAGE),
        scenario.create("fay", **REFUND),
        scenario.create("gil", **CHARGED),
    )
    tickets = [outage, refund, charged]
    before = scenario.history_sizes(tickets)

    scenario.cli("pause", "--reason", "RT maintenance")
    paused = scenario.run_once()

    assert "PAUSED" in paused.stdout
    assert scenario.count(DecisionRow) == 3
    rows = scenario.outbox()
    assert len(rows) == 10 and {r.state for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}
    assert scenario.history_sizes(tickets) == before  # not one write reached RT

    # While deskroute waits, an agent routes one ticket by hand: deskroute's queued writes must not undo it.
    returns = scenario.helpdesk.queue("Returns and Exchanges")
    with scenario.people.bob.client() as bob:
        moved = bob.put(f"/REST/2.0/ticket/{charged}", json={"Queue": returns})
        assert moved.status_code == 200 and "Queue changed" in moved.text, moved.text
    by_hand = rt.history_size(charged)

    scenario.cli("resume")
    resumed = scenario.run_once()

    assert "PAUSED" not in resumed.stdout
    assert scenario.count(DecisionRow) == 3  # the decisions made while paused are the ones applied
    assert_each_action_applied_once(scenario, [outage, refund])
    assert queue_name(rt, rt.ticket(outage)) == scenario.helpdesk.queue("Service Outages and Maintenance")
    assert queue_name(rt, rt.ticket(charged)) == returns and rt.history_size(charged) == by_hand
    assert {r.state for r in scenario.outbox() if r.target == charged} == {"skipped"}
    assert "correction by" in " ".join(scenario.cli("decisions", "show", charged).stdout.split())


# -- killed between deciding and applying ------------------------------------------------------------------

# A `deskroute run --once` that kills itself (SIGKILL: no cleanup, no rollback code of ours runs) at one point:
# `decided`: after the decisions and their outbox rows are committed, before any action is applied;
# `answered:KIND`: right after RT took the first write of that kind, before deskroute recorded the answer.
RUN_THAT_DIES = """
import os, signal, sys

config, point = sys.argv[1], sys.argv[2]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "decided":
    import router.loop.cycle

    def drain(*args, **kwargs):
        die()

    router.loop.cycle.drain = drain
else:
    from connectors.rt import RTConnector

    kind = point.split(":", 1)[1]
    real_apply = RTConnector.apply

    def apply(self, action):
        result = real_apply(self, action)
        if action.kind == kind and result.status == "applied":
            die()
        return result

    RTConnector.apply = apply

from router.cli import app
app(["run", "--once", "--connector", "rt", "--config", config], prog_name="deskroute")
"""


def run_until_killed(scenario: Scenario, point: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for key, value in scenario.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    done = subprocess.run(
        [sys.executable, "-c", RUN_THAT_DIES, str(scenario.config), point],
        cwd=scenario.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, f"{point}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_a_run_killed_between_deciding_and_applying_applies_each_action_exactly_once_after_restart(
    rt: RTAdmin, people: People, tmp_path: Path, database_url: str
) -> None:
    scenario = make_scenario(rt, people, tmp_path, f"kill-{database_url.split(':')[0]}", database_url)
    outage, refund = scenario.create("gus", **OUTAGE), scenario.create("hal", **REFUND)
    tickets = [outage, refund]
    untouched = scenario.history_sizes(tickets)

    run_until_killed(scenario, "decided")
    rows = scenario.outbox()
    assert [r.kind for r in rows] == [
        "route", "set_priority", "add_tags", "add_note", "route", "add_tags", "add_note"
    ]  # fmt: skip
    assert {r.state for r in rows} == {"pending"}
    assert scenario.history_sizes(tickets) == untouched

    # Restarted, and killed again the moment RT has taken the first comment (the agents' note), before
    # deskroute recorded it: a write RT would repeat if asked twice. The field writes before it were recorded.
    run_until_killed(scenario, "answered:add_note")
    states = [r.state for r in scenario.outbox()]
    assert states[:5] == ["applied", "applied", "applied", "applying", "pending"], states
    assert queue_name(rt, rt.ticket(outage)) == scenario.helpdesk.queue("Service Outages and Maintenance")
    assert len([t for t in by_deskroute(scenario, outage) if t["Type"] == "Comment"]) == 1

    scenario.run_once()

    assert scenario.count(DecisionRow) == 2  # one decision per ticket across three processes
    assert_each_action_applied_once(scenario, tickets)
    assert [r.attempts for r in scenario.outbox()] == [1, 1, 1, 2, 1, 1, 1]  # the note was asked twice
    sizes = scenario.history_sizes(tickets)
    scenario.run_once()
    assert scenario.history_sizes(tickets) == sizes and scenario.count(DecisionRow) == 2
