"""Conditions: a rule's ``when`` as a tree that says, when it fails, which test failed and why.

``failure(facts)`` is None when the condition holds, otherwise the node that failed with what it saw;
the words for the trace are made from that pair (:func:`failure_reason`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from connectors import PRIORITIES
from policies.fields import ABSENT, WEEKDAYS, Facts, FieldSpec, show_value
from policies.patterns import PatternError, SafePattern
from policies.policy_errors import did_you_mean

OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "matches",
    "exists",
)

# Which operators make sense for each kind of field.
KIND_OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("eq", "ne", "in", "not_in", "contains", "matches", "exists"),
    "keyword": ("eq", "ne", "in", "not_in", "contains", "matches", "exists"),
    "keywords": ("contains", "in", "not_in", "matches", "exists"),
    "number": ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "exists"),
    "probability": ("eq", "ne", "lt", "lte", "gt", "gte", "exists"),
    "priority": ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "exists"),
    "bool": ("eq", "ne", "exists"),
    "weekday": ("eq", "ne", "in", "not_in", "exists"),
    "any": OPERATORS,
}

_KIND_HINT: dict[str, str] = {
    "text": "text fields take contains, matches, eq, ne, in, not_in or exists",
    "keywords": "a list field takes contains (any of the values), in, not_in, matches or exists",
    "bool": "a yes/no field takes eq (true/false), ne or exists",
    "weekday": "time.weekday takes eq, ne, in or not_in with mon..sun",
}

_PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}

# What failed: the node, and what it saw (a Leaf: the field's value; AnyOf: its children's failures).
Failure = tuple["Condition", Any]


class ConditionError(ValueError):
    """An operator or operand that does not fit the field; the parser adds the location."""


class Condition:
    """A node of a ``when`` tree."""

    fields: frozenset[str] = frozenset()

    def failure(self, facts: Facts) -> Failure | None:  # pragma: no cover - abstract
        """None when the condition holds for this decision, otherwise what failed, for the trace."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def held(self, facts: Facts) -> list[str]:  # pragma: no cover - abstract
        """For a condition that holds: the tests that made it hold, with the values seen."""
        raise NotImplementedError

    def explain(self, facts: Facts, detail: Any) -> str:  # pragma: no cover - abstract
        """Words for this node's failure; ``detail`` is the second part of its failure pair."""
        raise NotImplementedError

    def canonical(self) -> Any:  # pragma: no cover - abstract
        """A plain-data form, used to compute the policy's version."""
        raise NotImplementedError


class Always(Condition):
    """A rule without ``when``."""

    def failure(self, facts: Facts) -> Failure | None:
        return None

    def describe(self) -> str:
        return "always"

    def held(self, facts: Facts) -> list[str]:
        return ["no conditions"]

    def canonical(self) -> Any:
        return None


def _fold(value: Any) -> Any:
    """Text case-folded (lists element-wise), for case-insensitive comparison."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return [v.casefold() if isinstance(v, str) else v for v in value]
    return value


class Leaf(Condition):
    """One test of one field: ``ticket.language eq de``.

    ``test`` is called with the field's value when it is present, case-folded first when ``fold``.
    """

    def __init__(self, spec: FieldSpec, op: str, operand: Any, test: Callable[[Any], bool], fold: bool):
        self.spec = spec
        self.op = op
        self.operand = operand
        self.test = test
        self.fold = fold
        self.fields = frozenset({spec.name})
        self.description = f"{spec.name} {op} {show_value(operand)}"
        # Only 'exists: false' holds for a field that is not there.
        self.absent_ok = op == "exists" and operand is False

    def failure(self, facts: Facts) -> Failure | None:
        value = facts.value(self.spec)
        if value is ABSENT:
            return None if self.absent_ok else (self, ABSENT)
        holds = self.test(_fold(value) if self.fold else value)
        return None if holds else (self, value)

    def describe(self) -> str:
        return self.description

    def explain(self, facts: Facts, actual: Any) -> str:
        if actual is ABSENT:
            note = facts.absent_notes.get(self.spec.name) or self.spec.absent_means
            return f"{self.spec.name} is absent" + (f" ({note})" if note else "")
        return f"{self.describe()}: was {show_value(actual)}"

    def held(self, facts: Facts) -> list[str]:
        return [f"{self.describe()} (was {show_value(facts.value(self.spec))})"]

    def canonical(self) -> Any:
        return {self.spec.name: {self.op: self.operand}}


class All(Condition):
    def __init__(self, children: list[Condition]):
        self.children = tuple(children)
        self.fields = frozenset().union(*(c.fields for c in children))

    def failure(self, facts: Facts) -> Failure | None:
        for child in self.children:
            failed = child.failure(facts)
            if failed is not None:
                return failed
        return None

    def describe(self) -> str:
        return "all of (" + "; ".join(c.describe() for c in self.children) + ")"

    def held(self, facts: Facts) -> list[str]:
        return [line for c in self.children for line in c.held(facts)]

    def canonical(self) -> Any:
        return {"all": [c.canonical() for c in self.children]}


class AnyOf(Condition):
    def __init__(self, children: list[Condition]):
        self.children = tuple(children)
        self.fields = frozenset().union(*(c.fields for c in children))

    def failure(self, facts: Facts) -> Failure | None:
        failures = []
        for child in self.children:
            failed = child.failure(facts)
            if failed is None:
                return None
            failures.append(failed)
        return (self, failures)

    def describe(self) -> str:
        return "any of (" + "; ".join(c.describe() for c in self.children) + ")"

    def explain(self, facts: Facts, failures: Any) -> str:
        return "none of these held: " + "; ".join(explain_failure(facts, f) for f in failures)

    def held(self, facts: Facts) -> list[str]:
        for child in self.children:
            if child.failure(facts) is None:
                return child.held(facts)
        return []  # pragma: no cover - only called when the condition holds

    def canonical(self) -> Any:
        return {"any": [c.canonical() for c in self.children]}


class Not(Condition):
    def __init__(self, child: Condition):
        self.child = child
        self.fields = child.fields

    def failure(self, facts: Facts) -> Failure | None:
        return (self, None) if self.child.failure(facts) is None else None

    def describe(self) -> str:
        return f"not ({self.child.describe()})"

    def explain(self, facts: Facts, detail: Any) -> str:
        return f"not ({self.child.describe()}): but it held"

    def held(self, facts: Facts) -> list[str]:
        failed = self.child.failure(facts)
        inner = explain_failure(facts, failed) if failed is not None else ""
        return [f"not ({self.child.describe()}): {inner}"]

    def canonical(self) -> Any:
        return {"not": self.child.canonical()}


def explain_failure(facts: Facts, failed: Failure) -> str:
    """Words for a failure: which test failed, with the values compared."""
    node, detail = failed
    return node.explain(facts, detail)


def failure_reason(facts: Facts, failed: Failure) -> str:
    """The trace's reason for a rule whose condition failed: ``condition failed:`` and the words."""
    return "condition failed: " + explain_failure(facts, failed)


