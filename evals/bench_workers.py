"""How much faster two workers work off a backlog than one: tickets/s for 1 and 2 `deskroute worker`
processes on the same backlog of queued tickets, on PostgreSQL.

The helpdesk is the file connector in shadow mode with a rules-only policy, so what is measured is deskroute's
own work per ticket (triage, decide, record, the outbox) and how well workers share it, not a helpdesk's write
speed. The backlog is pulled into a throw-away schema once; each timed run sets every ticket waiting again (its
decisions and outbox rows removed) while the workers, already started and idle, watch for work, and ends when
every ticket has its decision and every outbox row is done. Process start-up is therefore not timed.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import router
from router.config import driver_url, load_settings
from router.loop.sync import sync
from router.runtime import Runtime
from router.store import Store, StoreError
from router.store.database import describe_url
from router.store.heartbeats import live_workers

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONNECTOR = "helpdesk"
POLICY = """
version: 1
name: bench-rules-only
queues:
  Billing and Payments: {file: Billing and Payments}
  Technical Support: {file: Technical Support}
  Returns and Exchanges: {file: Returns and Exchanges}
  General Inquiry: {file: General Inquiry}
  Triage: {file: Triage}
defaults:
  triage_queue: Triage
  route_by_intent: false
  queue: General Inquiry
rules:
  - name: billing
    when:
      ticket.subject: {matches: '(?i)invoice|refund|charged'}
    then:
      - route: Billing and Payments
      - add_tags: [billing]
  - name: outage
    when:
      ticket.subject: {matches: '(?i)outage|down|unreachable'}
    then:
      - route: Technical Support
      - set_priority: urgent
  - name: returns
    when:
      ticket.body: {matches: '(?i)return|exchange'}
    then:
      - route: Returns and Exchanges
"""
SUBJECTS = (
    ("Invoice charged twice", "My card was charged twice for the same invoice so please refund one."),
    ("Portal down since 9am", "Nothing loads and the dashboard has been unreachable all morning."),
    ("Wrong size delivered", "I would like to return the shoes and exchange them for a larger size."),
    ("How do I export my data?", "Is there a way to download all my reports as a spreadsheet?"),
)


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message says what to do."""


@dataclass(frozen=True)
class WorkerBenchConfig:
    database_url: str = DEFAULT_DATABASE_URL
    tickets: int = 1000
    repeats: int = 3
    workers: Sequence[int] = (1, 2)
    timeout: float = 600.0  # seconds one timed run may take before the benchmark gives up


@dataclass
class WorkerBenchResult:
    tickets: int
    repeats: int
    database: str
    runs: dict[int, list[float]] = field(default_factory=dict)  # workers -> tickets/s of each repeat

    def median(self, workers: int) -> float:
        return statistics.median(self.runs[workers])

    @property
    def ratio(self) -> float | None:
        """The 2-worker/1-worker ratio of median tickets/s."""
        if 1 in self.runs and 2 in self.runs and self.median(1) > 0:
            return self.median(2) / self.median(1)
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "repeats": self.repeats,
            "database": self.database,
            "cpu_count": os.cpu_count(),
            "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "tickets_per_second": {str(n): {"runs": runs, "median": self.median(n)} for n, runs in self.runs.items()},
            "ratio_2_to_1": self.ratio,
        }


