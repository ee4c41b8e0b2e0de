"""A ``[connectors.NAME]`` table of type freshdesk: what it needs, and the errors naming the key to fix."""

from __future__ import annotations

import pytest

from connectors.freshdesk import FreshdeskConnector
from router.adapters.connector_factory import build_connector
from router.config import ConfigError, ConnectorSettings

ENV = {"FD_KEY": "fd-key-123", "FD_HOOK": "hook-secret"}


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def settings(**kw: object) -> ConnectorSettings:
    table: dict[str, object] = {"type": "freshdesk", "base_url": "https://acme.freshdesk.com", "token_env": "FD_KEY"}
    table.update(kw)
    return ConnectorSettings.model_validate(table)


def test_a_complete_table_builds_the_connector_through_the_registry() -> None:
    desk = build_connector(
        "fd",
        settings(
            base_url="https://acme.freshdesk.com/api/v2/",
            webhook_secret_env="FD_HOOK",
            priority_map={"normal": "Medium"},
            status_map={"Waiting on Customer": "pending"},
            options={"email_config_id": 41000015452, "outreach_group": "Billing", "list_per_minute": 100},
        ),
    )
    assert isinstance(desk, FreshdeskConnector)
    assert desk.settings.base_url == "https://acme.freshdesk.com" and desk.settings.email_config_id == 41000015452
    assert desk.webhook_secret is not None and desk.settings.outreach_group == "Billing"
    assert desk.settings.list_per_minute == 100 and desk.api.listing_http.budget.per_minute == 100
    assert "fd-key-123" not in repr(desk) + repr(desk.api.http)
    desk.close()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"base_url": None}, "base_url is required for Freshdesk"),
        ({"token_env": None}, 'token_env = "FRESHDESK_API_KEY"'),
        ({"token_env": "FD_UNSET"}, "FD_UNSET (token_env) is not set"),
        ({"options": {"mailbox": 1}}, "unknown option(s) mailbox for Freshdesk"),
        ({"options": {"email_config_id": "support@x"}}, "options.email_config_id = 'support@x' must be"),
        ({"page_size": 500}, "Freshdesk pages hold at most 100"),
        ({"options": {"list_per_minute": 0}}, "options.list_per_minute = 0 must be the plan's ticket-list limit"),
        ({"priority_map": {"p1": "Urgent"}}, "priority_map key 'p1' is not a canonical priority"),
        ({"status_map": {"6": "waiting"}}, "status_map.6 = 'waiting' is not a canonical status"),
        ({"webhook_secret_env": "FD_UNSET"}, "FD_UNSET (webhook_secret_env) is not set"),
    ],
)
def test_a_wrong_table_names_the_key_to_fix(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_connector("fd", settings(**table))
    assert str(raised.value).startswith("connector 'fd': ") and message in str(raised.value)
