"""The ``rt`` adapter's factory: an RTConnector from a ``[connectors.NAME]`` table, credentials from the env."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pydantic import SecretStr

from connectors.rt import RTConnector, RTSettings
from router.config import ConfigError, ConnectorSettings, webhook_secret


def _required_secret(name: str, settings: ConnectorSettings, which: str) -> SecretStr:
    var = getattr(settings, f"{which}_env")
    value = settings.secret(which)  # type: ignore[arg-type]
    if value is None or not value.get_secret_value():
        raise ConfigError(
            f"connector '{name}': the environment variable {var} ({which}_env) is not set; "
            f"export it with the helpdesk {which}"
        )
    return value


def build_rt(
    name: str,
    settings: ConnectorSettings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> RTConnector:
    """The Request Tracker connector for ``[connectors.NAME]``; ConfigError names the key to fix."""
    if not settings.base_url:
        raise ConfigError(
            f"connector '{name}': base_url is required for RT, e.g. base_url = \"https://rt.example.com\""
        )
    token = username = password = None
    if settings.token_env:
        token = _required_secret(name, settings, "token")
    elif settings.username_env and settings.password_env:
        username = _required_secret(name, settings, "username").get_secret_value()
        password = _required_secret(name, settings, "password")
    else:
        raise ConfigError(
            f"connector '{name}': name the environment variables holding the RT credentials: "
            'token_env = "RT_TOKEN", or username_env = "RT_USER" and password_env = "RT_PASSWORD"'
        )
    rt_settings = RTSettings(
        base_url=settings.base_url,
        username=username,
        password=password,
        token=token,
        timeout=settings.timeout_seconds,
        max_response_bytes=settings.max_response_bytes,
        rate_limit_per_minute=settings.rate_limit_per_minute,
        page_size=settings.page_size,
        ticket_filter=settings.ticket_filter,
        queue_map=dict(settings.queue_map),
        priority_map=dict(settings.priority_map),
        status_map=dict(settings.status_map),
        tags_field=settings.tags_field,
        agent_user=settings.agent_user,
        outreach_queue=settings.outreach_queue or "General",
        timezone=settings.timezone,
    )
    kwargs = {"sleep": sleep} if sleep is not None else {}
    try:
        return RTConnector(
            name,
            rt_settings,
            transport=transport,
            webhook_secret=webhook_secret(name, settings),
            webhook_replay_seconds=settings.webhook_replay_seconds,
            **kwargs,
        )
    except ValueError as exc:  # a mapping that does not fit (VocabularyError)
        raise ConfigError(f"connector '{name}': {exc}") from None
