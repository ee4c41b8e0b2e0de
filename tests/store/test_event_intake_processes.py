"""Product events stored by several processes at once, and by a process killed mid-batch (PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import func, select

from router.store import BehaviorEventRow, Store
from tests.conftest import REPO_ROOT, _fresh_pg_schema

BATCH = {
    "batch": [
        {
            "type": "track",
            "messageId": f"m-{k}",
            "userId": f"u-{k % 7}",
            "event": "Signed In",
            "timestamp": "2026-11-01T10:00:00Z",
        }
        for k in range(300)
    ]
}
# Parse and store the batch in one transaction, as the route does; PAUSE makes it wait, inside the transaction,
# until the parent has killed it; GO makes writers start together.
WRITER = """
import os, sys, time
from pathlib import Path
from connectors.product_events import parse_event_batch
from router.store import Store, insert_new
store = Store(sys.argv[1])
batch = parse_event_batch(Path(sys.argv[2]).read_bytes(), source="app", kinds={"Signed In": "login"})
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.01)
with store.session() as session:
    new = insert_new(session, batch.events)
    if os.environ.get("PAUSE"):
        print("inserted", flush=True)
        time.sleep(60)
    session.commit()
print(new, flush=True)
"""


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    yield from _fresh_pg_schema(postgres_url)


def _count(url: str) -> int:
    store = Store(url)
    try:
        with store.session() as session:
            return int(session.exec(select(func.count()).select_from(BehaviorEventRow)).one())
    finally:
        store.dispose()


def _writer(url: str, tmp_path: Path, *, pause: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    if pause:
        env["PAUSE"] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(tmp_path / "batch.json"), str(tmp_path / "go")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_processes_storing_one_batch_together_store_each_event_once(pg_url: str, tmp_path: Path) -> None:
    Store(pg_url).dispose()  # schema up to date before the writers race
    (tmp_path / "batch.json").write_text(json.dumps(BATCH), encoding="utf-8")
    writers = [_writer(pg_url, tmp_path) for _ in range(4)]
    (tmp_path / "go").touch()
    new = [int((w.communicate(timeout=120)[0] or "0").split()[-1]) for w in writers]
    assert all(w.returncode == 0 for w in writers)
    assert sum(new) == 300 and _count(pg_url) == 300


@pytest.mark.slow
def test_a_process_killed_inside_its_batch_stores_none_of_it_and_a_retry_stores_it_all(
    pg_url: str, tmp_path: Path
) -> None:
    Store(pg_url).dispose()
    (tmp_path / "batch.json").write_text(json.dumps(BATCH), encoding="utf-8")
    (tmp_path / "go").touch()
    doomed = _writer(pg_url, tmp_path, pause=True)
    assert doomed.stdout is not None and doomed.stdout.readline().strip() == "inserted"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    assert _count(pg_url) == 0
    retry = _writer(pg_url, tmp_path)
    assert int(retry.communicate(timeout=120)[0].split()[-1]) == 300 and _count(pg_url) == 300
