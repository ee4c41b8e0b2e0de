"""Helpdesk adapters are found through the ``deskroute.connectors`` entry points, deskroute's own and others'."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.file_connector import FileConnector
from connectors.rt import RTConnector
from router import connector_types as adapters
from router.adapters.connector_factory import build_connector
from router.config import ConfigError, ConnectorSettings

PLUGIN = """
from connectors.file_connector import FileConnector, FileSettings


def build(name, settings, transport, sleep):
    connector = FileConnector(name, FileSettings(path=settings.path))
    connector.built_by = "plugin"
    return connector
"""


def install_plugin(folder: Path, types: dict[str, str], module: str, source: str) -> None:
    """An installed distribution in ``folder``: its metadata with entry points, and its module."""
    info = folder / "deskroute_fakedesk-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: deskroute-fakedesk\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in types.items())
    (info / "entry_points.txt").write_text(f"[{adapters.ENTRY_POINT_GROUP}]\n{lines}")
    (folder / f"{module}.py").write_text(source)


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    adapters._registered.cache_clear()
    yield folder
    adapters._registered.cache_clear()
    for name in [m for m in sys.modules if m.startswith("fakedesk")]:
        del sys.modules[name]


def test_deskroutes_own_adapters_are_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"rt", "file"} <= set(adapters.adapter_types())
    monkeypatch.setenv("RT_TEST_TOKEN", "t0ken")
    rt = build_connector(
        "desk", ConnectorSettings(type="rt", base_url="https://rt.example.com", token_env="RT_TEST_TOKEN")
    )
    assert isinstance(rt, RTConnector) and rt.name == "desk"
    rt.close()
    files = build_connector("dry", ConnectorSettings(type="file", path=tmp_path / "tickets.csv"))
    assert isinstance(files, FileConnector)


def test_an_unknown_type_lists_the_installed_ones() -> None:
    # jira has no adapter yet; the list holds at least the adapters this checkout installs.
    with pytest.raises(
        ValueError, match=r"unknown connector type 'jira'; the installed types are: file, (freshdesk, )?rt, zendesk"
    ):
        ConnectorSettings(type="jira")
    # Settings built without validation still meet the registry when the connector is built.
    unchecked = ConnectorSettings.model_construct(type="jira")
    with pytest.raises(ConfigError, match=r"connector 'jd': unknown connector type 'jira'; the installed types"):
        build_connector("jd", unchecked)


def test_another_packages_adapter_is_found_without_a_change_here(plugin_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown connector type 'fakedesk'"):
        ConnectorSettings(type="fakedesk")
    adapters._registered.cache_clear()
    install_plugin(plugin_folder, {"fakedesk": "fakedesk_plugin:build"}, "fakedesk_plugin", PLUGIN)
    assert {"fakedesk", "file", "rt"} <= set(adapters.adapter_types())
    settings = ConnectorSettings(type="fakedesk", path=tmp_path / "tickets.csv")
    connector = build_connector("fd", settings)
    assert isinstance(connector, FileConnector) and connector.name == "fd"
    assert getattr(connector, "built_by", None) == "plugin"


def test_a_broken_adapter_is_a_clear_error(plugin_folder: Path) -> None:
    install_plugin(
        plugin_folder,
        {"brokendesk": "fakedesk_broken:build", "oddesk": "fakedesk_broken:NOT_A_FACTORY"},
        "fakedesk_broken",
        "import no_such_library_anywhere\n",
    )
    settings = ConnectorSettings(type="brokendesk")  # registered, so the configuration accepts it
    with pytest.raises(
        ConfigError,
        match=r"connector 'b': connector type 'brokendesk' is registered as "
        r"fakedesk_broken:build, which cannot be loaded \(ModuleNotFoundError",
    ):
        build_connector("b", settings)
    (plugin_folder / "fakedesk_broken.py").write_text("NOT_A_FACTORY = 42\n")
    with pytest.raises(ConfigError, match="which is not a factory"):
        build_connector("o", ConnectorSettings(type="oddesk"))
