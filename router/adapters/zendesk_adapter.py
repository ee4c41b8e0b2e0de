"""The ``zendesk`` adapter's factory: a ZendeskConnector from a ``[connectors.NAME]`` table.

Keys: ``base_url`` (https://SUBDOMAIN.zendesk.com), ``username_env`` (the agent's e-mail address),
``token_env`` (an API token), ``queue_map`` (canonical queue -> group name), ``priority_map``,
``agent_user``, ``page_size``, ``rate_limit_per_minute``, ``webhook_secret_env`` (the webhook's signing
secret), and under ``options``: ``band_field_id``, ``band_values``, ``outreach_group``, ``webhook_id``,
``export_per_minute``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors.zendesk import ZendeskConnector, ZendeskSettings, band_values
from router.config import ConfigError, ConnectorSettings, webhook_secret

OPTIONS = ("band_field_id", "band_values", "outreach_group", "webhook_id", "export_per_minute")


def _positive_int(name: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"connector '{name}': options.{key} = {value!r} must be a positive whole number")
    return value


def _text(name: str, key: str, value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ConfigError(f"connector '{name}': options.{key} = {value!r} must be text")
    return str(value).strip()


def build_zendesk(
    name: str,
    settings: ConnectorSettings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> ZendeskConnector:
    """The Zendesk connector for ``[connectors.NAME]``; ConfigError names the key to fix."""
    base = (settings.base_url or "").rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ConfigError(
            f"connector '{name}': base_url is required for Zendesk, e.g. base_url = \"https://SUBDOMAIN.zendesk.com\""
        )
    if base.endswith("/api/v2"):
        base = base[: -len("/api/v2")]
    if not settings.username_env or not settings.token_env:
        raise ConfigError(
            f"connector '{name}': name the environment variables holding the Zendesk credentials: "
            'username_env = "ZENDESK_EMAIL" (the agent\'s e-mail address) and token_env = "ZENDESK_TOKEN" '
            "(an API token)"
        )
    email = settings.secret("username")
    token = settings.secret("token")
    for var, which, value in ((settings.username_env, "username", email), (settings.token_env, "token", token)):
        if value is None or not value.get_secret_value().strip():
            raise ConfigError(
                f"connector '{name}': the environment variable {var} ({which}_env) is not set; export it with the "
                + ("agent's e-mail address" if which == "username" else "Zendesk API token")
            )
    assert email is not None and token is not None
    unknown = sorted(set(settings.options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"connector '{name}': unknown option(s) {', '.join(unknown)} for Zendesk; known: {', '.join(OPTIONS)}"
        )
    options = settings.options
    band_field = options.get("band_field_id")
    try:
        values = band_values(options.get("band_values"))
    except ValueError as exc:
        raise ConfigError(f"connector '{name}': {exc}") from None
    secret = webhook_secret(name, settings)
    zendesk = ZendeskSettings(
        base_url=base,
        email=email.get_secret_value().strip(),
        token=token,
        timeout=settings.timeout_seconds,
        max_response_bytes=settings.max_response_bytes,
        rate_limit_per_minute=settings.rate_limit_per_minute,
        export_per_minute=_positive_int(name, "export_per_minute", options.get("export_per_minute", 10)),
        page_size=settings.page_size,
        queue_map=dict(settings.queue_map),
        priority_map=dict(settings.priority_map),
        agent_user=settings.agent_user,
        band_field_id=None if band_field is None else _positive_int(name, "band_field_id", band_field),
        band_values=values,
        outreach_group=None
        if options.get("outreach_group") is None
        else _text(name, "outreach_group", options["outreach_group"]),
        webhook_id=None if options.get("webhook_id") is None else _text(name, "webhook_id", options["webhook_id"]),
    )
    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    try:
        return ZendeskConnector(
            name,
            zendesk,
            transport=transport,
            webhook_secret=secret,
            webhook_replay_seconds=settings.webhook_replay_seconds,
            **kwargs,
        )
    except ValueError as exc:  # a priority_map that does not fit Zendesk's words
        raise ConfigError(f"connector '{name}': {exc}") from None
