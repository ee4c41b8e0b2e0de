"""The ``freshdesk`` adapter's factory: a FreshdeskConnector from a ``[connectors.NAME]`` table.

Keys: ``base_url`` (https://DOMAIN.freshdesk.com), ``token_env`` (the API key), ``queue_map`` (canonical
queue -> group name), ``priority_map`` (canonical priority -> Freshdesk priority name or code),
``status_map`` (Freshdesk status name or code -> canonical status), ``agent_user``, ``page_size``,
``rate_limit_per_minute``, ``webhook_secret_env`` (the X-Deskroute-Secret the automation sends), and under
``options``: ``email_config_id`` (the mailbox outreach is sent from), ``outreach_group``, ``list_per_minute``
(the plan's ticket-list limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
from connectors.freshdesk.freshdesk_api import PER_PAGE
from router.config import ConfigError, ConnectorSettings, webhook_secret

OPTIONS = ("email_config_id", "outreach_group", "list_per_minute")


def build_freshdesk(
    name: str,
    settings: ConnectorSettings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> FreshdeskConnector:
    """The Freshdesk connector for ``[connectors.NAME]``; ConfigError names the key to fix."""
    base = (settings.base_url or "").rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ConfigError(
            f"connector '{name}': base_url is required for Freshdesk, e.g. base_url = \"https://DOMAIN.freshdesk.com\""
        )
    base = base.removesuffix("/api/v2")
    if not settings.token_env:
        raise ConfigError(
            f"connector '{name}': name the environment variable holding the Freshdesk API key: "
            'token_env = "FRESHDESK_API_KEY"'
        )
    key = settings.secret("token")
    if key is None or not key.get_secret_value().strip():
        raise ConfigError(
            f"connector '{name}': the environment variable {settings.token_env} (token_env) is not set; export it "
            "with the agent's Freshdesk API key"
        )
    unknown = sorted(set(settings.options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"connector '{name}': unknown option(s) {', '.join(unknown)} for Freshdesk; known: {', '.join(OPTIONS)}"
        )
    mailbox: Any = settings.options.get("email_config_id")
    if mailbox is not None and (isinstance(mailbox, bool) or not isinstance(mailbox, int) or mailbox <= 0):
        raise ConfigError(
            f"connector '{name}': options.email_config_id = {mailbox!r} must be the mailbox's id (a whole number; "
            "GET /api/v2/email_configs lists them)"
        )
    group: Any = settings.options.get("outreach_group", settings.outreach_queue)
    if group is not None and (not isinstance(group, str) or not group.strip()):
        raise ConfigError(f"connector '{name}': options.outreach_group = {group!r} must be a group's name")
    listing: Any = settings.options.get("list_per_minute", 20)
    if isinstance(listing, bool) or not isinstance(listing, int) or listing <= 0:
        raise ConfigError(
            f"connector '{name}': options.list_per_minute = {listing!r} must be the plan's ticket-list limit per "
            "minute (a whole number: Growth 20, Pro 100, Enterprise 200)"
        )
    if settings.page_size > PER_PAGE:
        raise ConfigError(
            f"connector '{name}': page_size = {settings.page_size}; Freshdesk pages hold at most {PER_PAGE}"
        )
    freshdesk = FreshdeskSettings(
        base_url=base,
        api_key=key,
        timeout=settings.timeout_seconds,
        max_response_bytes=settings.max_response_bytes,
        rate_limit_per_minute=settings.rate_limit_per_minute,
        list_per_minute=listing,
        page_size=settings.page_size,
        queue_map=dict(settings.queue_map),
        priority_map=dict(settings.priority_map),
        status_map=dict(settings.status_map),
        agent_user=settings.agent_user,
        email_config_id=mailbox,
        outreach_group=group.strip() if group else None,
    )
    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    try:
        return FreshdeskConnector(
            name,
            freshdesk,
            transport=transport,
            webhook_secret=webhook_secret(name, settings),
            webhook_replay_seconds=settings.webhook_replay_seconds,
            **kwargs,
        )
    except ValueError as exc:  # a priority_map or status_map that does not fit
        raise ConfigError(f"connector '{name}': {exc}") from None
