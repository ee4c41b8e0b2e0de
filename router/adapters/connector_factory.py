"""Building connectors from ``[connectors.NAME]`` settings, through the registry of ``router.connector_types``."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors.base import Connector
from router.config import ConfigError, ConnectorSettings, Settings
from router.connector_types import UnknownAdapterError, adapter_factory


def connector_settings(cfg: Settings, name: str) -> ConnectorSettings:
    """The settings of connector ``name``, or a ConfigError listing the configured ones."""
    try:
        return cfg.connectors[name]
    except KeyError:
        known = ", ".join(sorted(cfg.connectors)) or "none"
        raise ConfigError(
            f"no connector named '{name}' (configured: {known}); add a [connectors.{name}] table to deskroute.toml"
        ) from None


def build_connector(
    name: str,
    settings: ConnectorSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Connector:
    """The connector for ``[connectors.NAME]``, built by the adapter registered for its ``type``.

    ConfigError names the key to fix when it cannot be built, or lists the installed types for an unknown one.
    """
    try:
        factory = adapter_factory(settings.type)
    except UnknownAdapterError as exc:
        raise ConfigError(f"connector '{name}': {exc}") from None
    return factory(name, settings, transport, sleep)
