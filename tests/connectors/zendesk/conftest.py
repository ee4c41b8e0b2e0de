"""The ``zendesk`` adapter registered for these tests even where the installed package predates it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.adapter_entry_points import registered


@pytest.fixture(scope="session", autouse=True)
def zendesk_registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    folder = tmp_path_factory.mktemp("entry-points")
    with registered(folder, "zendesk", "router.adapters.zendesk_adapter:build_zendesk") as found:
        yield found