# --- building leaves -------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def _scalar_list(op: str, operand: Any) -> list[Any]:
    if not isinstance(operand, list) or not operand:
        raise ConditionError(f"'{op}' takes a non-empty list, e.g. {op}: [a, b]")
    for item in operand:
        if isinstance(item, list | dict):
            raise ConditionError(f"'{op}' takes a list of plain values, not nested lists or mappings")
    return operand


def _text_operands(op: str, operand: Any) -> list[str]:
    items = operand if isinstance(operand, list) else [operand]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise ConditionError(f"'{op}' takes text or a list of text, e.g. {op}: [refund, chargeback]")
    return items


def _expect(kind: str, op: str, value: Any) -> Any:
    """Check one operand value against the field's kind; return it normalised."""
    if kind in ("text", "keyword"):
        if _is_number(value):
            value = str(value)
        if not isinstance(value, str):
            raise ConditionError(f"'{op}' on this field takes text, not {show_value(value)}")
        return value.casefold()
    if kind == "number":
        if not _is_number(value):
            raise ConditionError(f"'{op}' on this field takes a number, not {show_value(value)}")
        return float(value)
    if kind == "probability":
        if not _is_number(value):
            raise ConditionError(f"'{op}' on this field takes a number between 0 and 1, not {show_value(value)}")
        if not 0.0 <= float(value) <= 1.0:
            raise ConditionError(f"threshold {value} is outside 0..1; probabilities are written 0.8, not 80")
        return float(value)
    if kind == "priority":
        if value not in _PRIORITY_RANK:
            raise ConditionError(f"{show_value(value)} is not a priority; use one of {', '.join(PRIORITIES)}")
        return _PRIORITY_RANK[value]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConditionError(f"'{op}' on this field takes true or false, not {show_value(value)}")
        return value
    if kind == "weekday":
        word = str(value).strip().lower()[:3]
        if word not in WEEKDAYS:
            raise ConditionError(f"{show_value(value)} is not a weekday; use {', '.join(WEEKDAYS)}")
        return word
    # "any": plain values only
    if isinstance(value, list | dict) or value is None:
        raise ConditionError(f"'{op}' takes a plain value (text, number, true/false), not {show_value(value)}")
    return _fold(value)


def _any_equal(a: Any, b: Any) -> bool:
    """Equality for open fields (attributes, features): numbers by value, text ignoring case.

    Text that spells a number equals that number ('250' == 250); text is only parsed as a number when
    the other side is one, which keeps the common text-to-text comparison cheap.
    """
    if type(a) is str and type(b) is str:
        return a.casefold() == b.casefold()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_number(a) or _is_number(b):
        na, nb = _as_number(a), _as_number(b)
        return na is not None and nb is not None and na == nb
    return bool(a == b)


