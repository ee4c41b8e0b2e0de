"""Webhook deliveries with several service processes on one PostgreSQL, and with a process killed (SIGKILL) while
deliveries arrive: every delivery id is stored exactly once, every sender gets 202 or 200, and a stored
delivery is still routed by the process that runs the jobs afterwards."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from connectors.webhooks import shared_secret_headers
from router.store import Store
from router.store.tables import WebhookDeliveryRow
from tests.service.service_workspace import SECRET, Served, make_workspace

pytestmark = pytest.mark.slow  # several service processes started per test, a few hundred deliveries

NEW_TICKET = "A3,Outage: the portal is down,Nothing loads at all since this morning.,General Inquiry,high,en\n"


def _post(url: str, delivery: str) -> int:
    headers = shared_secret_headers(SECRET, delivery, datetime.now(UTC))
    try:
        return httpx.post(f"{url}/webhooks/helpdesk", content=b'{"ticket_id": "A3"}', headers=headers).status_code
    except httpx.TransportError:
        return 0  # the process was killed before it answered: the sender retries


def _rows(database_url: str) -> list[WebhookDeliveryRow]:
    store = Store(database_url)
    with store.session() as session:
        rows = list(session.exec(select(WebhookDeliveryRow)).all())
    store.dispose()
    return rows


def test_two_processes_store_each_delivery_once(database_url: str, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, database_url)
    first, second = Served(workspace, "--no-jobs"), Served(workspace, "--no-jobs")
    try:
        targets = [first.url, second.url] * 10
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(_post, targets, ["same-delivery"] * len(targets)))
        assert sorted(answers) == [200] * 19 + [202]
        assert [r.delivery_id for r in _rows(database_url)] == ["same-delivery"]
    finally:
        first.stop()
        second.stop()


def test_a_process_killed_mid_stream_loses_no_delivery_and_the_next_one_routes_it(
    database_url: str, tmp_path: Path
) -> None:
    workspace = make_workspace(tmp_path, database_url)
    with (tmp_path / "tickets.csv").open("a", encoding="utf-8") as tickets:
        tickets.write(NEW_TICKET)
    victim = Served(workspace, "--no-jobs")
    ids = [f"d-{n}" for n in range(300)]
    with ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(_post, victim.url, ident) for ident in ids]
        # Killed once a few deliveries were answered, whatever the machine's speed: the rest are in flight or queued.
        deadline = time.monotonic() + 60
        while sum(f.done() for f in pending) < 5:
            assert time.monotonic() < deadline, victim.log()
            time.sleep(0.01)
        victim.process.send_signal(signal.SIGKILL)
        first_answers = [f.result() for f in pending]
    victim.process.wait()
    victim.stop()
    # Killed mid-stream: some deliveries were answered, the rest got no answer.
    assert 202 in first_answers and 0 in first_answers and set(first_answers) <= {0, 202}
    accepted = {r.delivery_id for r in _rows(database_url)}
    assert {i for i, a in zip(ids, first_answers, strict=True) if a == 202} <= accepted
    # The senders retry everything they had no answer for (and a few they had): nothing is stored twice.
    survivor = Served(workspace)
    try:
        with ThreadPoolExecutor(4) as pool:
            retried = list(pool.map(_post, [survivor.url] * len(ids), ids))
        assert all(a == (200 if ident in accepted else 202) for ident, a in zip(ids, retried, strict=True)), retried
        rows = _rows(database_url)
        assert sorted(r.delivery_id for r in rows) == sorted(ids)
        deadline = time.monotonic() + 60
        while not any("A3" in line for line in _written(tmp_path)):
            assert time.monotonic() < deadline, survivor.log()
            time.sleep(0.3)
        while any(r.state != "done" for r in _rows(database_url)):
            assert time.monotonic() < deadline, survivor.log()
            time.sleep(0.3)
    finally:
        survivor.stop()


def _written(folder: Path) -> list[str]:
    path = folder / "actions.jsonl"
    return [json.dumps(json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []
