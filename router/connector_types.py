"""Helpdesk adapters, found through a registry: the ``deskroute.connectors`` entry points.

Each entry point names a connector ``type`` (the ``type`` key of a ``[connectors.NAME]`` table) and a factory
``(name, settings, transport, sleep) -> Connector`` that builds that helpdesk's connector from its
:class:`~router.config.ConnectorSettings`. deskroute registers its own (``rt``, ``file``) in pyproject.toml;
another installed package adds a helpdesk by registering an entry point in the same group, without a change
here. The factories live in ``router`` because they read deskroute's settings; the adapters they build, in
``connectors``, know nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

    from connectors.base import Connector
    from router.config import ConnectorSettings

ENTRY_POINT_GROUP = "deskroute.connectors"


class AdapterFactory(Protocol):
    """Builds one helpdesk's connector from its settings; raises ``ConfigError`` naming the key to fix."""

    def __call__(
        self,
        name: str,
        settings: ConnectorSettings,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None] | None,
    ) -> Connector: ...


class UnknownAdapterError(ValueError):
    """No installed adapter has this type, or its registered factory cannot be loaded."""


@cache
def _registered() -> dict[str, EntryPoint]:
    # Scanning the installed distributions takes tens of milliseconds: once per process is enough.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def adapter_types() -> list[str]:
    """The connector types of the installed adapters, sorted."""
    return sorted(_registered())


def _unknown(type_name: str) -> str:
    known = ", ".join(adapter_types())
    if not known:
        return (
            f"unknown connector type '{type_name}': no adapter is registered at all; "
            "install deskroute as a package (pip install -e .) so that its entry points exist"
        )
    return f"unknown connector type '{type_name}'; the installed types are: {known}"


def check_adapter_type(type_name: str) -> str:
    """``type_name`` when an adapter is registered for it, else :class:`UnknownAdapterError` listing the known."""
    if type_name not in _registered():
        raise UnknownAdapterError(_unknown(type_name))
    return type_name


def adapter_factory(type_name: str) -> AdapterFactory:
    """The registered factory for ``type_name``; :class:`UnknownAdapterError` when there is none or it is broken."""
    entry = _registered().get(type_name)
    if entry is None:
        raise UnknownAdapterError(_unknown(type_name))
    try:
        factory = entry.load()
    except Exception as exc:  # a third-party plugin can fail in any way while it imports
        raise UnknownAdapterError(
            f"connector type '{type_name}' is registered as {entry.value}, which cannot be loaded "
            f"({type(exc).__name__}: {exc}); reinstall the package that provides it"
        ) from None
    if not callable(factory):
        raise UnknownAdapterError(
            f"connector type '{type_name}' is registered as {entry.value}, which is not a factory; "
            "reinstall the package that provides it"
        )
    return factory
