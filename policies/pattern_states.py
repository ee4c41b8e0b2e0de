"""How many states a pattern's search needs: what decides whether RE2 searches it at the speed of a DFA.

RE2 searches with a DFA built lazily, state by state, in a bounded cache; a pattern whose search needs more
states than the cache holds (``a.{200}c``: every 'a' of the last 200 characters is a state of its own)
falls back to simulating the NFA, whose cost grows with the pattern's size: seconds on a megabyte. So a
pattern is refused when the policy loads if its search needs more than :data:`MAX_SEARCH_STATES` states.

The count builds a Thompson NFA from ``re``'s parse tree and explores the DFA of an unanchored search
(subsets of NFA states, with the kind of the previous character for ``\\b`` and ``^``), one transition per
class of characters the pattern tells apart. The classes are found from representatives: every character the
pattern names, with its case variants, every end of its ranges and the characters beside them, and one
character of each kind (letters, digits, spaces, newline, others; ASCII and not).
"""

from __future__ import annotations

import re
import re._constants as sre_c  # the parse tree's opcodes; stable across 3.11-3.13
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_SEARCH_STATES = 3_000
MAX_NFA_NODES = 4_000


class StateLimitError(ValueError):
    """The pattern is too large once expanded, or its search needs too many DFA states."""


# --- character predicates ------------------------------------------------------------------------------

CharTest = Callable[[str], bool]


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_CATEGORIES: dict[Any, CharTest] = {
    sre_c.CATEGORY_DIGIT: str.isdecimal,
    sre_c.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdecimal(),
    sre_c.CATEGORY_SPACE: str.isspace,
    sre_c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    sre_c.CATEGORY_WORD: _is_word,
    sre_c.CATEGORY_NOT_WORD: lambda ch: not _is_word(ch),
}


def _case_variants(ch: str) -> tuple[str, ...]:
    return tuple(v for v in (ch, ch.lower(), ch.upper()) if len(v) == 1)


def _char_test(op: Any, av: Any, flags: int) -> CharTest:
    """A predicate for one character-consuming opcode, honouring IGNORECASE and DOTALL."""
    ignore = bool(flags & re.IGNORECASE)
    if op is sre_c.ANY:
        if flags & re.DOTALL:
            return lambda ch: True
        return lambda ch: ch != "\n"
    if op in (sre_c.LITERAL, sre_c.NOT_LITERAL):
        wanted = chr(av)
        low = wanted.lower()
        if ignore:
            # re compares case-insensitively through lower() of both sides.
            def same(ch: str) -> bool:
                return ch == wanted or ch.lower() == low
        else:

            def same(ch: str) -> bool:
                return ch == wanted

        if op is sre_c.LITERAL:
            return same
        return lambda ch: not same(ch)
    if op is sre_c.IN:
        negate = False
        tests: list[CharTest] = []
        for item_op, item_av in av:
            if item_op is sre_c.NEGATE:
                negate = True
            elif item_op is sre_c.LITERAL:
                tests.append(_char_test(sre_c.LITERAL, item_av, flags))
            elif item_op is sre_c.RANGE:
                lo, hi = item_av
                tests.append(_range_test(lo, hi, ignore))
            elif item_op is sre_c.CATEGORY:
                tests.append(_CATEGORIES[item_av])
            else:  # pragma: no cover - re's parser emits nothing else inside a class
                raise StateLimitError(f"unsupported character class item {item_op}")

        def in_class(ch: str) -> bool:
            return any(t(ch) for t in tests) != negate

        return in_class
    raise StateLimitError(f"unsupported opcode {op}")  # pragma: no cover


def _range_test(lo: int, hi: int, ignore: bool) -> CharTest:
    if not ignore:
        return lambda ch: lo <= ord(ch) <= hi
    return lambda ch: any(lo <= ord(v) <= hi for v in _case_variants(ch))


# --- Thompson NFA ----------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    kind: str  # "char" | "split" | "assert" | "match"
    test: CharTest | None = None
    item: tuple[Any, Any] | None = None
    assertion: Any = None
    flags: int = 0
    out: list[_Node | None] = field(default_factory=list)
    index: int = 0


