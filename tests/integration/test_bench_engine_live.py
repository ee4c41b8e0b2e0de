"""``deskroute bench engine`` against the live RT, small: figures that add up, and shadow mode writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from tests.conftest import SHARED_DATASETS
from tests.integration.conftest import RT_PASSWORD, RT_URL, RT_USER, RTAdmin

pytestmark = pytest.mark.integration

TICKETS = 10
WRITE_SAMPLE = 2


def test_bench_engine_times_a_read_cycle_and_a_write_cycle(rt: RTAdmin, cli_env: Path) -> None:
    out = cli_env / "bench.json"
    env = {
        "DESKROUTE_TEST_RT_URL": RT_URL,
        "DESKROUTE_TEST_RT_USER": RT_USER,
        "DESKROUTE_TEST_RT_PASSWORD": RT_PASSWORD,
    }
    args = ["bench", "engine", "--tickets", str(TICKETS), "--write-sample", str(WRITE_SAMPLE), "--json", str(out)]

    corpus_queue = "deskroute-bench-" + ("tickets-en-de" if SHARED_DATASETS.is_dir() else "synthetic")
    before = {str(t["id"]): rt.history_size(str(t["id"])) for t in rt.tickets(f"Queue = '{corpus_queue}'")[:TICKETS]}

    result = CliRunner().invoke(app, args, env=env)

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    read, write = report["cycles"]["read"], report["cycles"]["write"]
    assert f"| read path: shadow, nothing written | {TICKETS} |" in result.stdout

    # every corpus ticket pulled and decided; its actions recorded, none written (shadow)
    (run,) = read["runs"]
    assert run["pulled"] == TICKETS and run["outcomes"] == {"decided_new": TICKETS}
    assert run["outbox"]["skipped"] >= TICKETS and run["outbox"]["applied"] == 0
    assert report["corpus"]["queue"] == corpus_queue
    assert {t: rt.history_size(t) for t in before} == before  # not one change to a corpus ticket

    # the fresh tickets were decided and written in auto mode: each left the inbox for a team queue
    (wrun,) = write["runs"]
    assert wrun["outcomes"] == {"decided_new": WRITE_SAMPLE}
    assert wrun["outbox"]["applied"] >= WRITE_SAMPLE and wrun["outbox"]["failed"] == wrun["outbox"]["dead"] == 0
    inbox = f"{write['queue_prefix']}Inbox"
    assert rt.tickets(f"Queue = '{inbox}'") == []
    assert len(rt.tickets(f"Queue LIKE '{write['queue_prefix']}%'")) == WRITE_SAMPLE

    for cycle, tickets in ((read, TICKETS), (write, WRITE_SAMPLE)):
        seconds = cycle["median_seconds"]
        assert sum(seconds[s] for s in ("sync", "signals", "decide", "apply")) == pytest.approx(seconds["total"])
        assert cycle["tickets_per_second"] == pytest.approx(tickets / seconds["total"])
        assert sum(cycle["share"].values()) == pytest.approx(1.0)
