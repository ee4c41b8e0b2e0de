"""A ``[connectors.NAME]`` table of type zendesk: what it needs, and the errors naming the key to fix."""

from __future__ import annotations

import pytest

from router.adapters.zendesk_adapter import build_zendesk
from router.config import ConfigError, ConnectorSettings

ENV = {"ZD_EMAIL": "deskroute@support.example.com", "ZD_TOKEN": "tok-123", "ZD_HOOK": "hook-secret"}


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def settings(**kw: object) -> ConnectorSettings:
    table: dict[str, object] = {
        "type": "zendesk",
        "base_url": "https://acme.zendesk.com",
        "username_env": "ZD_EMAIL",
        "token_env": "ZD_TOKEN",
    }
    table.update(kw)
    return ConnectorSettings.model_validate(table)


def test_a_complete_table_builds_the_connector() -> None:
    conn = build_zendesk(
        "zd",
        settings(
            webhook_secret_env="ZD_HOOK",
            queue_map={"Billing and Payments": "Billing"},
            options={"band_field_id": 360001, "outreach_group": "General", "export_per_minute": 30},
        ),
    )
    assert conn.type == "zendesk" and conn.agent_identity == "deskroute@support.example.com"
    assert conn.settings.band_field_id == 360001 and conn.api.export.budget.per_minute == 30
    assert conn.webhook_secret is not None and conn.webhook_replay_seconds == 300
    assert "tok-123" not in repr(conn.api.http) and conn.api.http.base_url == "https://acme.zendesk.com/"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"base_url": None}, "base_url is required for Zendesk"),
        ({"token_env": None}, 'token_env = "ZENDESK_TOKEN"'),
        ({"token_env": "ZD_MISSING"}, "ZD_MISSING (token_env) is not set"),
        ({"webhook_secret_env": "ZD_NOPE"}, "ZD_NOPE (webhook_secret_env) is not set"),
        ({"options": {"band_field": 1}}, "unknown option(s) band_field"),
        ({"options": {"band_field_id": "abc"}}, "options.band_field_id = 'abc' must be a positive whole number"),
        ({"options": {"band_values": {"asap": "x"}}}, "band_values key 'asap' is not a canonical priority"),
        ({"options": {"band_values": {"high": "two words"}}}, "a drop-down option's value is a tag"),
        ({"priority_map": {"urgent": "critical"}}, "priority_map.urgent = 'critical' is not a Zendesk priority"),
    ],
)
def test_a_wrong_table_names_the_key_to_fix(table: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_zendesk("zd", settings(**table))
    assert message in str(raised.value) and "connector 'zd'" in str(raised.value)
