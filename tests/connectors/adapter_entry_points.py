"""Adapters registered for tests even where the installed package predates them.

Adapters are found through the ``deskroute.connectors`` entry points of the installed package; a checkout whose
package was installed before an adapter existed has no entry point for it until it is reinstalled
(``pip install -e .``). Tests then put a small distribution record naming it on the path
(:func:`entry_point_folder`), in this process and in the deskroute processes they start.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path

GROUP = "deskroute.connectors"


def entry_point_folder(folder: Path, name: str, target: str) -> Path | None:
    """A folder holding a distribution that registers adapter ``name`` (``module:factory``), or None when the
    installed package registers it already."""
    if any(ep.name == name for ep in entry_points(group=GROUP)):
        return None
    info = folder / f"deskroute_{name}_tests-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: deskroute-{name}-tests\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{name} = {target}\n")
    return folder


@contextmanager
def registered(folder: Path, name: str, target: str) -> Iterator[Path | None]:
    """Adapter ``name`` registered while the context lasts; the folder to put on the path of child processes."""
    import router.connector_types

    found = entry_point_folder(folder, name, target)
    if found is not None:
        sys.path.insert(0, str(found))
    router.connector_types._registered.cache_clear()
    try:
        yield found
    finally:
        if found is not None:
            sys.path.remove(str(found))
        router.connector_types._registered.cache_clear()
