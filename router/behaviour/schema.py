"""Turning feature rows (dicts) into the numeric matrix a model reads, the same way at fit and predict time.

A column is categorical when any of its training values is text; categories are coded by frequency (most
common first), and categories seen fewer than ``min_count`` times, or never seen, share one "other" code. That
ordinal coding keeps the tree model's splits plain numeric thresholds, which its attribution method (SHAP's
tree explainer) explains exactly; native categorical splits it does not. Missing values stay NaN, which the
gradient-boosting model routes on its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

FeatureValue = float | str | None
ColumnKind = Literal["numeric", "categorical"]
OTHER = "(other)"
# The tree model bins a feature into at most 255 values; keep room for "other".
MAX_CATEGORIES = 250


@dataclass
class FeatureSpec:
    """How one column is encoded, with the training distribution used to word reasons."""

    name: str
    kind: ColumnKind
    categories: list[str] = field(default_factory=list)
    low: float | None = None  # 25th percentile of the training values
    median: float | None = None
    high: float | None = None  # 75th percentile

    def code(self, value: Any) -> float:
        if value is None:
            return math.nan
        if self.kind == "numeric":
            if isinstance(value, str):
                raise ValueError(f"feature '{self.name}' is numeric, got text {value!r}")
            number = float(value)
            return number
        text = _as_text(value)
        try:
            return float(self.categories.index(text))
        except ValueError:
            return float(len(self.categories))  # the shared "other" code

    def value_of(self, code: float) -> FeatureValue:
        """The readable value behind an encoded one."""
        if math.isnan(code):
            return None
        if self.kind == "numeric":
            return code
        index = int(code)
        return self.categories[index] if index < len(self.categories) else OTHER

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "categories": self.categories,
            "low": self.low,
            "median": self.median,
            "high": self.high,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            name=str(data["name"]),
            kind="categorical" if data["kind"] == "categorical" else "numeric",
            categories=[str(c) for c in data.get("categories", [])],
            low=data.get("low"),
            median=data.get("median"),
            high=data.get("high"),
        )


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class FeatureSchema:
    """The ordered columns of a model's input and how each is encoded."""

    specs: list[FeatureSpec]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, s in enumerate(self.specs) if s.kind == "categorical"]

    @property
    def numeric_indices(self) -> list[int]:
        return [i for i, s in enumerate(self.specs) if s.kind == "numeric"]

    @classmethod
    def infer(
        cls, rows: Sequence[Mapping[str, FeatureValue]], names: Sequence[str] | None = None, min_count: int = 5
    ) -> FeatureSchema:
        """Learn the columns, their kinds and category codes from training rows.

        A column without a single value in the training rows (no ratings in this helpdesk, say) has nothing
        to teach and is left out.
        """
        if not rows:
            raise ValueError("no rows to learn features from")
        if names is None:
            seen: dict[str, None] = {}
            for row in rows:
                seen.update(dict.fromkeys(row))
            names = list(seen)
        specs = []
        for name in names:
            values = [row.get(name) for row in rows]
            present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if not present:
                continue
            if any(isinstance(v, str | bool) for v in present):
                counts = Counter(_as_text(v) for v in present)
                frequent = [c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
                if not frequent and counts:  # a tiny table: keep what there is rather than one lone "other"
                    frequent = [c for c, _ in counts.most_common()]
                specs.append(FeatureSpec(name, "categorical", frequent[:MAX_CATEGORIES]))
                continue
            numbers = np.asarray([float(v) for v in present], dtype=float)
            low, median, high = (float(q) for q in np.percentile(numbers, [25, 50, 75]))
            specs.append(FeatureSpec(name, "numeric", low=low, median=median, high=high))
        return cls(specs)

    def encode(self, rows: Sequence[Mapping[str, FeatureValue]]) -> np.ndarray:
        """The (n_rows, n_features) float matrix; absent keys and None are NaN."""
        matrix = np.full((len(rows), len(self.specs)), np.nan, dtype=float)
        for i, row in enumerate(rows):
            for j, spec in enumerate(self.specs):
                matrix[i, j] = spec.code(row.get(spec.name))
        return matrix

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.specs]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> FeatureSchema:
        return cls([FeatureSpec.from_json(d) for d in data])


def baseline_preprocessor(schema: FeatureSchema, passthrough: int = 0) -> Any:
    """What a linear model needs on the same encoded matrix: impute + scale numbers, one-hot categories.

    The first ``passthrough`` columns (other inputs placed before the schema's) go through unchanged.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, list[int]]] = []
    if passthrough:
        parts.append(("inputs", "passthrough", list(range(passthrough))))
    if schema.numeric_indices:
        numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
        parts.append(("numeric", numeric, [passthrough + i for i in schema.numeric_indices]))
    if schema.categorical_indices:
        categorical = make_pipeline(
            SimpleImputer(strategy="constant", fill_value=-1.0), OneHotEncoder(handle_unknown="ignore")
        )
        parts.append(("categorical", categorical, [passthrough + i for i in schema.categorical_indices]))
    return ColumnTransformer(parts)
