"""Compiled conditions: a rule's ``when`` as a tree that says, when it fails, which test failed and why.

Evaluation is on the hot path (every rule of every decision), so a test returns ``None`` when it holds and
a small failure tuple when it does not; the words for the trace are made from that tuple afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors import PRIORITIES
from policies.errors import did_you_mean
from policies.fields import ABSENT, WEEKDAYS, Facts, FieldSpec, show_value
from policies.patterns import PatternError, SafePattern

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

Failure = tuple[Any, ...]
# A leaf's test as a Python expression, for rules compiled into one function (policies/verdicts.py):
# "{v}" stands for the field's value, "{0}", "{1}", ... for the constants that follow. It must compute
# what the leaf's ``test`` computes, with the same operations.
Inline = tuple[str, tuple[Any, ...]]
_MISSING = object()


class ConditionError(ValueError):
    """An operator or operand that does not fit the field; the parser adds the location."""


class Condition:
    """A node of a compiled ``when`` tree.

    ``failure(facts)`` is None when the condition holds, otherwise what failed, for the trace. It is a
    closure built once per node rather than a method: it runs for every rule of every decision, and a
    closure over its node's parts saves the attribute look-ups a method would repeat each time.
    """

    fields: frozenset[str] = frozenset()
    failure: Callable[[Facts], Failure | None]

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def held(self, facts: Facts) -> list[str]:  # pragma: no cover - abstract
        """For a condition that holds: the tests that made it hold, with the values seen."""
        raise NotImplementedError

    def explain(self, facts: Facts, detail: Any) -> str:  # pragma: no cover - abstract
        """Words for this node's failure; ``detail`` is the second part of its failure tuple."""
        raise NotImplementedError

    def failed_reason(self, facts: Facts, detail: Any) -> str:
        """The trace's reason for a rule whose condition failed at this node."""
        return "condition failed: " + self.explain(facts, detail)

    def canonical(self) -> Any:  # pragma: no cover - abstract
        """A plain-data form, used to compute the policy's version."""
        raise NotImplementedError


class Always(Condition):
    """A rule without ``when``."""

    def __init__(self) -> None:
        self.failure = _always

    def describe(self) -> str:
        return "always"

    def held(self, facts: Facts) -> list[str]:
        return ["no conditions"]

    def canonical(self) -> Any:
        return None


def _always(facts: Facts) -> Failure | None:
    return None


