"""Note and outreach templates: Jinja2 in a sandbox that a policy author cannot use to hang the router.

Templates see only plain data (the ticket, the customer, the signals, the explanation of the decision).
Jinja's sandbox already blocks access to Python internals; this module also removes what could spend
unbounded time or memory: globals such as ``range`` and ``lipsum``, function calls, macros, nested loops,
``{% set %}`` (repeated self-concatenation doubles a string per line), string repetition and formatting,
and filters that take a size (``center``, ``indent``, ``format``, ``replace``, ``random``). Output is
produced chunk by chunk and cut at the template's length limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from policies.errors import did_you_mean

DEFAULT_NOTE_LENGTH = 4_000
MAX_TEMPLATE_CHARS = 8_000
_MAX_JOINED = 20_000

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
            return obj[attribute]
        return super().getattr(obj, attribute)

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


def _check_tree(tree: nodes.Node) -> None:
    for node in tree.find_all(nodes.Node):
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

    __slots__ = ("_template", "max_length", "names", "source")

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
            # The data the template reads (ticket, signals, ...): the rest is not built for it.
            self.names: frozenset[str] = frozenset(meta.find_undeclared_variables(tree))
            self._template = _ENV.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message}", exc.lineno or 1) from None
        except jinja2.TemplateAssertionError as exc:  # pragma: no cover - subclass of the above
            raise TemplateProblem(f"template error: {exc.message}", exc.lineno or 1) from None

    def render(self, context: dict[str, Any]) -> str:
        """Render with ``context``; cut the output at ``max_length`` characters."""
        parts: list[str] = []
        size = 0
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
        text = "".join(parts).strip()
        if len(text) > self.max_length:
            text = text[: self.max_length - 1].rstrip() + "…"
        return text
