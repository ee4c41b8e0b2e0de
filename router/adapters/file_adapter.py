"""The ``file`` adapter's factory: a FileConnector (tickets from CSV/JSONL, actions to a JSONL file)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors.file_connector import FileConnector, FileSettings
from router.config import ConfigError, ConnectorSettings, webhook_secret


def build_file(
    name: str,
    settings: ConnectorSettings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> FileConnector:
    """The file connector for ``[connectors.NAME]`` (it speaks no HTTP: ``transport`` and ``sleep`` are unused)."""
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
        webhook_secret=webhook_secret(name, settings),
        webhook_replay_seconds=settings.webhook_replay_seconds,
    )
