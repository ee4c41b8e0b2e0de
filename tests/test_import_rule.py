"""The architecture of docs/architecture.md, checked on every import statement: the dependency rule between
packages, the layers of router/'s parts, that the document lists exactly the parts on disk and entry points that
exist, and no import cycle among our modules."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

OURS = ("connectors", "router", "embeddings", "policies", "evals")
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` (cells stripped, header and rule skipped)."""
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _code(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


DOC = ARCHITECTURE.read_text(encoding="utf-8")
# package -> the packages of ours it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    _code(package)[0]: set(_code(may)) for package, may in _table(DOC, "Packages and the dependency rule")
}
# router part (a folder or a top-level module) -> its layer, and its documented entry point
LAYERS: dict[str, int] = {}
PART_ENTRY: dict[str, str] = {}
for layer, part, _holds, entry in _table(DOC, "router/ by the loop's stages"):
    name = _code(part)[0].removeprefix("router/").removesuffix("/").removesuffix(".py")
    LAYERS[name] = int(layer)
    PART_ENTRY[name] = _code(entry)[0]
ENTRY_POINTS = [_code(folder)[0].removesuffix("/").replace("/", ".") for _, folder in _table(DOC, "Entry points")]


def is_entry_point(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in ENTRY_POINTS)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(root: Path) -> list[str]:
    problems = []
    for package in OURS:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            if is_entry_point(module):
                continue
            for line, name in imported_modules(path):
                top = name.split(".")[0]
                if top not in OURS or top == package:
                    if top == "router" and is_entry_point(name) and package == "router":
                        problems.append(f"{path.relative_to(root)}:{line}: imports {name} (only an entry point may)")
                    continue
                if top not in ALLOWED[package] or is_entry_point(name):
                    problems.append(f"{path.relative_to(root)}:{line}: {package} must not import {name}")
    return problems


def test_packages_follow_the_dependency_rule() -> None:
    assert violations(REPO_ROOT) == []


@pytest.mark.parametrize(
    ("package", "statement"),
    [
        ("connectors", "from router.store import Store"),
        ("embeddings", "import policies"),
        ("policies", "from router.config import Settings"),
        ("router", "from evals import metrics"),
        ("evals", "from router.cli import app"),
    ],
)
def test_rule_catches_an_import_against_the_arrows(tmp_path: Path, package: str, statement: str) -> None:
    for name in OURS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / package / "bad.py").write_text(statement + "\n")
    assert len(violations(tmp_path)) == 1


def _runtime_imports(body: list[ast.stmt]) -> list[tuple[int, str]]:
    """Every import a module can run (functions included), except those only for type checkers."""
    found: list[tuple[int, str]] = []
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            found += _runtime_imports(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                found += _runtime_imports([c for c in children if isinstance(c, ast.stmt | ast.excepthandler)])
    return found


def router_parts(root: Path) -> set[str]:
    """The parts of router/ on disk: its folders with an ``__init__.py`` and its top-level modules."""
    parts = {p.parent.name for p in (root / "router").glob("*/__init__.py")}
    parts |= {p.stem for p in (root / "router").glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    return {p for p in parts if not is_entry_point(f"router.{p}")}


def layer_violations(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "router").rglob("*.py")):
        relative = path.relative_to(root / "router").with_suffix("").parts
        if is_entry_point(".".join(("router", *relative))) or relative == ("__init__",):
            continue
        part = relative[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _runtime_imports(tree.body):
            pieces = name.split(".")
            if pieces[0] != "router" or len(pieces) < 2 or pieces[1] == part or is_entry_point(name):
                continue
            target = pieces[1]
            if target not in LAYERS or part not in LAYERS or LAYERS[target] >= LAYERS[part]:
                problems.append(
                    f"{path.relative_to(root)}:{line}: router part '{part}' (layer {LAYERS.get(part)}) must not "
                    f"import '{target}' (layer {LAYERS.get(target)}); see docs/architecture.md"
                )
    return problems


def test_architecture_lists_every_part_of_router_and_nothing_else() -> None:
    assert router_parts(REPO_ROOT) == set(LAYERS)


def test_router_parts_import_only_the_layers_below_them() -> None:
    assert layer_violations(REPO_ROOT) == []


@pytest.mark.parametrize("part", sorted(PART_ENTRY))
def test_each_part_has_the_entry_point_the_architecture_names(part: str) -> None:
    module, _, attribute = PART_ENTRY[part].partition(":")
    assert module == f"router.{part}" or module.startswith(f"router.{part}.")
    assert hasattr(importlib.import_module(module), attribute)


def test_entry_points_exist() -> None:
    for root in ENTRY_POINTS:
        assert (REPO_ROOT / root.replace(".", "/") / "__init__.py").is_file(), root


def test_layer_check_catches_an_import_of_a_later_stage(tmp_path: Path) -> None:
    (tmp_path / "router" / "store").mkdir(parents=True)
    (tmp_path / "router" / "store" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from router.runtime import Runtime\n"  # for type checkers only: allowed
        "def f():\n    from router.loop.cycle import run_cycle\n"
    )
    assert [p.split(": ", 1)[1].split(" (")[0] for p in layer_violations(tmp_path)] == ["router part 'store'"]


# --- import cycles --------------------------------------------------------------------------------------


def our_modules(root: Path) -> dict[str, Path]:
    """Every module of our packages by dotted name (a package by its ``__init__.py``)."""
    modules: dict[str, Path] = {}
    for package in OURS:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is imported: not those in functions or under ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += module_level_imports(node.body)
            found += module_level_imports(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            found += module_level_imports(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                found += module_level_imports(handler.body)
        elif isinstance(node, ast.With | ast.For | ast.While | ast.ClassDef):  # run at import time
            found += module_level_imports(node.body)
            if isinstance(node, ast.For | ast.While):
                found += module_level_imports(node.orelse)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ours that importing it runs.

    ``import a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``; ``from a.b import c`` runs ``a``, ``a.b`` and the
    module ``a.b.c`` if there is one. The packages a module is part of are already imported when it runs,
    so they are not edges.
    """
    modules = our_modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        names: list[str] = []
        for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
        targets = set()
        for name in names:
            parts = name.split(".")
            targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()
        ancestors = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        graph[module] = targets - ancestors
    return graph


def import_cycles(root: Path) -> list[str]:
    """Each import cycle found, as ``a -> b -> a``; empty when the modules import each other acyclically."""
    graph = import_graph(root)
    done: set[str] = set()
    cycles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return cycles


def test_our_modules_import_each_other_without_cycles() -> None:
    assert import_cycles(REPO_ROOT) == []


def test_cycle_check_counts_what_runs_at_import_time(tmp_path: Path) -> None:
    for name in OURS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    policies = tmp_path / "policies"
    (policies / "__init__.py").write_text("from policies.engine import decide\n")
    (policies / "engine.py").write_text("from policies import language\n\ndef decide(): ...\n")
    (policies / "language.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from policies.testing import Case\n"
        "def load():\n    from policies import testing\n"
    )
    (policies / "testing.py").write_text("from policies.engine import decide\n")
    assert import_cycles(tmp_path) == []
    (policies / "language.py").write_text("try:\n    from .testing import Case\nexcept ImportError:\n    pass\n")
    assert import_cycles(tmp_path) == ["policies.engine -> policies.language -> policies.testing -> policies.engine"]
