"""Acceptance with the live Request Tracker: a delivery in deskroute's shared-secret form gets its ticket synced,
routed and written back in RT within seconds by ``deskroute serve``; forged, stale, repeated and oversized
deliveries get their documented answers and change nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from connectors.webhooks import MAX_WEBHOOK_BYTES, shared_secret_headers
from router.store import Store
from router.store.tables import WebhookDeliveryRow
from tests.integration.conftest import RUN, RTAdmin
from tests.integration.helpdesk_team import (
    DESKROUTE_RIGHTS,
    build_helpdesk,
    create_user,
    deskroute_env,
    disable_user,
    queue_name,
    write_deskroute_config,
    write_policy,
)
from tests.service.service_workspace import SECRET, SECRET_ENV, Served, Workspace

pytestmark = pytest.mark.integration

OUTAGE = {"Subject": "Checkout is down for every customer", "Content": "Since 9:00 nobody can pay in the shop."}


def test_an_rt_webhook_gets_its_ticket_routed_within_seconds(rt: RTAdmin, tmp_path: Path) -> None:
    deskroute = create_user(rt, f"deskroute-svc-{RUN}", DESKROUTE_RIGHTS)
    helpdesk = build_helpdesk(rt, "service")
    database = f"sqlite:///{tmp_path / 'deskroute.db'}"
    config = write_deskroute_config(tmp_path, helpdesk, write_policy(tmp_path, helpdesk), database)
    # The connector's table is the file's last: polling once an hour leaves only the webhook to wake the loop.
    with config.open("a", encoding="utf-8") as toml:
        toml.write(f'poll_interval_seconds = 3600\nwebhook_secret_env = "{SECRET_ENV}"\n')
    served = Served(Workspace(tmp_path, database, {}), env_extra=deskroute_env(deskroute, database, tmp_path))
    try:
        deadline = time.monotonic() + 60
        while httpx.get(f"{served.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, httpx.get(f"{served.url}/readyz").text
            time.sleep(0.5)
        time.sleep(1)  # the first cycle (at start) has run: from here only a webhook wakes it
        (ticket,) = rt.create(helpdesk.inbox, Requestor=f"{RUN}-svc@example.com", **OUTAGE)
        before = rt.history_size(ticket)
        url = f"{served.url}/webhooks/rt"
        body = f'{{"ticket_id": "{ticket}"}}'.encode()
        now = datetime.now(UTC)
        refused = [
            httpx.post(url, content=body, headers=shared_secret_headers("not-the-secret", "d-forged", now)),
            httpx.post(url, content=body, headers=shared_secret_headers(SECRET, "d-stale", now - timedelta(hours=2))),
            httpx.post(
                url, content=b"{" + b" " * MAX_WEBHOOK_BYTES + b"}", headers=shared_secret_headers(SECRET, "d-big", now)
            ),
        ]
        assert [(r.status_code, r.json()["result"]) for r in refused] == [
            (401, "forged"), (401, "stale"), (413, "too_large"),
        ]  # fmt: skip
        time.sleep(3)
        assert rt.history_size(ticket) == before and queue_name(rt, rt.ticket(ticket)) == helpdesk.inbox
        sent = time.monotonic()
        good = shared_secret_headers(SECRET, "d-good", datetime.now(UTC))
        assert httpx.post(url, content=body, headers=good).status_code == 202
        outages = helpdesk.queue("Service Outages and Maintenance")
        while queue_name(rt, rt.ticket(ticket)) != outages:
            assert time.monotonic() - sent < 30, served.log()
            time.sleep(0.3)
        routed_after = time.monotonic() - sent
        time.sleep(2)  # the rest of the cycle's writes (priority, tags, note)
        written = rt.history_size(ticket)
        repeated = httpx.post(url, content=body, headers=good)
        assert (repeated.status_code, repeated.json()["result"]) == (200, "already_accepted")
        time.sleep(4)
        assert rt.history_size(ticket) == written
        store = Store(database)
        with store.session() as session:
            rows = session.exec(select(WebhookDeliveryRow)).all()
        store.dispose()
        assert [(r.delivery_id, r.ticket_ids, r.state) for r in rows] == [("d-good", [ticket], "done")]
        print(f"RT ticket {ticket} routed {routed_after:.1f}s after its webhook")
    finally:
        served.stop()
        disable_user(rt, deskroute)
