"""``deskroute serve`` as a real uvicorn process on a loopback port: ready once its jobs run, a webhook's ticket
synced, routed and written back by those jobs within seconds, JSON log lines with request ids, and an exposition
that ``promtool check metrics`` accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.webhooks import shared_secret_headers
from tests.service.service_workspace import SECRET, Served, make_workspace

NEW_TICKET = "A3,Outage: the portal is down,Nothing loads at all since this morning.,General Inquiry,high,en\n"


def written(folder: Path) -> list[dict]:
    path = folder / "actions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_webhook_gets_its_ticket_routed_by_the_served_jobs(sqlite_url: str, tmp_path: Path) -> None:
    # A long poll interval: only the webhook's wake-up can route the new ticket within the test's seconds.
    workspace = make_workspace(tmp_path, sqlite_url, poll_seconds=3600)
    served = Served(workspace)
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{served.url}/readyz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, httpx.get(f"{served.url}/readyz", timeout=30).text
            time.sleep(0.3)
        ready = httpx.get(f"{served.url}/readyz", timeout=30).json()
        assert ready["ready"] and set(ready["checks"]) == {"database", "schema", "models", "policy", "jobs"}
        before = {a.get("target") or a.get("action", {}).get("target") for a in written(tmp_path)}
        assert "A3" not in before
        with (tmp_path / "tickets.csv").open("a", encoding="utf-8") as tickets:
            tickets.write(NEW_TICKET)
        sent = time.monotonic()
        headers = {**shared_secret_headers(SECRET, "rt-77", datetime.now(UTC)), "X-Request-ID": "req-test-1"}
        answer = httpx.post(f"{served.url}/webhooks/helpdesk", content=b'{"ticket_id": "A3"}', headers=headers)
        assert answer.status_code == 202 and answer.headers["X-Request-ID"] == "req-test-1"
        while not any("A3" in json.dumps(a) for a in written(tmp_path)):
            assert time.monotonic() - sent < 20, served.log()
            time.sleep(0.2)
        again = httpx.post(f"{served.url}/webhooks/helpdesk", content=b'{"ticket_id": "A3"}', headers=headers)
        assert again.status_code == 200 and again.json()["result"] == "already_accepted"
        token = workspace.tokens["read"]
        decisions = httpx.get(
            f"{served.url}/v1/tickets/helpdesk/A3/decisions", headers={"Authorization": f"Bearer {token}"}
        )
        assert decisions.status_code == 200 and decisions.json()[0]["outbox"]
        lines = [json.loads(line) for line in served.log().splitlines() if line.startswith("{")]
        assert any(line.get("request_id") == "req-test-1" and line.get("result") == "accepted" for line in lines)
        assert token not in served.log() and SECRET not in served.log()
        exposition = httpx.get(f"{served.url}/metrics").text
        assert 'deskroute_tickets_decided_total{connector="helpdesk"' in exposition
        if shutil.which("promtool") is None:
            pytest.skip("promtool is absent (Debian package prometheus; .ci/run installs it)")
        check = subprocess.run(["promtool", "check", "metrics"], input=exposition, text=True, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        served.stop()