class Leaf(Condition):
    """One test of one field: ``ticket.language eq de``."""

    __slots__ = (
        "absent_ok",
        "absent_text",
        "desc",
        "failed_was",
        "failure",
        "fields",
        "fold",
        "inline",
        "name",
        "op",
        "operand",
        "pattern",
        "spec",
        "test",
        "was",
    )

    def __init__(
        self,
        spec: FieldSpec,
        op: str,
        operand: Any,
        test: Callable[[Any], bool],
        fold: bool,
        pattern: SafePattern | None = None,
        inline: Inline | None = None,
    ):
        self.spec = spec
        self.op = op
        self.operand = operand
        self.test = test
        self.fold = fold
        self.inline = inline
        self.pattern = pattern
        self.fields = frozenset({spec.name})
        self.desc = f"{spec.name} {op} {show_value(operand)}"
        # The constant part of the trace's words, joined once here rather than for every decision.
        self.was = f"{self.desc}: was "
        self.failed_was = f"condition failed: {self.was}"
        self.name = spec.name
        self.absent_ok = op == "exists" and operand is False
        self.absent_text = f"{spec.name} is absent" + (f" ({spec.absent_means})" if spec.absent_means else "")
        self.failure = self._build_pattern_failure() if pattern is not None else self._build_failure()

    def _build_pattern_failure(self) -> Callable[[Facts], Failure | None]:
        name, spec, holds, node = self.name, self.spec, self.pattern_holds, self
        absent = (self, ABSENT)
        missing = _MISSING

        def pattern_failure(facts: Facts) -> Failure | None:
            value = facts.values.get(name, missing)
            if value is missing:
                value = facts.value(spec)
            if value is ABSENT:
                return absent
            return None if holds(facts, value) else (node, value)

        return pattern_failure

    def pattern_holds(self, facts: Facts, value: Any) -> bool:
        """Whether a ``matches`` leaf's pattern matches ``value`` (present: not ABSENT)."""
        assert self.pattern is not None
        search = self.pattern.search
        if isinstance(value, str):
            return search(value)
        if isinstance(value, list):
            return any(isinstance(v, str) and search(v) for v in value)
        return search(str(value))

    def _build_failure(self) -> Callable[[Facts], Failure | None]:
        # The hot path of every decision: read the per-decision caches directly.
        name, spec, test, node = self.name, self.spec, self.test, self
        when_absent = None if self.absent_ok else (self, ABSENT)
        missing = _MISSING
        if self.fold:

            def folded_failure(facts: Facts) -> Failure | None:
                value = facts.folded_values.get(name, missing)
                if value is missing:
                    value = facts.folded(spec)
                if value is ABSENT:
                    return when_absent
                return None if test(value) else (node, value)

            return folded_failure

        def value_failure(facts: Facts) -> Failure | None:
            value = facts.values.get(name, missing)
            if value is missing:
                value = facts.value(spec)
            if value is ABSENT:
                return when_absent
            return None if test(value) else (node, value)

        return value_failure

    def describe(self) -> str:
        return self.desc

    def explain(self, facts: Facts, actual: Any) -> str:
        if actual is ABSENT:
            note = facts.absent_notes.get(self.spec.name) if facts.absent_notes else None
            return f"{self.spec.name} is absent ({note})" if note else self.absent_text
        shown = facts.shown_values.get(self.name)
        return self.was + (shown if shown is not None else facts.shown(self.spec))

    def failed_reason(self, facts: Facts, actual: Any) -> str:
        if actual is ABSENT:
            return "condition failed: " + self.explain(facts, actual)
        shown = facts.shown_values.get(self.name)
        return self.failed_was + (shown if shown is not None else facts.shown(self.spec))

    def held(self, facts: Facts) -> list[str]:
        return [f"{self.desc} (was {facts.shown(self.spec)})"]

    def canonical(self) -> Any:
        return {self.spec.name: {self.op: self.operand}}


class All(Condition):
    __slots__ = ("children", "failure", "fields")

    def __init__(self, children: list[Condition]):
        self.children = tuple(children)
        self.fields = frozenset().union(*(c.fields for c in children))
        checks = tuple(c.failure for c in children)

        def failure(facts: Facts) -> Failure | None:
            for check in checks:
                failed = check(facts)
                if failed is not None:
                    return failed
            return None

        self.failure = failure

    def describe(self) -> str:
        return "all of (" + "; ".join(c.describe() for c in self.children) + ")"

    def held(self, facts: Facts) -> list[str]:
        return [line for c in self.children for line in c.held(facts)]

    def canonical(self) -> Any:
        return {"all": [c.canonical() for c in self.children]}


class AnyOf(Condition):
    __slots__ = ("children", "failure", "fields")

    def __init__(self, children: list[Condition]):
        self.children = tuple(children)
        self.fields = frozenset().union(*(c.fields for c in children))
        checks = tuple(c.failure for c in children)
        node = self

        def failure(facts: Facts) -> Failure | None:
            failures = []
            for check in checks:
                failed = check(facts)
                if failed is None:
                    return None
                failures.append(failed)
            return (node, failures)

        self.failure = failure

    def describe(self) -> str:
        return "any of (" + "; ".join(c.describe() for c in self.children) + ")"

    def explain(self, facts: Facts, failures: Any) -> str:
        return "none of these held: " + "; ".join([f[0].explain(facts, f[1]) for f in failures])

    def held(self, facts: Facts) -> list[str]:
        for child in self.children:
            if child.failure(facts) is None:
                return child.held(facts)
        return []  # pragma: no cover - only called when the condition holds

    def canonical(self) -> Any:
        return {"any": [c.canonical() for c in self.children]}


