"""Hostile YAML is refused cleanly, with a location, before any policy logic sees it."""

from __future__ import annotations

import pytest

from policies import PolicyError, parse_policy
from policies.yaml_reader import MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENT_BYTES, read_yaml


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "hostile.yaml")
    return raised.value


def test_a_huge_document_is_refused_before_parsing() -> None:
    text = "version: 1\n" + "# padding\n" * (MAX_DOCUMENT_BYTES // 10 + 1)
    error = _error(text)
    assert "a policy may be at most" in str(error)


def test_billion_laughs_is_refused() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    error = _error("\n".join(lines))
    assert f"more than {MAX_ALIASES} YAML aliases" in str(error)


def test_a_few_aliases_that_expand_too_far_are_refused() -> None:
    # Few aliases, but each doubles the size: caught by the expanded-size bound.
    lines = ["a0: &a0 [" + ", ".join(["x"] * 2000) + "]"]
    for i in range(1, MAX_ALIASES // 2 + 1):
        lines.append(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]")
    error = _error("\n".join(lines))
    assert "alias bomb" in str(error)


def test_deep_nesting_is_refused() -> None:
    error = _error("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    assert f"nested more than {MAX_DEPTH} levels" in str(error)
    assert error.issues[0].line == 1


def test_recursive_alias_is_refused() -> None:
    assert "contains it" in str(_error("a: &a [*a]"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nversion: 1\n", "duplicate key 'version' (first written at line 1)"),
        ("x: !!python/object/apply:os.system ['true']\n", "YAML tag"),
        ("x: !!binary aGVsbG8=\n", "YAML tag"),
        ("base: &b {a: 1}\nother:\n  <<: *b\n", "merge keys"),
        ("? [a, b]\n: c\n", "a key must be plain text"),
        ("version: 1\n---\nversion: 1\n", "more than one YAML document"),
        ("", "the file is empty"),
        ("when: 2024-13-45\n", "cannot be read"),
        ("version: [1\n", "invalid YAML"),
    ],
)
def test_surprising_yaml_is_refused_with_a_location(text: str, message: str) -> None:
    error = _error(text)
    assert message in str(error)
    assert all(issue.source == "hostile.yaml" for issue in error.issues)


def test_yaml_1_1_quirks_are_read_as_written() -> None:
    doc = read_yaml("lang: no\nstart: 18:00\nflag: true\n", "q.yaml")
    assert doc.data == {"lang": "no", "start": "18:00", "flag": True}


def test_wrong_types_everywhere_give_located_errors() -> None:
    error = _error("version: 1\nqueues: [a, b]\ndefaults: yes\nrules: {name: x}\n")
    lines = {issue.line for issue in error.issues}
    assert {2, 3, 4} <= lines
