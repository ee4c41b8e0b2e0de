"""A Freshdesk connector on the fake account, through respx (no network); the ``freshdesk`` adapter registered
even where the installed package predates it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from pydantic import SecretStr

from connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
from tests.connectors.adapter_entry_points import registered
from tests.connectors.freshdesk.fake_freshdesk import API_KEY, MAILBOX, ROOT, FakeFreshdesk


@pytest.fixture(scope="session", autouse=True)
def freshdesk_registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    folder = tmp_path_factory.mktemp("entry-points")
    with registered(folder, "freshdesk", "router.adapters.freshdesk_adapter:build_freshdesk") as found:
        yield found


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
