"""Labelled customer tables (CSV or JSONL): one row per customer, feature columns, a yes/no churn label.

Input is hostile until validated: every problem is a :class:`TableError` naming the file, the line and the
column, with what to do about it. Numbers stay numbers, text becomes a categorical feature, and common
missing-value markers (empty, NA, null, ?) are missing, not junk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from connectors.files import read_rows
from router.behaviour.schema import ColumnKind, FeatureValue

TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0", "churned", "churn"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0", "retained", "stayed"})
MISSING_WORDS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
# A column is numeric when at least this share of its values are numbers; the rest is then junk to report.
NUMERIC_SHARE = 0.9


class TableError(ValueError):
    """A labelled table cannot be used; the message names the file, line and column, and what to do."""


@dataclass
class CustomerTable:
    """A validated table: feature rows in file order, 0/1 labels, row ids and the file line of each row."""

    path: Path
    columns: list[str]
    kinds: dict[str, ColumnKind]
    rows: list[dict[str, FeatureValue]]
    labels: np.ndarray | None
    ids: list[str]
    lines: list[int]
    label: str | None = None

    def __len__(self) -> int:
        return len(self.rows)


def parse_label(value: Any) -> bool | None:
    """A boolean-like label (True/false/yes/no/1/0), or None when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_WORDS


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _lines_text(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:3])
    return shown + (f" (and {len(lines) - 3} more)" if len(lines) > 3 else "")


def read_customer_table(
    path: Path,
    *,
    label: str | None,
    id_column: str | None = None,
    drop: Sequence[str] = (),
    expected: Mapping[str, ColumnKind] | None = None,
) -> CustomerTable:
    """Read and validate a labelled customer table.

    ``label`` may be None for a table to score; ``expected`` (the training table's column kinds) makes a test
    file be read the way the training file was, and names any column it lacks.
    """
    raw: list[tuple[int, dict[str, Any]]] = []
    for line, row in read_rows(path):
        if "__error__" in row:
            raise TableError(f"{path}:{line}: {row['__error__']}")
        raw.append((line, row))
    if not raw:
        raise TableError(f"{path}: no data rows; expected a header and one row per customer")
    header = list(dict.fromkeys(k for _, row in raw for k in row))
    available = ", ".join(header)

    def need(column: str, what: str) -> None:
        if column not in header:
            raise TableError(f"{path}: no column '{column}' ({what}); the columns are: {available}")

    if label is not None:
        need(label, "--label")
    if id_column is not None:
        need(id_column, "--id")
    for column in drop:
        need(column, "--drop")
    excluded = {c for c in (label, id_column) if c} | set(drop)
    columns = [c for c in header if c not in excluded] if expected is None else list(expected)
    if expected is not None:
        missing = [c for c in columns if c not in header]
        if missing:
            raise TableError(
                f"{path}: lacks the training table's column(s) {', '.join(repr(c) for c in missing)}; "
                "give it the same columns (or --drop them when training)"
            )
    if not columns:
        raise TableError(f"{path}: no feature columns left besides the label and id")

    labels = _labels(path, raw, label) if label is not None else None
    ids = _ids(path, raw, id_column)
    kinds = {c: (expected[c] if expected is not None else _kind(path, raw, c)) for c in columns}
    rows = [{c: _value(path, line, row.get(c), c, kinds[c]) for c in columns} for line, row in raw]
    return CustomerTable(path, columns, kinds, rows, labels, ids, [line for line, _ in raw], label)


def _labels(path: Path, raw: list[tuple[int, dict[str, Any]]], label: str) -> np.ndarray:
    values = []
    for line, row in raw:
        value = row.get(label)
        parsed = None if _is_missing(value) else parse_label(value)
        if parsed is None:
            shown = "empty" if _is_missing(value) else repr(value)
            raise TableError(
                f"{path}:{line}: label '{label}' is {shown}; expected a yes/no value "
                "(true/false, yes/no, 1/0) on every row"
            )
        values.append(parsed)
    labels = np.asarray(values, dtype=int)
    if labels.min() == labels.max():
        only = "churned (true)" if labels[0] else "not churned (false)"
        raise TableError(
            f"{path}: label '{label}' has one class only: all {len(labels)} rows are {only}; "
            "a churn model needs customers who churned and customers who stayed"
        )
    return labels


def _ids(path: Path, raw: list[tuple[int, dict[str, Any]]], id_column: str | None) -> list[str]:
    if id_column is None:
        return [f"line {line}" for line, _ in raw]
    seen: dict[str, list[int]] = {}
    for line, row in raw:
        value = row.get(id_column)
        if _is_missing(value):
            raise TableError(f"{path}:{line}: id column '{id_column}' is empty; every customer needs an id")
        seen.setdefault(str(value).strip(), []).append(line)
    duplicates = {k: v for k, v in seen.items() if len(v) > 1}
    if duplicates:
        first, lines = next(iter(duplicates.items()))
        more = f" ({len(duplicates) - 1} more duplicated id(s))" if len(duplicates) > 1 else ""
        raise TableError(
            f"{path}: id column '{id_column}' has duplicates: {first!r} on lines {_lines_text(lines)}{more}; "
            "each customer must appear once (remove the duplicates, or choose another --id)"
        )
    return [str(row.get(id_column)).strip() for _, row in raw]


def _kind(path: Path, raw: list[tuple[int, dict[str, Any]]], column: str) -> ColumnKind:
    present = [(line, row.get(column)) for line, row in raw if not _is_missing(row.get(column))]
    if not present:
        return "numeric"  # all missing: a column of NaN, harmless
    bad = [(line, value) for line, value in present if _number(value) is None]
    if not bad:
        return "numeric"
    if len(bad) <= (1 - NUMERIC_SHARE) * len(present):
        line, value = bad[0]
        lines = [n for n, _ in bad]
        raise TableError(
            f"{path}:{line}: column '{column}' holds numbers ({len(present) - len(bad)} of {len(present)} values) "
            f"but has {value!r} here (non-numeric on line(s) {_lines_text(lines)}); "
            "fix or blank those values, or --drop the column"
        )
    return "categorical"


def _value(path: Path, line: int, value: Any, column: str, kind: ColumnKind) -> FeatureValue:
    if _is_missing(value):
        return None
    if kind == "categorical":
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value).strip()
    number = _number(value)
    if number is None:
        raise TableError(
            f"{path}:{line}: column '{column}' is numeric but has {value!r}; "
            "fix or blank the value, or --drop the column"
        )
    return number
