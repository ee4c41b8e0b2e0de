"""The service's scheduled jobs: a delivery accepted while its connector's cycle runs still gets a cycle after it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from connectors.webhooks import WebhookDelivery
from router.config import load_settings
from router.loop.cycle import CycleReport
from router.runtime import Runtime
from router.service import ScheduledJobs
from router.service.jobs_heartbeat import jobs_running
from router.store.tables import WebhookDeliveryRow
from router.store.webhook_inbox import accept_delivery
from tests.service.service_workspace import SECRET, SECRET_ENV, make_workspace


def test_a_delivery_accepted_mid_cycle_gets_a_cycle_of_its_own(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    workspace = make_workspace(tmp_path, sqlite_url, poll_seconds=3600)
    with Runtime(load_settings(workspace.config)) as runtime:
        jobs = ScheduledJobs(runtime)
        real_cycle = runtime.cycle
        cycles: list[datetime] = []

        def cycle(name: str, **options: Any) -> CycleReport:
            cycles.append(datetime.now(UTC))
            if len(cycles) == 1:  # a webhook arrives while the first cycle runs, and its wake-up is skipped
                with runtime.store.session() as session:
                    accept_delivery(session, name, WebhookDelivery("mid-cycle", ("A1",), datetime.now(UTC)))
                jobs.wake(name)
            return real_cycle(name, **options)

        monkeypatch.setattr(runtime, "cycle", cycle)
        jobs.start()
        try:
            deadline = time.monotonic() + 20
            while True:
                with runtime.store.session() as session:
                    row = session.exec(select(WebhookDeliveryRow)).first()
                if row is not None and row.state == "done":
                    break
                assert time.monotonic() < deadline, f"delivery still {row.state if row else 'absent'}; {cycles}"
                time.sleep(0.2)
            assert len(cycles) >= 2 and row.processed_at is not None
            assert jobs_running(runtime.store)[0]
        finally:
            jobs.shutdown()
