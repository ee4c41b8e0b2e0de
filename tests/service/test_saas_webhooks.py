"""The service takes the SaaS helpdesks' webhooks in process: Zendesk's signed form and deskroute's shared-secret
form for Freshdesk, each against its fake account (through respx). A good delivery is accepted (202) and the
ticket it names is synced and routed by the connector's next cycle; a forged or stale one is refused (401) and a
repeated delivery id is answered 200, already accepted, and stored once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import respx
from fastapi.testclient import TestClient
from sqlmodel import select

from connectors.webhooks import shared_secret_headers
from connectors.zendesk import zendesk_signature
from router.config import load_settings
from router.runtime import Runtime
from router.service import ScheduledJobs, create_app
from router.service.scheduled_jobs import SETTLE
from router.store.tables import DecisionRow, WebhookDeliveryRow
from tests.connectors.adapter_entry_points import registered
from tests.connectors.freshdesk import fake_freshdesk
from tests.connectors.freshdesk.fake_freshdesk import FakeFreshdesk
from tests.connectors.zendesk import fake_zendesk
from tests.connectors.zendesk.fake_zendesk import FakeZendesk
from tests.service.service_workspace import STARTER

SIGNING_SECRET = "dGhpcyBpcyBhIHNpZ25pbmcgc2VjcmV0"  # Zendesk's signing secrets are base64 text
SHARED_SECRET = "automation-shared-secret-value"
TEAMS = ("Technical Support", "Billing and Payments", "Customer Service", "Triage")


@pytest.fixture(scope="module", autouse=True)
def adapters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The zendesk and freshdesk adapters registered even where the installed package predates them."""
    folder = tmp_path_factory.mktemp("entry-points")
    with (
        registered(folder / "zd", "zendesk", "router.adapters.zendesk_adapter:build_zendesk"),
        registered(folder / "fd", "freshdesk", "router.adapters.freshdesk_adapter:build_freshdesk"),
    ):
        yield


@dataclass
class Service:
    client: TestClient
    runtime: Runtime
    name: str

    def deliver(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
        answer = self.client.post(f"/webhooks/{self.name}", content=body, headers=headers)
        return answer.status_code, answer.json()

    def cycle(self) -> None:
        """The connector's cycle as the scheduled jobs run it after a delivery."""
        ScheduledJobs(self.runtime).run_connector(self.name)

    def decided(self, external_id: str) -> bool:
        with self.runtime.store.session() as session:
            found = select(DecisionRow).where(
                DecisionRow.source == self.name, DecisionRow.ticket_external_id == external_id
            )
            return session.exec(found).first() is not None

    def deliveries(self) -> list[str]:
        with self.runtime.store.session() as session:
            return [row.delivery_id for row in session.exec(select(WebhookDeliveryRow))]

    def states(self) -> list[str]:
        with self.runtime.store.session() as session:
            return [row.state for row in session.exec(select(WebhookDeliveryRow))]

    def cycle_once_settled(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A cycle starting once the deliveries' second has settled (the clock moved on), which marks them done."""
        real = self.runtime.clock
        monkeypatch.setattr(self.runtime, "clock", lambda: real() + SETTLE)
        self.cycle()
        monkeypatch.setattr(self.runtime, "clock", real)


def serve(folder: Path, database_url: str, name: str, connector_toml: str) -> Iterator[Service]:
    (folder / "deskroute.toml").write_text(
        f'database_url = "{database_url}"\n'
        f'data_dir = "{folder / "data"}"\n'
        f'policy = "{STARTER}"\n'
        f"[connectors.{name}]\n"
        'mode = "auto"\n'
        "poll_interval_seconds = 3600\n" + connector_toml,
        encoding="utf-8",
    )
    with Runtime(load_settings(folder / "deskroute.toml")) as runtime, TestClient(create_app(runtime)) as client:
        yield Service(client, runtime, name)
        runtime.store.dispose()


@pytest.fixture
def zendesk(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Service, FakeZendesk]]:
    monkeypatch.setenv("ZD_EMAIL", fake_zendesk.AGENT_EMAIL)
    monkeypatch.setenv("ZD_TOKEN", fake_zendesk.TOKEN)
    monkeypatch.setenv("ZD_SIGNING", SIGNING_SECRET)
    account = FakeZendesk()
    for team in TEAMS:
        account.add_group(team)
    toml = (
        'type = "zendesk"\n'
        f'base_url = "{fake_zendesk.ROOT}"\n'
        'username_env = "ZD_EMAIL"\n'
        'token_env = "ZD_TOKEN"\n'
        'webhook_secret_env = "ZD_SIGNING"\n'
    )
    with respx.mock(base_url=fake_zendesk.ROOT, assert_all_called=False) as mocked:
        mocked.route().mock(side_effect=account)
        for service in serve(tmp_path, database_url, "zd", toml):
            yield service, account


@pytest.fixture
def freshdesk(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Service, FakeFreshdesk]]:
    monkeypatch.setenv("FD_KEY", fake_freshdesk.API_KEY)
    monkeypatch.setenv("FD_SHARED", SHARED_SECRET)
    account = FakeFreshdesk(now=fake_freshdesk.T0 + timedelta(hours=1))
    for team in TEAMS:
        account.add_group(team)
    toml = (
        'type = "freshdesk"\n'
        f'base_url = "{fake_freshdesk.ROOT}"\n'
        'token_env = "FD_KEY"\n'
        'webhook_secret_env = "FD_SHARED"\n'
    )
    with respx.mock(base_url=fake_freshdesk.ROOT, assert_all_called=False) as mocked:
        mocked.route().mock(side_effect=account)
        for service in serve(tmp_path, database_url, "fd", toml):
            yield service, account


