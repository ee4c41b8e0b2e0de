"""Note and outreach templates: Jinja2 in a sandbox that a policy author cannot use to hang the router.

Templates see only plain data (the ticket, the customer, the signals, the explanation of the decision).
Jinja's sandbox already blocks access to Python internals; this module also removes what could spend
unbounded time or memory: globals such as ``range`` and ``lipsum``, function calls, macros, nested loops,
``{% set %}`` (repeated self-concatenation doubles a string per line), string repetition and formatting,
and filters that take a size (``center``, ``indent``, ``format``, ``replace``, ``random``). ``*``, ``**``,
``%`` and ``//`` must be seen to take numbers when the template loads (a number, a numeric field, or a
value through ``| int``/``| float``...); the sandbox checks again when rendering. A rendering may read at
most :data:`MAX_READ_CHARS` characters of data, and its output is produced chunk by chunk and cut at the
template's length limit (at most :data:`MAX_NOTE_LENGTH`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from policies.policy_errors import did_you_mean

DEFAULT_NOTE_LENGTH = 4_000
MAX_NOTE_LENGTH = 20_000
MAX_TEMPLATE_CHARS = 8_000
_MAX_JOINED = 20_000
# Characters of data one rendering may read (each read of a text, list or mapping counts its length):
# what bounds a loop that reads the body on every turn, or an expression that reads it many times.
MAX_READ_CHARS = 1_000_000

# Operators that could multiply a text or a list ("ab" * 10**6, "%999999999d" % 1): they must be seen,
# when the template loads, to take numbers.
_NUMBER_OPERATORS: dict[type[nodes.Node], str] = {
    nodes.Mul: "*",
    nodes.Pow: "**",
    nodes.Mod: "%",
    nodes.FloorDiv: "//",
}
_NUMBER_FILTERS = frozenset({"int", "float", "round", "abs", "length", "count", "wordcount"})
# Data the templates see that is a number (or nothing): (top-level name, key).
_NUMBER_DATA = frozenset(
    {("ticket", "age_hours")}
    | {("signals", name) for name in ("intent_probability", "urgency_probability", "churn_risk")}
)

_ALLOWED_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "reverse",
    "round",
    "select",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
    "wordwrap",
)
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Call: "function calls (use filters, e.g. {{ name | upper }})",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.FilterBlock: "filter blocks",
    nodes.With: "{% with %}",
}


class TemplateProblem(ValueError):
    """A template that does not compile or uses something refused; ``line`` is 1-based in the template."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


class TemplateRenderError(ValueError):
    """A template failed while rendering, e.g. it named a field this ticket does not have."""


def _percent(value: Any, digits: int = 0) -> str:
    """0.734 -> '73%': probabilities read better as percentages in notes."""
    try:
        return f"{float(value) * 100:.{max(0, min(int(digits), 4))}f}%"
    except (TypeError, ValueError):
        return str(value)


def _safe_join(value: Iterable[Any], separator: str = "", attribute: Any = None) -> str:
    items = [str(v if attribute is None else v[attribute]) for v in value]
    size = sum(len(i) for i in items) + len(str(separator)) * max(0, len(items) - 1)
    if size > _MAX_JOINED:
        raise TemplateRenderError(f"join would produce {size} characters (at most {_MAX_JOINED})")
    return str(separator).join(items)


class _ReadBudget(threading.local):
    left: int | None = None


_BUDGET = _ReadBudget()


def _charge(value: Any) -> None:
    """Count a value read by the template against this rendering's budget (see MAX_READ_CHARS)."""
    left = _BUDGET.left
    if left is None or type(value) not in (str, list, dict):
        return
    left -= len(value)
    _BUDGET.left = left
    if left < 0:
        raise TemplateRenderError(
            f"template reads more than {MAX_READ_CHARS} characters of ticket data; read long fields once, outside loops"
        )


