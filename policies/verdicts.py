"""A rule's verdict: its ``when`` tree compiled, when the policy loads, into one Python function.

``verdict(facts)`` is None when the condition holds, otherwise the trace's reason: exactly the words
``failed[0].failed_reason(facts, failed[1])`` gives for ``failed = when.failure(facts)``. Walking the
tree costs a call per node and per test on every rule of every decision; the compiled function reads
each field from the decision's caches, folds text and runs each test in line, and writes the words of
a failure from constants joined when the policy loaded. Calls are left for a field's first read, text
shown in the trace, regular expressions and open-field comparisons. ``all`` runs its children in line;
``any`` and ``not`` do when their children are tests, and otherwise run through the tree's own closures.

The generated source contains only names made here (``c0``, ``c1``, ...) and operators from
:mod:`policies.conditions`; every value from the policy file reaches the function as a bound constant,
never as source text, so a policy cannot inject code. ``tests/policies/test_verdicts.py`` holds every
verdict equal to the tree's answer on random policies and tickets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policies.conditions import All, Always, AnyOf, Condition, Leaf, Not
from policies.fields import ABSENT, Facts, show_value

Verdict = Callable[[Facts], "str | None"]
_MISSING = object()


def _always_holds(facts: Facts) -> str | None:
    return None


class _Source:
    """The lines of one generated function and the constants they name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "ABSENT": ABSENT,
            "MISSING": _MISSING,
            "show_value": show_value,
        }
        self.count = 0

    def constant(self, value: Any) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def variable(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def add(self, line: str, indent: int) -> None:
        self.lines.append("    " * indent + line)

    # --- one test ---------------------------------------------------------------------------------------

    def read(self, leaf: Leaf, v: str, indent: int) -> None:
        """Set ``v`` to the leaf's value: Facts.value, or Facts.folded for case-insensitive tests."""
        name, read = self.constant(leaf.name), self.constant(leaf.spec.read)
        add = self.add
        if leaf.fold and leaf.pattern is None:
            add(f"{v} = folded.get({name}, MISSING)", indent)
            add(f"if {v} is MISSING:", indent)
            add(f"{v} = values.get({name}, MISSING)", indent + 1)
            add(f"if {v} is MISSING:", indent + 1)
            add(f"{v} = values[{name}] = {read}(facts)", indent + 2)
            add(f"if isinstance({v}, str):", indent + 1)
            add(f"{v} = {v}.casefold()", indent + 2)
            add(f"elif isinstance({v}, list):", indent + 1)
            add(f"{v} = [x.casefold() if isinstance(x, str) else x for x in {v}]", indent + 2)
            add(f"folded[{name}] = {v}", indent + 1)
        else:
            add(f"{v} = values.get({name}, MISSING)", indent)
            add(f"if {v} is MISSING:", indent)
            add(f"{v} = values[{name}] = {read}(facts)", indent + 1)

    def holds(self, leaf: Leaf, v: str, ok: str, indent: int) -> None:
        """Set ``ok`` to whether the leaf's test holds for a present value ``v``."""
        if leaf.pattern is not None:
            self.add(f"if isinstance({v}, str):", indent)
            self.add(f"{ok} = {self.constant(leaf.pattern.search)}({v})", indent + 1)
            self.add("else:", indent)
            self.add(f"{ok} = {self.constant(leaf.pattern_holds)}(facts, {v})", indent + 1)
            return
        if leaf.inline is None:
            self.add(f"{ok} = {self.constant(leaf.test)}({v})", indent)
            return
        template, operands = leaf.inline
        self.add(f"{ok} = {template.format(*(self.constant(o) for o in operands), v=v)}", indent)

    def shown(self, leaf: Leaf, out: str, indent: int) -> None:
        """Set ``out`` to the field's value as the trace shows it (Facts.shown; the value was read)."""
        name = self.constant(leaf.name)
        self.add(f"{out} = shown_values.get({name})", indent)
        self.add(f"if {out} is None:", indent)
        self.add(f"{out} = shown_values[{name}] = show_value(values[{name}])", indent + 1)

    def test(self, leaf: Leaf, indent: int) -> tuple[str, str]:
        """Read the leaf's value and run its test: the names of the value and of 'it holds'."""
        v, ok = self.variable("v"), self.variable("ok")
        self.read(leaf, v, indent)
        if leaf.absent_ok:
            self.add(f"{ok} = True", indent)
            self.add(f"if {v} is not ABSENT:", indent)
            self.holds(leaf, v, ok, indent + 1)
        else:
            self.add(f"{ok} = False", indent)
            self.add(f"if {v} is not ABSENT:", indent)
            self.holds(leaf, v, ok, indent + 1)
        return v, ok

    # --- what fails, in words ---------------------------------------------------------------------------

    def fail_with_leaf(self, leaf: Leaf, v: str, indent: int) -> None:
        """Return Leaf.failed_reason for the failed test."""
        self.add(f"if {v} is ABSENT:", indent)
        # Leaf.explain words an absent value from the decision's notes when it has any.
        failed_absent = self.constant("condition failed: " + leaf.absent_text)
        self.add(f"return {self.constant(leaf)}.failed_reason(facts, ABSENT) if notes else {failed_absent}", indent + 1)
        shown = self.variable("shown")
        self.shown(leaf, shown, indent)
        self.add(f"return {self.constant(leaf.failed_was)} + {shown}", indent)

    def explain_leaf(self, leaf: Leaf, v: str, out: str, indent: int) -> None:
        """Set ``out`` to Leaf.explain for the failed test."""
        self.add(f"if {v} is ABSENT:", indent)
        self.add(f"{out} = {self.constant(leaf)}.explain(facts, ABSENT)", indent + 1)
        self.add("else:", indent)
        self.shown(leaf, out, indent + 1)
        self.add(f"{out} = {self.constant(leaf.was)} + {out}", indent + 1)

    # --- conditions -------------------------------------------------------------------------------------

    def node(self, node: Condition, indent: int) -> None:
        """Any condition through the tree's own failure closure."""
        failed = self.variable("failed")
        self.add(f"{failed} = {self.constant(node.failure)}(facts)", indent)
        self.add(f"if {failed} is not None:", indent)
        self.add(f"return {failed}[0].failed_reason(facts, {failed}[1])", indent + 1)

    def leaf(self, leaf: Leaf, indent: int) -> None:
        v, ok = self.test(leaf, indent)
        self.add(f"if not {ok}:", indent)
        self.fail_with_leaf(leaf, v, indent + 1)

    def any_of(self, node: AnyOf, indent: int) -> None:
        """The first child that holds ends it; when none does, the words list every child's failure."""
        leaves: list[Leaf] = [c for c in node.children if isinstance(c, Leaf)]
        tested: list[tuple[Leaf, str]] = []
        depth = indent
        for leaf in leaves:
            v, ok = self.test(leaf, depth)
            tested.append((leaf, v))
            self.add(f"if not {ok}:", depth)
            depth += 1
        words = []
        for leaf, v in tested:
            out = self.variable("words")
            self.explain_leaf(leaf, v, out, depth)
            words.append(out)
        reason = self.constant("condition failed: none of these held: ")
        self.add(f"return {reason} + '; '.join([{', '.join(words)}])", depth)

    def not_of(self, node: Not, indent: int) -> None:
        assert isinstance(node.child, Leaf)
        _, ok = self.test(node.child, indent)
        self.add(f"if {ok}:", indent)
        self.add(f"return {self.constant('condition failed: ' + node.held_text)}", indent + 1)

    def part(self, node: Condition, indent: int = 1) -> None:
        if isinstance(node, Leaf):
            self.leaf(node, indent)
        elif isinstance(node, All):
            # all(a, all(b, c)) fails at its first failing test, in order: its children run in line.
            for child in node.children:
                self.part(child, indent)
        elif isinstance(node, AnyOf) and all(isinstance(c, Leaf) for c in node.children):
            self.any_of(node, indent)
        elif isinstance(node, Not) and isinstance(node.child, Leaf):
            self.not_of(node, indent)
        else:
            self.node(node, indent)


def compile_verdict(when: Condition, rule: str) -> Verdict:
    """The verdict function of a rule's ``when`` (``rule`` names it in tracebacks)."""
    if isinstance(when, Always):
        return _always_holds
    source = _Source()
    source.part(when)
    body = "\n".join(source.lines)
    text = (
        "def verdict(facts):\n"
        "    values = facts.values\n"
        "    folded = facts.folded_values\n"
        "    shown_values = facts.shown_values\n"
        "    notes = facts.absent_notes\n"
        f"{body}\n"
        "    return None\n"
    )
    namespace = dict(source.constants)
    exec(compile(text, f"<rule {rule!r}>", "exec"), namespace)  # source made of our names only (see above)
    verdict: Verdict = namespace["verdict"]
    return verdict
