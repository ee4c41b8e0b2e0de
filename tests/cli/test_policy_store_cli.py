"""Routing policies kept in the store, through the CLI: seeding, activate, history, rollback, show, and races."""

from __future__ import annotations

import getpass
import json
import os
import threading
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner, Result

from policies import load_policy
from router.cli import app
from router.store import Store
from router.store import policies as stored_policies
from router.store.tables import ActivePolicyRow, DecisionRow, PolicyActivationRow
from tests.cli.test_run_cli import STARTER, actions, setup_helpdesk

runner = CliRunner()
STARTER_VERSION = load_policy(STARTER).version
OUTAGE = "A1"


@pytest.fixture
def workspace(cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private folder with a file helpdesk in auto mode, on the parametrised database (SQLite, PostgreSQL)."""
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", database_url)
    setup_helpdesk(cli_env, mode="auto")
    return cli_env


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def history() -> dict:
    return json.loads(ok("policy", "history", "--json").stdout)


def changed_policy_text() -> str:
    """The starter with outages at high instead of urgent priority."""
    text = STARTER.read_text()
    changed = text.replace(
        "set_priority: urgent\n      - add_tags: [outage]", "set_priority: high\n      - add_tags: [outage]"
    )
    assert changed != text
    return changed


def changed_policy(folder: Path) -> Path:
    """The changed starter as a file, without tests beside it."""
    path = folder / "changed.yaml"
    path.write_text(changed_policy_text(), encoding="utf-8")
    return path


def decided(ticket: str) -> list[tuple[str, str | None]]:
    """(policy version, priority) of every decision recorded for a ticket, oldest first."""
    store = Store(os.environ["DESKROUTE_DATABASE_URL"])
    with store.session() as s:
        rows = s.exec(
            select(DecisionRow).where(DecisionRow.ticket_external_id == ticket).order_by(DecisionRow.id)  # type: ignore[arg-type]
        ).all()
    store.dispose()
    return [(r.policy_version, r.priority) for r in rows]


def priorities_written(folder: Path, ticket: str) -> list[str]:
    return [a["params"]["priority"] for a in actions(folder) if a["kind"] == "set_priority" and a["target"] == ticket]


def test_first_run_seeds_the_configured_policy_and_a_changed_file_changes_nothing(workspace: Path) -> None:
    assert history() == {"active": None, "versions": [], "activations": []}
    ok("run", "--once")
    seeded = history()
    assert seeded["active"] == STARTER_VERSION
    [version] = seeded["versions"]
    assert version["version"] == STARTER_VERSION and version["name"] == load_policy(STARTER).name
    assert version["added_by"] == getpass.getuser() and version["source"] == str(STARTER) and version["active"]
    [entry] = seeded["activations"]
    assert entry["action"] == "seed" and entry["version"] == STARTER_VERSION and entry["previous_version"] is None
    assert decided(OUTAGE) == [(STARTER_VERSION, "urgent")]
    # The configured file now names another policy: routing stays with the stored one until it is activated.
    changed = changed_policy(workspace)
    config = workspace / "deskroute.toml"
    config.write_text(config.read_text().replace(str(STARTER), str(changed)), encoding="utf-8")
    with (workspace / "tickets.csv").open("a", encoding="utf-8") as f:
        f.write("A4,Outage again,Everything is down.,General Inquiry,medium,en\n")
    ok("run", "--once")
    assert decided("A4") == [(STARTER_VERSION, "urgent")]
    assert history()["active"] == STARTER_VERSION and len(history()["versions"]) == 1


def test_activating_a_file_with_an_error_is_refused_with_its_location_and_nothing_is_stored(workspace: Path) -> None:
    bad = workspace / "bad.yaml"
    bad.write_text(STARTER.read_text().replace("  triage_queue:", "  triage_queu:", 1), encoding="utf-8")
    result = invoke("policy", "activate", str(bad), "--by", "alice")
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "triage_queu" in result.output
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "triage_queu:" in text)
    assert f"{bad}:{line}:" in result.output
    assert "nothing was stored or activated" in result.output
    # A valid policy whose tests fail is refused as well, with the failing test.
    failing = workspace / "failing.yaml"
    failing.write_text(changed_policy(workspace).read_text(), encoding="utf-8")
    (workspace / "failing.tests.yaml").write_text(STARTER.with_name("starter.tests.yaml").read_text(), "utf-8")
    result = invoke("policy", "activate", str(failing))
    assert result.exit_code == 1 and "FAIL" in result.output and "test(s) failed" in result.output
    assert history() == {"active": None, "versions": [], "activations": []}
    missing = invoke("policy", "activate", "no-such.yaml")
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_activate_by_file_then_by_version_prefix_and_history_says_who_and_when(workspace: Path) -> None:
    changed = changed_policy(workspace)
    changed_version = load_policy(changed).version
    first = ok("policy", "activate", str(STARTER), "--by", "alice")
    assert "activated" in first.output and STARTER_VERSION in first.output
    ok("policy", "activate", str(changed), "--by", "bob")
    again = ok("policy", "activate", STARTER_VERSION[:6], "--by", "carol")
    assert f"was {changed_version}" in again.output
    same = ok("policy", "activate", STARTER_VERSION[:8])
    assert "already the active one" in same.output
    found = history()
    assert found["active"] == STARTER_VERSION
    assert {(v["version"], v["added_by"]) for v in found["versions"]} == {
        (STARTER_VERSION, "alice"),
        (changed_version, "bob"),
    }
    assert [(a["version"], a["previous_version"], a["action"], a["activated_by"]) for a in found["activations"]] == [
        (STARTER_VERSION, None, "activate", "alice"),
        (changed_version, STARTER_VERSION, "activate", "bob"),
        (STARTER_VERSION, changed_version, "activate", "carol"),
    ]
    assert all(a["activated_at"].endswith("Z") for a in found["activations"])
    lines = ok("policy", "history").output.splitlines()
    assert any(line.startswith(f"* {STARTER_VERSION}") and "added by alice" in line for line in lines)
    assert any(line.startswith(f"  {changed_version}") and f"from {changed}" in line for line in lines)
    assert any(f"activate {STARTER_VERSION} (was {changed_version}) by carol" in line for line in lines)
    # The stored text is what a decision's version replays.
    shown = ok("policy", "show", changed_version[:5])
    assert shown.stdout == changed.read_text()
    assert ok("policy", "show").stdout == STARTER.read_text()
    for wrong, message in (("abc", "at least 4"), ("ffffffffff", "no stored policy version"), ("x[/]y", "hexadecimal")):
        result = invoke("policy", "show", wrong)
        assert result.exit_code == 1 and message in result.output, result.output


def test_rollback_switches_back_and_the_next_run_routes_with_it(workspace: Path) -> None:
    nothing = invoke("policy", "rollback")
    assert nothing.exit_code == 1 and "nothing to roll back" in nothing.output
    ok("policy", "activate", str(STARTER))
    only = invoke("policy", "rollback")
    assert only.exit_code == 1 and "no earlier version" in only.output
    changed = changed_policy(workspace)
    changed_version = load_policy(changed).version
    ok("policy", "activate", str(changed), "--by", "bob")
    ok("run", "--once")
    assert decided(OUTAGE) == [(changed_version, "high")]
    rolled = ok("policy", "rollback", "--by", "alice")
    assert STARTER_VERSION in rolled.output and f"was {changed_version}" in rolled.output
    with (workspace / "tickets.csv").open("a", encoding="utf-8") as f:
        f.write("A4,Outage again,Everything is down.,General Inquiry,medium,en\n")
    ok("run", "--once")
    assert decided("A4") == [(STARTER_VERSION, "urgent")]
    assert priorities_written(workspace, "A4") == ["urgent"]
    found = history()
    assert found["active"] == STARTER_VERSION
    assert found["activations"][-1] | {"activated_at": None} == {
        "version": STARTER_VERSION,
        "previous_version": changed_version,
        "action": "rollback",
        "activated_by": "alice",
        "activated_at": None,
    }
    # A second rollback undoes the first.
    ok("policy", "rollback")
    assert history()["active"] == changed_version


def test_run_with_a_policy_file_routes_with_it_and_leaves_the_active_version(workspace: Path) -> None:
    ok("policy", "activate", str(STARTER))
    changed = changed_policy(workspace)
    changed_version = load_policy(changed).version
    ok("run", "--once", "--policy", str(changed))
    assert decided(OUTAGE) == [(changed_version, "high")]
    found = history()
    assert found["active"] == STARTER_VERSION and len(found["activations"]) == 1
    # Stored, though not active, so the decisions it made can be replayed from their version.
    assert changed_version in {v["version"] for v in found["versions"]}
    assert ok("policy", "show", changed_version).stdout == changed.read_text()


def test_no_policy_configured_or_stored_is_a_clear_error(workspace: Path) -> None:
    config = workspace / "deskroute.toml"
    config.write_text(config.read_text().replace(f'policy = "{STARTER}"\n', ""), encoding="utf-8")
    result = invoke("run", "--once")
    assert result.exit_code == 1 and "no routing policy" in result.output and "policy activate" in result.output
    ok("policy", "activate", str(STARTER))
    ok("run", "--once")
    assert decided(OUTAGE) == [(STARTER_VERSION, "urgent")]


def test_by_must_be_a_printable_name(workspace: Path) -> None:
    for name, message in (("", "empty"), ("a\x1b[2Jb", "control characters"), ("x" * 300, "at most 255")):
        result = invoke("policy", "activate", str(STARTER), "--by", name)
        assert result.exit_code == 1 and message in result.output, result.output
    assert history()["versions"] == []


def test_activations_racing_are_serialised(database_url: str) -> None:
    """Two processes' worth of connections activating versions at once: one active, and a log without gaps."""
    texts = [STARTER.read_text(), changed_policy_text()]
    setup = Store(database_url)
    with setup.session() as s:
        versions = [stored_policies.store_policy(s, text, "race", "setup").version for text in texts]
        s.commit()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def activate_many(worker: int) -> None:
        store = Store(database_url)  # its own engine and connections, as another process would have
        try:
            start.wait()
            for i in range(15):
                with store.session() as s:
                    # One worker activates stored versions, the other stores and activates texts, as
                    # `policy activate VERSION` and `policy activate FILE` do.
                    if worker == 0:
                        stored_policies.activate(s, versions[i % 2], "worker-0")
                    else:
                        stored_policies.activate_text(s, texts[(i + 1) % 2], "race", "worker-1")
                    s.commit()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=activate_many, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with setup.session() as s:
        [pointer] = s.exec(select(ActivePolicyRow)).all()
        log = s.exec(select(PolicyActivationRow).order_by(PolicyActivationRow.id)).all()  # type: ignore[arg-type]
    setup.dispose()
    assert log and pointer.version == log[-1].version and pointer.activation_id == log[-1].id
    # Every change saw the one before it: no two activations decided on the same previous version.
    previous = None
    for entry in log:
        assert entry.previous_version == previous and entry.version != previous
        previous = entry.version


def test_a_stored_version_read_as_another_is_stored_under_the_new_one_too(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a newer policy language hashes the active text differently, its decisions can still be looked up."""
    from policies.routing_policy import RoutingPolicy

    ok("policy", "activate", str(STARTER))
    original = RoutingPolicy.content_hash
    monkeypatch.setattr(RoutingPolicy, "content_hash", lambda self: "0123" + original(self)[4:])
    ok("run", "--once")
    [(version, _)] = decided(OUTAGE)
    assert version == "0123" + STARTER_VERSION[4:]
    found = history()
    assert found["active"] == STARTER_VERSION
    assert ok("policy", "show", version).stdout == STARTER.read_text()


def test_two_first_uses_at_once_seed_the_configured_file_once(database_url: str) -> None:
    Store(database_url).dispose()  # the schema, before the race
    start = threading.Barrier(3)
    seen: list[str] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        store = Store(database_url)
        try:
            start.wait()
            with store.session() as s:
                seen.append(stored_policies.routing_policy(s, STARTER, "worker").version)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=first_use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert seen == [STARTER_VERSION] * 3
    store = Store(database_url)
    with store.session() as s:
        found = stored_policies.history(s)
    store.dispose()
    assert found.active == STARTER_VERSION
    assert [(a.action, a.version) for a in found.activations] == [("seed", STARTER_VERSION)]