class Not(Condition):
    __slots__ = ("child", "failure", "fields", "held_text")

    def __init__(self, child: Condition):
        self.child = child
        self.fields = child.fields
        self.held_text = f"not ({child.describe()}): but it held"
        check = child.failure
        held = (self, None)

        def failure(facts: Facts) -> Failure | None:
            return held if check(facts) is None else None

        self.failure = failure

    def describe(self) -> str:
        return f"not ({self.child.describe()})"

    def explain(self, facts: Facts, detail: Any) -> str:
        return self.held_text

    def held(self, facts: Facts) -> list[str]:
        failed = self.child.failure(facts)
        inner = explain_failure(facts, failed) if failed is not None else ""
        return [f"not ({self.child.describe()}): {inner}"]

    def canonical(self) -> Any:
        return {"not": self.child.canonical()}


def explain_failure(facts: Facts, failed: Failure) -> str:
    """Words for a failure tuple: which test failed, with the values compared."""
    node: Condition = failed[0]
    return node.explain(facts, failed[1])


def failure_reason(facts: Facts, failed: Failure) -> str:
    """The trace's reason for a rule whose condition failed: ``condition failed:`` and the words."""
    node: Condition = failed[0]
    return node.failed_reason(facts, failed[1])


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


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


_COMPARE_SYMBOL: dict[str, str] = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
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
    """A compiled test of ``spec`` with ``op``; raise ConditionError with advice when it does not fit.

    ``known_values`` lists the only values an ``eq``/``in`` operand may take (e.g. the declared teams
    for ``signals.intent``), so that a typo is caught when the policy loads rather than never matching.
    """
    kind = spec.kind
    inline: Inline  # the test as an expression, for compiled rules (see Inline)
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

        inline = ('(not ({v} == "" or {v} == [])) == {0}', (want,))
        return Leaf(spec, op, operand, exists, fold=False, inline=inline)

    if op == "matches":
        if not isinstance(operand, str) or not operand:
            raise ConditionError("'matches' takes a regular expression as text")
        try:
            pattern = SafePattern(operand)
        except PatternError as exc:
            raise ConditionError(f"regular expression '{operand}' {exc}") from None
        return Leaf(spec, op, operand, lambda v: False, fold=False, pattern=pattern)

    if op == "contains":
        needles = [n.casefold() for n in _text_operands(op, operand)]
        if kind == "keywords":
            wanted = set(needles)
            inline = ("not {0}.isdisjoint({v})", (wanted,))
            return Leaf(spec, op, operand, lambda v: not wanted.isdisjoint(v), fold=True, inline=inline)
        if kind == "any":

            def contains_any(v: Any) -> bool:
                if isinstance(v, str):
                    return any(n in v for n in needles)
                if isinstance(v, list):
                    return any(_fold(e) in needles for e in v)
                return False

            return Leaf(spec, op, operand, contains_any, fold=True)
        if len(needles) == 1:
            needle = needles[0]
            return Leaf(spec, op, operand, lambda v: needle in v, fold=True, inline=("{0} in {v}", (needle,)))

        def contains_one_of(v: str) -> bool:
            # A plain loop: a generator in any() costs more than the substring scans themselves.
            for n in needles:  # noqa: SIM110
                if n in v:
                    return True
            return False

        any_needle = "(" + " or ".join(f"{{{i}}} in {{v}}" for i in range(len(needles))) + ")"
        return Leaf(spec, op, operand, contains_one_of, fold=True, inline=(any_needle, tuple(needles)))

    if op in ("in", "not_in"):
        items = [_expect(kind, op, i) for i in _scalar_list(op, operand)]
        _check_known(spec, op, operand, known_values)
        negate = op == "not_in"
        if kind == "keywords":
            members = set(items)
            inline = ("{0}.isdisjoint({v}) == {1}", (members, negate))
            return Leaf(spec, op, operand, lambda v: members.isdisjoint(v) == negate, fold=True, inline=inline)
        if kind == "priority":
            ranks = set(items)
            inline = ("({0}[{v}] in {1}) != {2}", (_PRIORITY_RANK, ranks, negate))
            return Leaf(spec, op, operand, lambda v: (_PRIORITY_RANK[v] in ranks) != negate, fold=False, inline=inline)
        if kind == "any":
            return Leaf(spec, op, operand, lambda v: any(_any_equal(v, i) for i in items) != negate, fold=True)
        if kind == "number":
            numbers = set(items)
            inline = ("({0}({v}) in {1}) != {2}", (float, numbers, negate))
            return Leaf(spec, op, operand, lambda v: (float(v) in numbers) != negate, fold=False, inline=inline)
        members = set(items)
        inline = ("({v} in {0}) != {1}", (members, negate))
        return Leaf(spec, op, operand, lambda v: (v in members) != negate, fold=True, inline=inline)

    if op in ("eq", "ne"):
        if isinstance(operand, list):
            raise ConditionError(
                f"'{op}' takes one value; to compare with several use {'in' if op == 'eq' else 'not_in'}"
            )
        want = _expect(kind, op, operand)
        _check_known(spec, op, [operand], known_values)
        negate = op == "ne"
        if kind == "priority":
            inline = ("({0}[{v}] == {1}) != {2}", (_PRIORITY_RANK, want, negate))
            return Leaf(spec, op, operand, lambda v: (_PRIORITY_RANK[v] == want) != negate, fold=False, inline=inline)
        if kind == "any":
            return Leaf(spec, op, operand, lambda v: _any_equal(v, want) != negate, fold=True)
        if kind in ("number", "probability"):
            inline = ("({0}({v}) == {1}) != {2}", (float, want, negate))
            return Leaf(spec, op, operand, lambda v: (float(v) == want) != negate, fold=False, inline=inline)
        if kind == "bool":
            inline = ("({v} is {0}) != {1}", (want, negate))
            return Leaf(spec, op, operand, lambda v: (v is want) != negate, fold=False, inline=inline)
        inline = ("({v} == {0}) != {1}", (want, negate))
        return Leaf(spec, op, operand, lambda v: (v == want) != negate, fold=True, inline=inline)

    # lt lte gt gte
    if isinstance(operand, list):
        raise ConditionError(f"'{op}' takes one value, not a list")
    compare = _COMPARE[op]
    symbol = _COMPARE_SYMBOL[op]
    if kind == "priority":
        rank = _expect(kind, op, operand)
        inline = (f"{{0}}[{{v}}] {symbol} {{1}}", (_PRIORITY_RANK, rank))
        return Leaf(spec, op, operand, lambda v: compare(_PRIORITY_RANK[v], rank), fold=False, inline=inline)
    if kind == "any":
        if not _is_number(operand):
            raise ConditionError(f"'{op}' takes a number, not {show_value(operand)}")
        bound = float(operand)

        def compare_any(v: Any) -> bool:
            n = _as_number(v)
            return n is not None and compare(n, bound)

        return Leaf(spec, op, operand, compare_any, fold=False)
    bound = _expect(kind, op, operand)
    inline = (f"{{v}} {symbol} {{0}}", (bound,))
    return Leaf(spec, op, operand, lambda v: compare(v, bound), fold=False, inline=inline)


def _check_known(spec: FieldSpec, op: str, values: list[Any], known: set[str] | None) -> None:
    if known is None:
        return
    folded = {k.casefold() for k in known}
    for value in values:
        if str(value).casefold() not in folded:
            raise ConditionError(f"'{value}' is not a declared queue or intent label" + did_you_mean(str(value), known))
