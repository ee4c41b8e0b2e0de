"""A Freshdesk connector on the fake account, through respx (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from pydantic import SecretStr

from connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
from tests.connectors.freshdesk.fake_freshdesk import API_KEY, MAILBOX, ROOT, FakeFreshdesk


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    account = FakeFreshdesk()
    with respx.mock(base_url=ROOT, assert_all_called=False) as router:
        router.route().mock(side_effect=account)
        yield account


def connect(**settings: object) -> FreshdeskConnector:
    values: dict[str, object] = {"queue_map": {"billing": "Billing", "triage": "Triage"}, "email_config_id": MAILBOX}
    values.update(settings)
    return FreshdeskConnector(
        "fd",
        FreshdeskSettings(base_url=ROOT, api_key=SecretStr(API_KEY), **values),
        sleep=lambda _: None,  # type: ignore[arg-type]
    )