def _write_helpdesk(folder: Path, tickets: int) -> Path:
    """The backlog's tickets file, the rules-only policy and a deskroute.toml for them; returns the config."""
    rows = ["id,subject,body,queue,priority,language,requester"]
    for n in range(tickets):
        subject, body = SUBJECTS[n % len(SUBJECTS)]
        rows.append(f"B{n},{subject} (#{n}),{body},General Inquiry,low,en,customer{n % 200}@example.org")
    (folder / "tickets.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "policy.yaml").write_text(POLICY, encoding="utf-8")
    config = folder / "deskroute.toml"
    config.write_text(
        f'policy = "{folder / "policy.yaml"}"\n'
        f"[connectors.{CONNECTOR}]\n"
        'type = "file"\n'
        'mode = "shadow"\n'
        "poll_interval_seconds = 86400\n"  # the backlog is pulled once, before the timing; no sync competes
        "page_size = 500\n"
        f'path = "{folder / "tickets.csv"}"\n'
        f'actions_path = "{folder / "actions.jsonl"}"\n',
        encoding="utf-8",
    )
    return config


@contextmanager
def _throwaway_schema(url: str) -> Iterator[str]:
    """A schema of its own in the database at ``url``, dropped afterwards; yields a URL whose search path is it."""
    try:
        parsed = sa.make_url(url)
    except ValueError:  # the text would quote the URL, password included
        raise BenchError(
            "--database-url is not a valid URL; percent-encode special characters of the password (@ as %40)"
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise BenchError(f"--database-url {describe_url(url)}: workers share a PostgreSQL database; name one")
    schema = f"bench_workers_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(parsed)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise BenchError(f"cannot create a schema in {describe_url(url)}: {detail}. Check --database-url") from None
    try:
        yield parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


def _queue_again(engine: sa.Engine) -> None:
    """Every ticket waiting for a decision again, as before the first run: decisions and outbox removed."""
    with engine.begin() as conn:
        conn.execute(sa.text("delete from outbox"))
        conn.execute(sa.text("delete from feedback"))
        conn.execute(sa.text("delete from decisions"))
        conn.execute(sa.text("update tickets set triage_pending = true"))


def _done(engine: sa.Engine, tickets: int) -> bool:
    """Every ticket decided and triaged, and nothing left in the outbox to do (one query: the poll is cheap)."""
    query = sa.text(
        "select (select count(*) from decisions), (select count(*) from tickets where triage_pending),"
        " (select count(*) from outbox where state in ('pending', 'applying', 'failed'))"
    )
    with engine.connect() as conn:
        decided, pending, waiting = conn.execute(query).one()
    return decided == tickets and pending == 0 and waiting == 0


def _start_workers(n: int, folder: Path, config: Path, url: str) -> list[subprocess.Popen[bytes]]:
    # The workers run this very deskroute, wherever it was imported from (a checkout, not only an install).
    here = str(Path(router.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
        "DESKROUTE_DATABASE_URL": url,
        "DESKROUTE_DATA_DIR": str(folder / "data"),  # no trained models there: the policy's rules alone act
        "DESKROUTE_CONFIG": str(config),
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "router.cli", "worker", "--idle-seconds", "0.05"],
            cwd=folder,
            env=env,
            stdout=(folder / f"worker-{n}-{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(n)
    ]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(condition: Callable[[], bool], timeout: float, what: str, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [proc for proc in procs if proc.poll() is not None]
        if dead:
            raise BenchError(f"a worker exited (status {dead[0].returncode}) while {what}; see its log")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s while {what}")
        time.sleep(0.1)  # the poll takes a little of the CPU the workers are measured on: not too often


def run_worker_bench(
    config: WorkerBenchConfig, on_run: Callable[[int, int, float], None] = lambda workers, repeat, rate: None
) -> WorkerBenchResult:
    """Time ``config.repeats`` runs over the backlog for each worker count; ``on_run`` hears each run's rate."""
    # The option names the database: not Settings(), in which DESKROUTE_DATABASE_URL would win over it.
    url = driver_url(config.database_url)
    result = WorkerBenchResult(tickets=config.tickets, repeats=config.repeats, database=describe_url(url))
    with tempfile.TemporaryDirectory(prefix="deskroute-bench-workers-") as tmp, _throwaway_schema(url) as schema_url:
        folder = Path(tmp)
        cfg_path = _write_helpdesk(folder, config.tickets)
        settings = load_settings(cfg_path).model_copy(update={"database_url": schema_url, "data_dir": folder / "data"})
        try:
            store = Store(settings.database_url, create_folders=(settings.data_dir,))
        except StoreError as exc:
            raise BenchError(str(exc)) from None
        with Runtime(settings, store=store) as runtime:
            runtime.policy()  # seeded before the workers start, so no run pays for it
            pulled = sync(store, runtime.connector(CONNECTOR))
        if pulled.tickets != config.tickets:
            raise BenchError(f"the backlog holds {pulled.tickets} tickets, not {config.tickets}")
        engine = store.engine
        for workers in config.workers:
            procs = _start_workers(workers, folder, cfg_path, schema_url)
            try:
                _wait(lambda: _done(engine, config.tickets), config.timeout, "working off the first backlog", procs)

                def all_live(n: int = workers) -> bool:
                    with store.session() as session:
                        return len(live_workers(session)) >= n

                _wait(all_live, 120, "starting the workers", procs)
                rates: list[float] = []
                for repeat in range(config.repeats):
                    _queue_again(engine)
                    started = time.perf_counter()
                    _wait(lambda: _done(engine, config.tickets), config.timeout, "working off the backlog", procs)
                    rate = config.tickets / (time.perf_counter() - started)
                    rates.append(rate)
                    on_run(workers, repeat, rate)
                result.runs[workers] = rates
            finally:
                _stop(procs)
                with engine.begin() as conn:
                    conn.execute(sa.text("delete from worker_heartbeats"))
        store.dispose()
    return result
