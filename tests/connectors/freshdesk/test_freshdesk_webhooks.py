"""Freshdesk's automation webhooks are unsigned: deskroute's shared-secret form, the payload only a hint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors import WebhookUnsupported
from connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
from connectors.webhooks import WebhookRefused, shared_secret_headers
from tests.connectors.freshdesk.fake_freshdesk import API_KEY, FIXTURES, ROOT

SECRET = "automation-shared-secret-value"
NOW = datetime(2026, 6, 1, 9, 6, tzinfo=UTC)
BODY = (FIXTURES / "automation_webhook_body.json").read_bytes()


def desk(secret: str | None = SECRET) -> FreshdeskConnector:
    return FreshdeskConnector(
        "fd",
        FreshdeskSettings(base_url=ROOT, api_key=SecretStr(API_KEY)),
        webhook_secret=SecretStr(secret) if secret else None,
    )


def refused(headers: dict[str, str], body: bytes = BODY) -> WebhookRefused:
    with pytest.raises(WebhookRefused) as raised:
        desk().verify_webhook(headers, body, NOW)
    return raised.value


def test_an_automations_webhook_with_the_secret_hints_at_its_ticket() -> None:
    delivery = desk().verify_webhook(shared_secret_headers(SECRET, "fd-1", NOW), BODY, NOW + timedelta(seconds=3))
    assert delivery.delivery_id == "fd-1" and delivery.ticket_ids == ("101",) and delivery.sent_at == NOW


def test_a_wrong_or_missing_secret_a_replay_and_a_bad_body_are_refused() -> None:
    assert refused(shared_secret_headers("guessed", "fd-1", NOW)).reason == "forged"
    assert (
        refused({k: v for k, v in shared_secret_headers(SECRET, "fd-1", NOW).items() if "Secret" not in k}).reason
        == "forged"
    )
    assert refused(shared_secret_headers(SECRET, "fd-1", NOW - timedelta(hours=1))).reason == "stale"
    assert refused(shared_secret_headers(SECRET, "fd-1", NOW), b"ticket_id=101").reason == "malformed"
    assert refused(shared_secret_headers(SECRET, "fd 1", NOW)).reason == "malformed"


def test_without_a_secret_freshdesk_is_polled() -> None:
    with pytest.raises(WebhookUnsupported, match="webhook_secret_env"):
        desk(None).verify_webhook(shared_secret_headers(SECRET, "fd-1", NOW), BODY, NOW)