def zendesk_headers(body: bytes, invocation: str, *, at: datetime, secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Invocation-Id": invocation,
        "X-Zendesk-Webhook-Id": "01GH5X7Q3M9D5E2ZB8RK4V1T6Y",
        "Content-Type": "application/json",
    }


def test_a_signed_zendesk_webhook_is_accepted_once_and_its_ticket_routed(
    zendesk: tuple[Service, FakeZendesk], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, account = zendesk
    # Changed an hour before the fake account's clock: past the minute Zendesk's export holds back.
    ticket = account.add_ticket(
        "Refund for invoice 4411", "I was charged twice, please refund one payment.", updated=fake_zendesk.T0
    )
    body = json.dumps({"ticket_id": str(ticket.id), "event": "ticket_created"}).encode()
    now = datetime.now(UTC)

    status, answer = service.deliver(body, zendesk_headers(body, "inv-1", at=now))
    assert (status, answer["result"], answer["tickets"]) == (202, "accepted", [str(ticket.id)]), answer
    assert not service.decided(str(ticket.id))  # accepted at once; the cycle does the work
    service.cycle()
    assert service.decided(str(ticket.id))
    assert ticket.group_id == account.group_id("Billing and Payments")  # auto mode applied the route in Zendesk
    # The cycle right after the delivery may not have seen the change yet: the delivery waits for one more.
    assert service.states() == ["pending"]
    service.cycle_once_settled(monkeypatch)
    assert service.states() == ["done"]

    again = service.deliver(body, zendesk_headers(body, "inv-1", at=now + timedelta(seconds=1)))
    assert again == (200, {"result": "already_accepted", "delivery_id": "inv-1", "tickets": [str(ticket.id)]})
    forged = service.deliver(body, zendesk_headers(body, "inv-2", at=now, secret="a guessed secret"))
    assert (forged[0], forged[1]["result"]) == (401, "forged")
    tampered = service.deliver(
        body.replace(b"ticket_created", b"ticket_updated"), zendesk_headers(body, "inv-3", at=now)
    )
    assert (tampered[0], tampered[1]["result"]) == (401, "forged")
    stale = service.deliver(body, zendesk_headers(body, "inv-4", at=now - timedelta(hours=1)))
    assert (stale[0], stale[1]["result"]) == (401, "stale")
    assert service.deliveries() == ["inv-1"]  # refused deliveries leave nothing behind


def test_a_freshdesk_webhook_with_the_shared_secret_is_accepted_once_and_its_ticket_routed(
    freshdesk: tuple[Service, FakeFreshdesk], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, account = freshdesk
    ticket_id = account.add_ticket("Refund for invoice 4411", at=fake_freshdesk.T0)
    body = json.dumps({"freshdesk_webhook": {"ticket_id": ticket_id, "ticket_status": "Open"}}).encode()
    now = datetime.now(UTC)

    status, answer = service.deliver(body, shared_secret_headers(SHARED_SECRET, "fd-1", now))
    assert (status, answer["result"], answer["tickets"]) == (202, "accepted", [str(ticket_id)]), answer
    assert not service.decided(str(ticket_id))
    service.cycle()
    assert service.decided(str(ticket_id))
    assert account.tickets[ticket_id]["group_id"] == account.group_id("Billing and Payments")
    # The cycle right after the delivery may not have seen the change yet: the delivery waits for one more.
    assert service.states() == ["pending"]
    service.cycle_once_settled(monkeypatch)
    assert service.states() == ["done"]

    again = service.deliver(body, shared_secret_headers(SHARED_SECRET, "fd-1", now + timedelta(seconds=1)))
    assert again == (200, {"result": "already_accepted", "delivery_id": "fd-1", "tickets": [str(ticket_id)]})
    forged = service.deliver(body, shared_secret_headers("a guessed secret", "fd-2", now))
    assert (forged[0], forged[1]["result"]) == (401, "forged")
    stale = service.deliver(body, shared_secret_headers(SHARED_SECRET, "fd-3", now - timedelta(hours=1)))
    assert (stale[0], stale[1]["result"]) == (401, "stale")
    assert service.deliveries() == ["fd-1"]