class _NfaBuilder:
    """Builds a Thompson NFA from re's parse tree. Fragments are (start, dangling-exit list) pairs."""

    def __init__(self) -> None:
        self.nodes: list[_Node] = []

    def node(self, kind: str, **kw: Any) -> _Node:
        if len(self.nodes) >= MAX_NFA_NODES:
            raise StateLimitError("pattern is too large once its repeats are expanded; use smaller {m,n} counts")
        n = _Node(kind=kind, index=len(self.nodes), **kw)
        self.nodes.append(n)
        return n

    def empty(self) -> tuple[_Node, list[tuple[_Node, int]]]:
        n = self.node("split", out=[None])
        return n, [(n, 0)]

    def seq(self, items: Iterable[tuple[Any, Any]], flags: int) -> tuple[_Node, list[tuple[_Node, int]]]:
        start: _Node | None = None
        exits: list[tuple[_Node, int]] = []
        for op, av in items:
            s, e = self.item(op, av, flags)
            if start is None:
                start = s
            else:
                _patch(exits, s)
            exits = e
        if start is None:
            return self.empty()
        return start, exits

    def item(self, op: Any, av: Any, flags: int) -> tuple[_Node, list[tuple[_Node, int]]]:
        if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
            n = self.node("char", test=_char_test(op, av, flags), item=(op, av), flags=flags, out=[None])
            return n, [(n, 0)]
        if op is sre_c.AT:
            n = self.node("assert", assertion=av, flags=flags, out=[None])
            return n, [(n, 0)]
        if op is sre_c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            return self.seq(sub, (flags | add_flags) & ~del_flags)
        if op is sre_c.BRANCH:
            _, alternatives = av
            split = self.node("split", out=[None] * len(alternatives))
            exits: list[tuple[_Node, int]] = []
            for i, alt in enumerate(alternatives):
                s, e = self.seq(alt, flags)
                split.out[i] = s
                exits.extend(e)
            return split, exits
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            return self.repeat(lo, hi, sub, flags)
        raise StateLimitError(f"unsupported regular-expression feature {op}")

    def repeat(self, lo: int, hi: Any, sub: Any, flags: int) -> tuple[_Node, list[tuple[_Node, int]]]:
        start: _Node | None = None
        exits: list[tuple[_Node, int]] = []

        def append(fragment: tuple[_Node, list[tuple[_Node, int]]]) -> None:
            nonlocal start, exits
            s, e = fragment
            if start is None:
                start = s
            else:
                _patch(exits, s)
            exits = e

        for _ in range(lo):
            append(self.seq(sub, flags))
        if hi is sre_c.MAXREPEAT:
            # X*: a split that either enters X (which loops back) or leaves.
            loop = self.node("split", out=[None, None])
            body_start, body_exits = self.seq(sub, flags)
            loop.out[0] = body_start
            _patch(body_exits, loop)
            append((loop, [(loop, 1)]))
        else:
            # X? nested (hi - lo) times: each optional copy can be skipped to the end.
            skips: list[tuple[_Node, int]] = []
            for _ in range(hi - lo):
                opt = self.node("split", out=[None, None])
                body_start, body_exits = self.seq(sub, flags)
                opt.out[0] = body_start
                skips.append((opt, 1))
                append((opt, body_exits))
            exits = exits + skips
        if start is None:
            return self.empty()
        return start, exits


def _patch(exits: list[tuple[_Node, int]], target: _Node) -> None:
    for node, slot in exits:
        node.out[slot] = target


# --- lazy DFA --------------------------------------------------------------------------------------------

# What an assertion can see: the kind of the previous and of the current character.
_P_START, _P_NL, _P_WORD, _P_OTHER = range(4)
_C_END, _C_FINAL_NL, _C_NL, _C_WORD, _C_OTHER = range(5)


def _prev_kind(ch: str) -> int:
    if ch == "\n":
        return _P_NL
    return _P_WORD if _is_word(ch) else _P_OTHER


def _cur_kind(ch: str) -> int:
    if ch == "\n":
        return _C_NL
    return _C_WORD if _is_word(ch) else _C_OTHER