class _NoteEnvironment(SandboxedEnvironment):
    """The sandbox, with arithmetic that could explode in size intercepted."""

    intercepted_binops = frozenset({"*", "**", "%", "//"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (left, right))
        if not numbers:
            raise TemplateRenderError(f"'{operator}' is only allowed between numbers in templates")
        if operator == "**" and (abs(right) > 64 or abs(left) > 1e6):
            raise TemplateRenderError("'**' is limited to small numbers in templates")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Template data is plain dicts: look the key up first. Jinja would try a Python attribute first
        # and pay for an exception on every `ticket.subject`; a key also wins over a dict method's name.
        if type(obj) is dict and attribute in obj:
            value = obj[attribute]
            _charge(value)
            return value
        value = super().getattr(obj, attribute)
        _charge(value)
        return value

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        _charge(value)
        return value

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Templates read data; no method of any object is reachable from them.
        return not callable(value) and super().is_safe_attribute(obj, attr, value)


def _environment() -> _NoteEnvironment:
    env = _NoteEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    builtin = env.filters
    env.filters = {name: builtin[name] for name in _ALLOWED_FILTERS}
    env.filters["join"] = _safe_join
    env.filters["percent"] = _percent
    env.globals = {}
    return env


_ENV = _environment()
ALLOWED_FILTERS: tuple[str, ...] = (*_ALLOWED_FILTERS, "percent")


def _is_number(node: nodes.Node) -> bool:
    """Whether an expression is seen to give a number: a number, a numeric field, a filter like ``int``."""
    if isinstance(node, nodes.Const):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, nodes.Neg | nodes.Pos):
        return _is_number(node.node)
    if isinstance(node, nodes.BinExpr) and isinstance(node, (nodes.Add, nodes.Sub, nodes.Div, *_NUMBER_OPERATORS)):
        return _is_number(node.left) and _is_number(node.right)
    if isinstance(node, nodes.Filter):
        return node.name in _NUMBER_FILTERS
    if isinstance(node, nodes.CondExpr):
        return _is_number(node.expr1) and (node.expr2 is None or _is_number(node.expr2))
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return (node.node.name, node.attr) in _NUMBER_DATA
    if isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const):
        return (node.node.name, node.arg.value) in _NUMBER_DATA
    return False


def _check_tree(tree: nodes.Node) -> None:
    for node in tree.find_all(nodes.Node):
        operator = _NUMBER_OPERATORS.get(type(node))
        if operator is not None:
            assert isinstance(node, nodes.BinExpr)
            for side in (node.left, node.right):
                if not _is_number(side):
                    raise TemplateProblem(
                        f"'{operator}' takes numbers in templates, and this side may not be one; "
                        "convert a value with | int or | float (texts cannot be repeated or formatted)",
                        node.lineno,
                    )
        for refused_type, what in _REFUSED_NODES.items():
            if isinstance(node, refused_type):
                raise TemplateProblem(f"templates cannot use {what}", node.lineno)
        if isinstance(node, nodes.For):
            if node.recursive:
                raise TemplateProblem("templates cannot use recursive loops", node.lineno)
            for inner in (*node.body, *node.else_):
                if isinstance(inner, nodes.For) or any(True for _ in inner.find_all(nodes.For)):
                    raise TemplateProblem("templates cannot nest one loop inside another", node.lineno)
        if isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
            raise TemplateProblem(f"unknown filter '{node.name}'{did_you_mean(node.name, _ENV.filters)}", node.lineno)


class NoteTemplate:
    """A compiled, checked template with an output length limit."""

    __slots__ = ("_template", "max_length", "source")

    def __init__(self, source: str, max_length: int = DEFAULT_NOTE_LENGTH):
        if not isinstance(source, str):
            raise TemplateProblem("a template must be text")
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateProblem(f"template is longer than {MAX_TEMPLATE_CHARS} characters")
        self.source = source
        self.max_length = max_length
        try:
            tree = _ENV.parse(source)
            _check_tree(tree)
            self._template = _ENV.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message}", exc.lineno or 1) from None
        except jinja2.TemplateAssertionError as exc:  # pragma: no cover - subclass of the above
            raise TemplateProblem(f"template error: {exc.message}", exc.lineno or 1) from None

    def render(self, context: dict[str, Any]) -> str:
        """Render with ``context``; cut the output at ``max_length`` characters.

        A rendering may read at most MAX_READ_CHARS characters of data (TemplateRenderError beyond).
        """
        parts: list[str] = []
        size = 0
        _BUDGET.left = MAX_READ_CHARS
        try:
            for chunk in self._template.generate(context):
                parts.append(chunk)
                size += len(chunk)
                if size > self.max_length:
                    break
        except TemplateRenderError:
            raise
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(f"template names something this ticket does not have: {exc}") from None
        except jinja2.TemplateError as exc:
            raise TemplateRenderError(f"template failed: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, OverflowError) as exc:
            raise TemplateRenderError(f"template failed: {type(exc).__name__}: {exc}") from None
        finally:
            _BUDGET.left = None
        text = "".join(parts).strip()
        if len(text) > self.max_length:
            text = text[: self.max_length - 1].rstrip() + "…"
        return text
