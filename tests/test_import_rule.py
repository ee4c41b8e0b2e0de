"""The dependency rule of ARCHITECTURE.md, checked on every import statement of every package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

OURS = ("connectors", "router", "embeddings", "policies", "evals")
# package -> the packages of ours it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "connectors": set(),
    "embeddings": set(),
    "policies": {"connectors"},
    "router": {"policies", "connectors", "embeddings"},
    "evals": {"router", "policies", "connectors", "embeddings"},
}
COMPOSITION_ROOT = "router.cli"


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
            if module == COMPOSITION_ROOT or module.startswith(COMPOSITION_ROOT + "."):
                continue
            for line, name in imported_modules(path):
                top = name.split(".")[0]
                if top not in OURS or top == package:
                    if top == "router" and name.startswith(COMPOSITION_ROOT) and package == "router":
                        problems.append(f"{path.relative_to(root)}:{line}: imports {name} (only the CLI may)")
                    continue
                if top not in ALLOWED[package] or name.startswith(COMPOSITION_ROOT):
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