def _assertion_holds(kind: Any, flags: int, prev: int, cur: int, empty_text: bool) -> bool:
    multiline = bool(flags & re.MULTILINE)
    if kind is sre_c.AT_BEGINNING_STRING:
        return prev == _P_START
    if kind is sre_c.AT_BEGINNING:
        return prev == _P_START or (multiline and prev == _P_NL)
    if kind is sre_c.AT_END_STRING:
        return cur == _C_END
    if kind is sre_c.AT_END:
        if multiline:
            return cur in (_C_END, _C_FINAL_NL, _C_NL)
        return cur in (_C_END, _C_FINAL_NL)
    prev_word = prev == _P_WORD
    cur_word = cur == _C_WORD
    if kind is sre_c.AT_BOUNDARY:
        return prev_word != cur_word
    if kind is sre_c.AT_NON_BOUNDARY:
        # re never finds \B in an empty text; keep its behaviour.
        return not empty_text and prev_word == cur_word
    raise StateLimitError(f"unsupported assertion {kind}")  # pragma: no cover


# --- counting the states of the search ------------------------------------------------------------------

_KIND_SAMPLES = "aZ_éßẞ\u212a\u017f0٣ \t\u00a0\u2003\n!-.€\x00\uffff\U0010ffff"


def _representatives(items: Any, out: set[str]) -> None:
    """Characters that, with the kind samples, meet every class of characters the pattern tells apart."""

    def add(code: int) -> None:
        if 0 <= code <= 0x10FFFF:
            ch = chr(code)
            out.add(ch)
            out.update(v for v in (ch.lower(), ch.upper(), ch.casefold()) if len(v) == 1)

    for op, av in items:
        if op in (sre_c.LITERAL, sre_c.NOT_LITERAL):
            add(av)
        elif op is sre_c.IN:
            for item_op, item_av in av:
                if item_op is sre_c.LITERAL:
                    add(item_av)
                elif item_op is sre_c.RANGE:
                    lo, hi = item_av
                    for code in (lo - 1, lo, (lo + hi) // 2, hi, hi + 1):
                        add(code)
        elif op is sre_c.SUBPATTERN:
            _representatives(av[3], out)
        elif op is sre_c.BRANCH:
            for alt in av[1]:
                _representatives(alt, out)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            _representatives(av[2], out)


def search_states(tree: Any, flags: int, limit: int = MAX_SEARCH_STATES) -> int:
    """The number of DFA states an unanchored search of the parsed pattern can reach (at most limit + 1)."""
    builder = _NfaBuilder()
    start, exits = builder.seq(list(tree), flags)
    match = builder.node("match")
    _patch(exits, match)
    nodes = builder.nodes
    chars = [n for n in nodes if n.kind == "char"]
    looks_back = any(n.kind == "assert" for n in nodes)

    samples: set[str] = set(_KIND_SAMPLES)
    _representatives(list(tree), samples)
    # One character per class: the same answer from every test, and the same kind.
    classes: dict[tuple[Any, ...], str] = {}
    for ch in sorted(samples):
        signature = (_prev_kind(ch), _cur_kind(ch), *(n.test(ch) for n in chars if n.test is not None))
        classes.setdefault(signature, ch)
    letters = [(ch, _cur_kind(ch), _prev_kind(ch) if looks_back else 0) for ch in classes.values()]

    closures: dict[tuple[frozenset[int], int, int], list[_Node] | None] = {}

    def closure(kernel: frozenset[int], prev: int, cur: int) -> list[_Node] | None:
        key = (kernel, prev, cur)
        if key in closures:
            return closures[key]
        seen: set[int] = set()
        stack = [start.index, *kernel]
        result: list[_Node] | None = []
        while stack:
            idx = stack.pop()
            if idx in seen:
                continue
            seen.add(idx)
            node = nodes[idx]
            if node.kind == "match":
                result = None  # a match: the search stops here
                break
            if node.kind == "char":
                assert result is not None
                result.append(node)
            elif node.kind == "split":
                stack.extend(o.index for o in node.out if o is not None)
            elif _assertion_holds(node.assertion, node.flags, prev, cur, False):
                nxt = node.out[0]
                if nxt is not None:
                    stack.append(nxt.index)
        closures[key] = result
        return result

    initial = (frozenset[int](), _P_START if looks_back else 0)
    seen_states = {initial}
    todo = [initial]
    while todo:
        kernel, prev = todo.pop()
        for ch, cur, next_prev in letters:
            reachable = closure(kernel, prev, cur)
            if reachable is None:
                continue
            state = (frozenset(n.out[0].index for n in reachable if n.out[0] and n.test and n.test(ch)), next_prev)
            if state not in seen_states:
                seen_states.add(state)
                if len(seen_states) > limit:
                    return limit + 1
                todo.append(state)
    return len(seen_states)
