"""The ``zendesk`` adapter registered for these tests even where the installed package predates it.

Adapters are found through the ``deskroute.connectors`` entry points of the installed package; a checkout
whose package was installed before the Zendesk adapter existed has no ``zendesk`` entry point until it is
reinstalled (``pip install -e .``). These tests then put a small distribution record naming it on the path
(:func:`entry_point_folder`), in this process and in the deskroute processes they start.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

GROUP = "deskroute.connectors"


def entry_point_folder(folder: Path) -> Path | None:
    """A folder holding a distribution that registers the zendesk adapter, or None when it is installed."""
    if any(ep.name == "zendesk" for ep in entry_points(group=GROUP)):
        return None
    info = folder / "deskroute_zendesk_tests-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: deskroute-zendesk-tests\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nzendesk = router.adapters.zendesk_adapter:build_zendesk\n")
    return folder


@pytest.fixture(scope="session", autouse=True)
def zendesk_registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    import router.connector_types

    folder = entry_point_folder(tmp_path_factory.mktemp("entry-points"))
    if folder is not None:
        sys.path.insert(0, str(folder))
    router.connector_types._registered.cache_clear()
    yield folder
    if folder is not None:
        sys.path.remove(str(folder))
    router.connector_types._registered.cache_clear()
