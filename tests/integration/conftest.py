"""A live Request Tracker for the integration tests: reachable, or skip (fail under CI=true).

``scripts/rt-setup.sh`` installs and starts one on 127.0.0.1:8081 (``.ci/run`` does it before the tests).
Every test works in queues named after a per-run prefix, so runs against the same RT never see each other.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.rt.cursor import http_date, parse_time
from tests.conftest import IN_CI

RT_URL = os.environ.get("DESKROUTE_TEST_RT_URL", "http://127.0.0.1:8081").rstrip("/")
RT_USER = os.environ.get("DESKROUTE_TEST_RT_USER", "root")
RT_PASSWORD = os.environ.get("DESKROUTE_TEST_RT_PASSWORD", "password")
RUN = f"dr{uuid.uuid4().hex[:8]}"


class RTAdmin:
    """Talks to RT directly (plain httpx), to set up tickets and read RT back independently of the adapter."""

    def __init__(self) -> None:
        self.http = httpx.Client(base_url=RT_URL, auth=(RT_USER, RT_PASSWORD), timeout=60)
        # A web session makes each REST call milliseconds instead of a bcrypt check.
        self.http.post("/NoAuth/Login.html", data={"user": RT_USER, "pass": RT_PASSWORD, "next": ""})

    def rest(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"/REST/2.0/{path}", **kw)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json()

    def queue(self, suffix: str) -> str:
        name = f"{RUN}-{suffix}"
        self.rest("POST", "queue", json={"Name": name})
        return name

    def create(self, queue: str, count: int = 1, **fields: Any) -> list[str]:
        payload = [{"Queue": queue, "Subject": f"{queue} #{n}", "Content": f"Body {n}", **fields} for n in range(count)]
        return [str(item["id"]) for item in self.rest("POST", "tickets/bulk", json=payload)]

    def tickets(self, query: str, fields: str = "Subject,LastUpdated,Priority,Queue,Owner") -> list[dict[str, Any]]:
        data = self.rest("GET", "tickets", params={"query": query, "fields": fields, "per_page": 100})
        return list(data["items"])

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.rest("GET", f"ticket/{ticket_id}"))

    def history_size(self, ticket_id: str) -> int:
        return int(self.rest("GET", f"ticket/{ticket_id}/history", params={"per_page": 1})["total"])

    def wait_past_last_update(self, query: str, seconds: int = 2) -> None:
        """Until RT's clock is ``seconds`` past the latest ``LastUpdated`` of these tickets.

        A pull stores the tickets it saw in its last second only once that second is settled; tests that count
        what a second pull reads wait for it, so the count does not depend on how fast the first pull ran.
        """
        times = [parse_time(t["LastUpdated"]) for t in self.tickets(query, fields="LastUpdated")]
        latest = max(t for t in times if t is not None)
        while True:
            now = http_date(self.http.get("/REST/2.0/rt").headers.get("Date"))
            if now is not None and now >= latest + timedelta(seconds=seconds):
                return
            time.sleep(0.2)

    def texts(self, ticket_id: str) -> list[str]:
        data = self.rest("GET", f"ticket/{ticket_id}/attachments", params={"fields": "Content", "per_page": 100})
        return [str(item.get("Content") or "") for item in data["items"]]


@pytest.fixture(scope="session")
def rt() -> Iterator[RTAdmin]:
    """The live RT, or a skip naming what to do (a failure under CI=true)."""
    try:
        response = httpx.get(f"{RT_URL}/REST/2.0/rt", auth=(RT_USER, RT_PASSWORD), timeout=10)
        response.raise_for_status()
        response.json()
    except (httpx.HTTPError, ValueError) as exc:
        message = (
            f"Request Tracker at {RT_URL} is unreachable ({type(exc).__name__}: {exc}); run scripts/rt-setup.sh "
            "or set DESKROUTE_TEST_RT_URL, DESKROUTE_TEST_RT_USER and DESKROUTE_TEST_RT_PASSWORD"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    admin = RTAdmin()
    yield admin
    admin.http.close()


def write_config(folder: Path, queue: str, *, page_size: int = 100, extra: str = "") -> Path:
    """deskroute.toml with an ``rt`` connector limited to ``queue``; credentials through the environment."""
    path = folder / "deskroute.toml"
    path.write_text(
        "[connectors.rt]\n"
        'type = "rt"\n'
        f'base_url = "{RT_URL}"\n'
        'username_env = "DESKROUTE_TEST_RT_USER"\n'
        'password_env = "DESKROUTE_TEST_RT_PASSWORD"\n'
        f"ticket_filter = \"Queue = '{queue}'\"\n"
        f"page_size = {page_size}\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def rt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKROUTE_TEST_RT_USER", RT_USER)
    monkeypatch.setenv("DESKROUTE_TEST_RT_PASSWORD", RT_PASSWORD)
