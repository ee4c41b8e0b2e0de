"""Building connectors from ``[connectors.NAME]`` settings, with credentials read from the environment."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pydantic import SecretStr

from connectors.base import Connector
from connectors.file import FileConnector, FileSettings
from connectors.rt import RTConnector, RTSettings
from router.config import ConfigError, ConnectorSettings, Settings


def connector_settings(cfg: Settings, name: str) -> ConnectorSettings:
    """The settings of connector ``name``, or a ConfigError listing the configured ones."""
    try:
        return cfg.connectors[name]
    except KeyError:
        known = ", ".join(sorted(cfg.connectors)) or "none"
        raise ConfigError(
            f"no connector named '{name}' (configured: {known}); add a [connectors.{name}] table to deskroute.toml"
        ) from None


def _required_secret(name: str, settings: ConnectorSettings, which: str) -> SecretStr:
    var = getattr(settings, f"{which}_env")
    value = settings.secret(which)  # type: ignore[arg-type]
    if value is None or not value.get_secret_value():
        raise ConfigError(
            f"connector '{name}': the environment variable {var} ({which}_env) is not set; "
            f"export it with the helpdesk {which}"
        )
    return value


def _rt(
    name: str, settings: ConnectorSettings, transport: httpx.BaseTransport | None, sleep: Callable[[float], None] | None
) -> RTConnector:
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
        return RTConnector(name, rt_settings, transport=transport, **kwargs)
    except ValueError as exc:  # a mapping that does not fit (VocabularyError)
        raise ConfigError(f"connector '{name}': {exc}") from None


def build_connector(
    name: str,
    settings: ConnectorSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Connector:
    """The connector for ``[connectors.NAME]``; ConfigError names the key to fix when it cannot be built."""
    if settings.type == "rt":
        return _rt(name, settings, transport, sleep)
    if settings.type == "file":
        if settings.path is None and settings.actions_path is None:
            raise ConfigError(
                f"connector '{name}': a file connector needs path (tickets to read) and/or actions_path "
                "(where actions are written)"
            )
        return FileConnector(
            name,
            FileSettings(
                path=settings.path,
                actions_path=settings.actions_path,
                mapping=dict(settings.columns),
                encoding=str(settings.options.get("encoding", "auto")),
                page_size=settings.page_size,
            ),
        )
    raise ConfigError(f"connector '{name}': type '{settings.type}' is not available yet; use 'rt' or 'file'")