def build_leaf(spec: FieldSpec, op: str, operand: Any, known_values: set[str] | None = None) -> Leaf:
    """A test of ``spec`` with ``op``; raise ConditionError with advice when it does not fit.

    ``known_values`` lists the only values an ``eq``/``in`` operand may take (e.g. the declared teams
    for ``signals.intent``), so that a typo is caught when the policy loads rather than never matching.
    """
    kind = spec.kind
    if op not in OPERATORS:
        raise ConditionError(f"unknown operator '{op}'{did_you_mean(op, OPERATORS)}")
    if op not in KIND_OPERATORS[kind]:
        hint = _KIND_HINT.get(kind, f"{spec.name} takes {', '.join(KIND_OPERATORS[kind])}")
        raise ConditionError(f"operator '{op}' does not apply to {spec.name}; {hint}")

    if op == "exists":
        if not isinstance(operand, bool):
            raise ConditionError("'exists' takes true or false")
        want = operand

        def exists(v: Any) -> bool:
            present = not (v == "" or v == [])
            return present == want

        return Leaf(spec, op, operand, exists, fold=False)

    if op == "matches":
        if not isinstance(operand, str) or not operand:
            raise ConditionError("'matches' takes a regular expression as text")
        try:
            pattern = SafePattern(operand)
        except PatternError as exc:
            raise ConditionError(f"regular expression '{operand}' {exc}") from None

        def matches(v: Any) -> bool:
            if isinstance(v, str):
                return pattern.search(v)
            if isinstance(v, list):
                return any(isinstance(item, str) and pattern.search(item) for item in v)
            return pattern.search(str(v))

        return Leaf(spec, op, operand, matches, fold=False)

    if op == "contains":
        needles = [n.casefold() for n in _text_operands(op, operand)]
        if kind == "keywords":
            wanted = set(needles)
            return Leaf(spec, op, operand, lambda v: not wanted.isdisjoint(v), fold=True)
        if kind == "any":

            def contains_any(v: Any) -> bool:
                if isinstance(v, str):
                    return any(n in v for n in needles)
                if isinstance(v, list):
                    return any(_fold(e) in needles for e in v)
                return False

            return Leaf(spec, op, operand, contains_any, fold=True)
        return Leaf(spec, op, operand, lambda v: any(n in v for n in needles), fold=True)

    if op in ("in", "not_in"):
        items = [_expect(kind, op, i) for i in _scalar_list(op, operand)]
        _check_known(spec, op, operand, known_values)
        negate = op == "not_in"
        members = set(items)
        if kind == "keywords":
            return Leaf(spec, op, operand, lambda v: members.isdisjoint(v) == negate, fold=True)
        if kind == "priority":
            return Leaf(spec, op, operand, lambda v: (_PRIORITY_RANK[v] in members) != negate, fold=False)
        if kind == "any":
            return Leaf(spec, op, operand, lambda v: any(_any_equal(v, i) for i in items) != negate, fold=True)
        if kind == "number":
            return Leaf(spec, op, operand, lambda v: (float(v) in members) != negate, fold=False)
        return Leaf(spec, op, operand, lambda v: (v in members) != negate, fold=True)

    if op in ("eq", "ne"):
        if isinstance(operand, list):
            raise ConditionError(
                f"'{op}' takes one value; to compare with several use {'in' if op == 'eq' else 'not_in'}"
            )
        want = _expect(kind, op, operand)
        _check_known(spec, op, [operand], known_values)
        negate = op == "ne"
        if kind == "priority":
            return Leaf(spec, op, operand, lambda v: (_PRIORITY_RANK[v] == want) != negate, fold=False)
        if kind == "any":
            return Leaf(spec, op, operand, lambda v: _any_equal(v, want) != negate, fold=True)
        if kind in ("number", "probability"):
            return Leaf(spec, op, operand, lambda v: (float(v) == want) != negate, fold=False)
        if kind == "bool":
            return Leaf(spec, op, operand, lambda v: (v is want) != negate, fold=False)
        return Leaf(spec, op, operand, lambda v: (v == want) != negate, fold=True)

    # lt lte gt gte
    if isinstance(operand, list):
        raise ConditionError(f"'{op}' takes one value, not a list")
    compare = _COMPARE[op]
    if kind == "priority":
        rank = _expect(kind, op, operand)
        return Leaf(spec, op, operand, lambda v: compare(_PRIORITY_RANK[v], rank), fold=False)
    if kind == "any":
        if not _is_number(operand):
            raise ConditionError(f"'{op}' takes a number, not {show_value(operand)}")
        bound = float(operand)

        def compare_any(v: Any) -> bool:
            n = _as_number(v)
            return n is not None and compare(n, bound)

        return Leaf(spec, op, operand, compare_any, fold=False)
    bound = _expect(kind, op, operand)
    return Leaf(spec, op, operand, lambda v: compare(v, bound), fold=False)


def _check_known(spec: FieldSpec, op: str, values: list[Any], known: set[str] | None) -> None:
    if known is None:
        return
    folded = {k.casefold() for k in known}
    for value in values:
        if str(value).casefold() not in folded:
            raise ConditionError(f"'{value}' is not a declared queue or intent label" + did_you_mean(str(value), known))
