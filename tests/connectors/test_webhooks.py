"""Webhook deliveries: deskroute's shared-secret form, and what a body hints at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors import Action, ActionResult, CheckReport, Connector, CustomerHistory, PullBatch, WebhookUnsupported
from connectors.base import Cursor
from connectors.webhooks import MAX_WEBHOOK_BYTES, WebhookRefused, hinted_tickets, shared_secret_headers

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "s3cret-for-hooks"


class QuietDesk(Connector):
    """A connector with nothing but the contract's defaults."""

    type = "quiet"

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        yield from ()

    def customer_history(self, customer: str) -> CustomerHistory:
        return CustomerHistory()

    def apply(self, action: Action) -> ActionResult:
        return ActionResult(status="skipped")

    def check(self) -> CheckReport:
        return CheckReport(self.name)


def desk(window: float = 300.0) -> QuietDesk:
    return QuietDesk("quiet", webhook_secret=SecretStr(SECRET), webhook_replay_seconds=window)


def refusal(headers: dict[str, str], body: bytes = b"{}", now: datetime = NOW) -> WebhookRefused:
    with pytest.raises(WebhookRefused) as raised:
        desk().verify_webhook(headers, body, now)
    return raised.value


def test_the_shared_secret_form_is_accepted_with_its_delivery_and_tickets() -> None:
    headers = shared_secret_headers(SECRET, "d-1", NOW - timedelta(seconds=30))
    delivery = desk().verify_webhook(headers, b'{"ticket_id": 42}', NOW)
    assert delivery.delivery_id == "d-1" and delivery.ticket_ids == ("42",)
    assert delivery.sent_at == NOW - timedelta(seconds=30)
    lower = {k.lower(): v for k, v in headers.items()}
    assert desk().verify_webhook(lower, b"", NOW).ticket_ids == ()  # header names in any case


def test_forged_stale_large_and_malformed_deliveries_are_refused_with_the_fix() -> None:
    good = shared_secret_headers(SECRET, "d-1", NOW)
    wrong = refusal({**good, "X-Deskroute-Secret": SECRET[:-1] + "X"})
    assert wrong.reason == "forged" and "webhook_secret_env" in str(wrong) and SECRET not in str(wrong)
    assert refusal({k: v for k, v in good.items() if k != "X-Deskroute-Secret"}).reason == "forged"
    stale = refusal(shared_secret_headers(SECRET, "d-1", NOW - timedelta(minutes=6)))
    assert stale.reason == "stale" and "replays" in str(stale)
    assert refusal(shared_secret_headers(SECRET, "d-1", NOW + timedelta(minutes=6))).reason == "stale"
    assert refusal(good, b"x" * (MAX_WEBHOOK_BYTES + 1)).reason == "too_large"
    assert refusal({**good, "X-Deskroute-Timestamp": "yesterday"}).reason == "malformed"
    assert refusal({**good, "X-Deskroute-Delivery": "has space"}).reason == "malformed"
    assert refusal(good, b"<html>").reason == "malformed"


def test_a_connector_without_a_webhook_secret_has_no_webhooks() -> None:
    with pytest.raises(WebhookUnsupported, match="webhook_secret_env"):
        QuietDesk("quiet").verify_webhook(shared_secret_headers(SECRET, "d", NOW), b"{}", NOW)


@pytest.mark.parametrize(
    ("body", "tickets"),
    [
        (b'{"ticket_id": "101"}', ("101",)),
        (b'{"ticket": {"id": 7, "status": "open"}}', ("7",)),
        (b'{"id": "webhook-9", "detail": {"ticket_id": 5}}', ("5",)),
        (b'{"type": "zen:event-type:ticket.priority_changed", "detail": {"id": "35436"}}', ("35436",)),
        (b'{"ticket_ids": [1, "2", "x/../y", true]}', ("1", "2")),
        (b'{"id": 3}', ()),
        (b"[1, 2]", ()),
    ],
)
def test_a_body_hints_at_the_tickets_it_names(body: bytes, tickets: tuple[str, ...]) -> None:
    assert hinted_tickets(body, "quiet") == tickets


def test_a_body_naming_too_many_tickets_is_refused() -> None:
    with pytest.raises(WebhookRefused, match="one delivery per ticket"):
        hinted_tickets(b'{"ticket_ids": [' + ",".join(str(i) for i in range(1, 200)).encode() + b"]}", "quiet")


def test_the_file_connector_takes_the_shared_secret_form_when_configured(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.file_connector import FileConnector, FileSettings
    from router.config import ConfigError, ConnectorSettings, webhook_secret

    table = ConnectorSettings.model_validate({"type": "file", "webhook_secret_env": "DESK_HOOK_SECRET"})
    with pytest.raises(ConfigError, match=r"DESK_HOOK_SECRET \(webhook_secret_env\) is not set"):
        webhook_secret("files", table)
    monkeypatch.setenv("DESK_HOOK_SECRET", SECRET)
    files = FileConnector("files", FileSettings(), webhook_secret=webhook_secret("files", table))
    delivery = files.verify_webhook(shared_secret_headers(SECRET, "d-9", NOW), b'{"ticket_id": "T-1"}', NOW)
    assert delivery.ticket_ids == ("T-1",)
