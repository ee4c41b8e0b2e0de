"""Four `deskroute worker` processes on one PostgreSQL backlog, one of them SIGKILLed mid-run and restarted:
every ticket gets one decision, every action reaches the actions file once, no job overlaps itself and no
worker's cycle fails on another's insert."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import REPO_ROOT, _fresh_pg_schema

TICKETS = 600
WORKERS = 4
POLICY = """
version: 1
name: rules-only
queues:
  Billing and Payments: {file: Billing and Payments}
  Technical Support: {file: Technical Support}
  General Inquiry: {file: General Inquiry}
  Triage: {file: Triage}
defaults:
  triage_queue: Triage
  route_by_intent: false
  queue: General Inquiry
rules:
  - name: billing
    when:
      ticket.subject: {matches: '(?i)invoice|charged'}
    then:
      - route: Billing and Payments
      - set_priority: high
  - name: outage
    when:
      ticket.subject: {matches: '(?i)outage|down'}
    then:
      - route: Technical Support
      - set_priority: urgent
      - add_tags: [outage]
"""
SUBJECTS = ["Invoice charged twice", "Portal down since 9am", "Question about my account", "Charged after cancel"]


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    yield from _fresh_pg_schema(postgres_url)


def helpdesk(folder: Path, mode: str = "auto", poll_seconds: float = 2.0) -> Path:
    """A file helpdesk with TICKETS open tickets and a deskroute.toml for it; returns the config's path."""
    rows = ["id,subject,body,queue,priority,language,requester"]
    for n in range(TICKETS):
        subject = SUBJECTS[n % len(SUBJECTS)]
        body = f"Ticket number {n}: {subject.lower()}."
        rows.append(f"K{n},{subject} ({n}),{body},General Inquiry,low,en,c{n % 50}@x.org")
    (folder / "tickets.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "policy.yaml").write_text(POLICY, encoding="utf-8")
    config = folder / "deskroute.toml"
    config.write_text(
        f'policy = "{folder / "policy.yaml"}"\n'
        "[connectors.helpdesk]\n"
        'type = "file"\n'
        f'mode = "{mode}"\n'
        f"poll_interval_seconds = {poll_seconds}\n"
        "page_size = 100\n"
        f'path = "{folder / "tickets.csv"}"\n'
        f'actions_path = "{folder / "actions.jsonl"}"\n',
        encoding="utf-8",
    )
    return config


def start_worker(folder: Path, config: Path, url: str, n: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DESKROUTE_DATABASE_URL": url,
        "DESKROUTE_DATA_DIR": str(folder / "data"),
        "DESKROUTE_CONFIG": str(config),
        "COLUMNS": "400",
    }
    log = (folder / f"worker{n}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "router.cli", "worker", "--idle-seconds", "0.2", *extra],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def scalar(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar() or 0)


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def job_intervals(logs: list[str], killed: tuple[str, float] | None) -> list[tuple[float, float, str]]:
    """(start, end, worker) of every sync job run in the logs; a run cut short by SIGKILL ends at the kill."""
    runs: list[tuple[float, float, str]] = []
    open_runs: dict[str, float] = {}
    for text in logs:
        for line in text.splitlines():
            fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
            event = fields.get("event")
            if event not in ("job_start", "job_done"):
                continue
            at = datetime.fromisoformat(line.split()[0]).timestamp()
            if event == "job_start":
                open_runs[fields["worker"]] = at
            else:
                runs.append((open_runs.pop(fields["worker"]), at, fields["worker"]))
    for worker, started in open_runs.items():
        assert killed is not None and worker.startswith(killed[0]), f"{worker} left a job running without dying"
        runs.append((started, killed[1], worker))
    return sorted(runs)


@pytest.mark.slow
def test_four_workers_one_killed_every_ticket_once_every_action_once(tmp_path: Path, pg_schema: str) -> None:
    config = helpdesk(tmp_path)
    engine = sa.create_engine(pg_schema)
    procs = [start_worker(tmp_path, config, pg_schema, n, "--lease-seconds", "3") for n in range(WORKERS)]
    killed: tuple[str, float] | None = None
    try:
        # The victim is a worker caught holding outbox leases: it dies with actions claimed and maybe written.
        wait_for(lambda: _has_table(engine) and _leaseholder(engine, procs) is not None, 60, "a worker mid-apply")
        victim = _leaseholder(engine, procs)
        assert victim is not None
        victim.send_signal(signal.SIGKILL)
        killed = (f"{os.uname().nodename}:{victim.pid}:", time.time())
        victim.wait(10)
        assert scalar(engine, "select count(*) from decisions") < TICKETS, "the backlog was done before the kill"
        orphaned = scalar(engine, f"select count(*) from outbox where lease_owner like '{killed[0]}%'")
        procs.append(start_worker(tmp_path, config, pg_schema, WORKERS, "--lease-seconds", "3"))

        def done() -> bool:
            decided = scalar(engine, "select count(distinct ticket_external_id) from decisions")
            waiting = scalar(engine, "select count(*) from outbox where state in ('pending', 'applying', 'failed')")
            return decided == TICKETS and waiting == 0

        wait_for(done, 90, "every ticket decided and every action applied")
    finally:
        survivors = [proc for proc in procs if killed is None or not killed[0].endswith(f":{proc.pid}:")]
        for proc in survivors:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in survivors]
    logs = [(tmp_path / f"worker{n}.log").read_text() for n in range(WORKERS + 1)]
    assert codes == [0] * WORKERS, logs
    for text in logs:
        assert "cycle_failed" not in text and "Traceback" not in text and "Error" not in text, text

    with engine.connect() as conn:
        per_ticket = conn.execute(sa.text("select ticket_external_id, count(*) from decisions group by 1")).all()
        outbox = conn.execute(sa.text("select idempotency_key, state from outbox")).all()
        runs = conn.execute(sa.text("select runs from scheduled_jobs where name = 'sync:helpdesk'")).scalar()
        live = conn.execute(sa.text("select count(*) from worker_heartbeats")).scalar()
    engine.dispose()
    assert len(per_ticket) == TICKETS and {count for _, count in per_ticket} == {1}
    assert outbox and {state for _, state in outbox} == {"applied"}
    written = [json.loads(line)["idempotency_key"] for line in (tmp_path / "actions.jsonl").read_text().splitlines()]
    assert len(written) == len(set(written)), "an action was written twice"
    assert set(written) == {key for key, _ in outbox}
    assert live == 1  # the killed worker's row stays (its heartbeat ages); the others signed off

    assert orphaned > 0  # the killed worker held leases; the others applied those actions (its pid is gone)
    victim_tag = killed[0] if killed else ""
    intervals = job_intervals(logs, killed)
    assert runs is not None and runs >= len([r for r in intervals if not r[2].startswith(victim_tag)])
    for (_, end, who), (start, _, other) in itertools.pairwise(intervals):
        assert end <= start, f"sync ran in {who} and {other} at once"


def _has_table(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("select to_regclass('decisions') is not null")).scalar())


def _leaseholder(engine: sa.Engine, procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes] | None:
    """A worker process that holds outbox leases right now (worker ids are host:pid:random)."""
    with engine.connect() as conn:
        owners = conn.execute(sa.text("select distinct lease_owner from outbox where lease_owner is not null")).all()
    pids = {int(owner.split(":")[1]) for (owner,) in owners}
    return next((proc for proc in procs if proc.pid in pids), None)
