"""Zendesk's signed webhooks: accepted when signed with the webhook's secret, refused otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors import WebhookUnsupported
from connectors.webhooks import WebhookRefused
from connectors.zendesk import ZendeskConnector, ZendeskSettings, zendesk_signature
from tests.connectors.zendesk.fake_zendesk import AGENT_EMAIL, FIXTURES, ROOT, TOKEN

SIGNING_SECRET = "dGhpcyBpcyBhIHNpZ25pbmcgc2VjcmV0"
NOW = datetime(2026, 6, 1, 9, 6, tzinfo=UTC)
BODY = (FIXTURES / "webhook_trigger_body.json").read_bytes()


def desk(secret: str | None = SIGNING_SECRET) -> ZendeskConnector:
    return ZendeskConnector(
        "zendesk",
        ZendeskSettings(base_url=ROOT, email=AGENT_EMAIL, token=SecretStr(TOKEN)),
        webhook_secret=SecretStr(secret) if secret else None,
    )


def signed(body: bytes = BODY, *, at: datetime = NOW, secret: str = SIGNING_SECRET, invocation: str = "inv-1") -> dict:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "x-zendesk-webhook-signature": zendesk_signature(secret, stamp, body),
        "x-zendesk-webhook-signature-timestamp": stamp,
        "x-zendesk-webhook-invocation-id": invocation,
        "x-zendesk-webhook-id": "01GH5X7Q3M9D5E2ZB8RK4V1T6Y",
    }


def refused(headers: dict, body: bytes = BODY, now: datetime = NOW) -> WebhookRefused:
    with pytest.raises(WebhookRefused) as raised:
        desk().verify_webhook(headers, body, now)
    return raised.value


def test_a_signed_webhook_is_accepted_and_names_its_ticket() -> None:
    delivery = desk().verify_webhook(signed(), BODY, NOW + timedelta(seconds=2))
    assert delivery.delivery_id == "inv-1" and delivery.ticket_ids == ("101",) and delivery.sent_at == NOW


def test_the_signature_is_zendesks_documented_one() -> None:
    # base64(HMAC-SHA256(secret, timestamp + body)), computed independently here.
    import base64
    import hashlib
    import hmac

    digest = hmac.new(SIGNING_SECRET.encode(), b"2026-06-01T09:06:00Z" + BODY, hashlib.sha256).digest()
    assert signed()["x-zendesk-webhook-signature"] == base64.b64encode(digest).decode()


def test_forged_tampered_stale_and_unsigned_webhooks_are_refused() -> None:
    assert refused(signed(secret="another secret")).reason == "forged"
    assert refused(signed(), BODY.replace(b"101", b"102")).reason == "forged"  # body changed after signing
    headers = signed()
    headers["x-zendesk-webhook-signature-timestamp"] = "2026-06-01T09:06:01Z"  # timestamp changed
    assert refused(headers).reason == "forged"
    unsigned = {k: v for k, v in signed().items() if k != "x-zendesk-webhook-signature"}
    assert refused(unsigned).reason == "forged"
    stale = refused(signed(at=NOW - timedelta(minutes=10)))
    assert stale.reason == "stale" and "replays" in str(stale)
    assert refused({k: v for k, v in signed().items() if "invocation" not in k}).reason == "malformed"
    assert refused(signed(b"x" * 300_000), b"x" * 300_000).reason == "too_large"


def test_a_repeated_delivery_carries_the_same_invocation_id_for_the_receiver_to_drop() -> None:
    first = desk().verify_webhook(signed(), BODY, NOW)
    again = desk().verify_webhook(signed(), BODY, NOW + timedelta(seconds=40))
    assert first.delivery_id == again.delivery_id == "inv-1"


def test_without_a_signing_secret_webhooks_are_not_accepted() -> None:
    with pytest.raises(WebhookUnsupported, match="webhook_secret_env"):
        desk(None).verify_webhook(signed(), BODY, NOW)
