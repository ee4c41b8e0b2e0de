"""A sync killed with SIGKILL in the middle of a page, then restarted: every ticket once, cursor at the end.

The sync runs as a real ``deskroute sync`` process in pages of two; it kills itself (SIGKILL: no cleanup, no
rollback code of ours) right after the tickets of its third page were written into the open transaction,
before that page's cursor and commit. Then ``deskroute sync`` runs again. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from router.cli import app
from router.store import Store, TicketRow, count, get_cursor
from tests.conftest import REPO_ROOT
from tests.integration.conftest import RT_PASSWORD, RT_USER, RTAdmin, write_config

pytestmark = pytest.mark.integration

TICKETS = 7
PAGE = 2
KILL_AT_TICKET = 5  # the first ticket of the third page

SYNC_THAT_DIES = f"""
import os, signal
import router.loop.sync
from connectors import Ticket

real_upsert = router.loop.sync.upsert
written = 0

def upsert(session, records):
    global written
    n = real_upsert(session, records)
    if records and isinstance(records[0], Ticket):
        written += len(records)
        if written >= {KILL_AT_TICKET}:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-page: tickets written, cursor and commit not yet
    return n

router.loop.sync.upsert = upsert
from router.cli import app
app(["sync", "rt"], prog_name="deskroute")
"""


@pytest.fixture(scope="module")
def kill_queue(rt: RTAdmin) -> tuple[str, list[str]]:
    queue = rt.queue("kill")
    ids = rt.create(queue, TICKETS)
    # The tickets share a second or two; the first pull stores which it saw in that second only once RT's clock
    # has left it, and the counts below assume it has.
    rt.wait_past_last_update(f"Queue = '{queue}'")
    return queue, ids


def run_sync(folder: Path, database_url: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DESKROUTE_DATABASE_URL": database_url,
        "DESKROUTE_DATA_DIR": str(folder / "data"),
        "DESKROUTE_TEST_RT_USER": RT_USER,
        "DESKROUTE_TEST_RT_PASSWORD": RT_PASSWORD,
    }
    env.pop("DESKROUTE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


def test_sync_killed_mid_page_resumes_with_every_ticket_once(
    rt: RTAdmin,
    kill_queue: tuple[str, list[str]],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue, ids = kill_queue
    write_config(tmp_path, queue, page_size=PAGE)

    killed = run_sync(tmp_path, database_url, SYNC_THAT_DIES)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = Store(database_url)
    with store.session() as session:
        assert count(session, TicketRow) == 4  # two whole pages; the third died uncommitted
        half_way = get_cursor(session, "rt")
    assert half_way is not None and half_way["since"]

    # restarted (in this process: the store and RT are all that carry over)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", database_url)
    monkeypatch.setenv("DESKROUTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DESKROUTE_TEST_RT_USER", RT_USER)
    monkeypatch.setenv("DESKROUTE_TEST_RT_PASSWORD", RT_PASSWORD)
    monkeypatch.delenv("DESKROUTE_CONFIG", raising=False)
    resumed = CliRunner().invoke(app, ["sync", "rt"])
    assert resumed.exit_code == 0, resumed.output
    resumed_count = int(re.search(r"rt: (\d+) tickets", resumed.stdout).group(1))  # type: ignore[union-attr]
    assert TICKETS - 4 <= resumed_count < TICKETS  # resumed after page two, not from the start

    rt_times = {str(t["id"]): t["LastUpdated"] for t in rt.tickets(f"Queue = '{queue}'")}
    latest = max(rt_times.values())
    with store.session() as session:
        rows = session.execute(sa.select(TicketRow.external_id).where(TicketRow.source == "rt")).scalars().all()
        cursor = get_cursor(session, "rt")
    assert sorted(rows, key=int) == sorted(ids, key=int)  # every ticket, exactly once
    assert cursor == {"since": latest, "seen": sorted((i for i, s in rt_times.items() if s == latest), key=int)}
    store.dispose()
