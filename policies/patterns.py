"""Regular expressions that cannot hang the router.

Python's ``re`` is a backtracking engine: ``a.*b.*c`` takes seconds on a few thousand characters and
``(a+)+$`` never finishes. Support leads write the patterns, and tickets come from anyone, so every
``matches`` condition runs in time linear in the text:

- A pattern whose backtracking is bounded (no unbounded repeat, and at most :data:`MAX_BACKTRACK` ways to
  try each start position) runs on ``re`` itself: each start position costs a constant, the search is linear.
- Any other pattern runs on a small lazy DFA built here from ``re``'s own parse tree (a Thompson NFA whose
  state sets are cached as DFA states): one step per character whatever the pattern.
- Features that need backtracking by definition (backreferences, lookarounds, conditionals, atomic groups,
  possessive repeats) are refused when the policy loads.

Matching only ever looks at the first :data:`MAX_MATCH_CHARS` characters of a text, which bounds the time
and the size of the DFA cache. Patterns are case-insensitive unless they say otherwise with ``(?-i:...)``.
"""

from __future__ import annotations

import re
import re._constants as sre_c  # the parse tree's opcodes; stable across 3.11-3.13
import re._parser as sre_parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_MATCH_CHARS = 20_000
MAX_BACKTRACK = 256
MAX_NFA_NODES = 4_000
MAX_DFA_STATES = 2_000
MAX_PATTERN_CHARS = 2_000

_REFUSED = {
    sre_c.GROUPREF: "backreferences",
    sre_c.GROUPREF_EXISTS: "conditional groups",
    sre_c.ASSERT: "lookahead/lookbehind assertions",
    sre_c.ASSERT_NOT: "negative lookahead/lookbehind assertions",
    sre_c.ATOMIC_GROUP: "atomic groups",
    sre_c.POSSESSIVE_REPEAT: "possessive repeats",
}


class PatternError(ValueError):
    """A pattern does not compile or uses a feature that could make matching slow."""


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
                raise PatternError(f"unsupported character class item {item_op}")

        def in_class(ch: str) -> bool:
            return any(t(ch) for t in tests) != negate

        return in_class
    raise PatternError(f"unsupported opcode {op}")  # pragma: no cover


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
            raise PatternError("pattern is too large once its repeats are expanded; use smaller {m,n} counts")
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
        if op in _REFUSED:  # pragma: no cover - checked before building
            raise PatternError(f"{_REFUSED[op]} are not supported")
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
        raise PatternError(f"unsupported regular-expression feature {op}")

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
    raise PatternError(f"unsupported assertion {kind}")  # pragma: no cover


_CATEGORY_CLASS = {
    sre_c.CATEGORY_DIGIT: r"\d",
    sre_c.CATEGORY_NOT_DIGIT: r"\D",
    sre_c.CATEGORY_SPACE: r"\s",
    sre_c.CATEGORY_NOT_SPACE: r"\S",
    sre_c.CATEGORY_WORD: r"\w",
    sre_c.CATEGORY_NOT_WORD: r"\W",
}


def _class_text(node: _Node) -> str | None:
    """The node's character test as a regex class (a superset is fine), or None when it is too broad."""
    assert node.item is not None
    op, av = node.item
    ignore = bool(node.flags & re.IGNORECASE)
    if op is sre_c.LITERAL:
        ch = chr(av)
        chars = set(_case_variants(ch) + _case_variants(ch.lower())) if ignore else {ch}
        return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"
    if op is sre_c.IN and not any(item_op is sre_c.NEGATE for item_op, _ in av):
        parts = []
        for item_op, item_av in av:
            if item_op is sre_c.LITERAL:
                parts.append(re.escape(chr(item_av)))
            elif item_op is sre_c.RANGE:
                parts.append(f"{re.escape(chr(item_av[0]))}-{re.escape(chr(item_av[1]))}")
            elif item_op is sre_c.CATEGORY:
                parts.append(_CATEGORY_CLASS[item_av])
        return ("(?i:[" if ignore else "(?-i:[") + "".join(parts) + "])"
    return None  # ANY, NOT_LITERAL, negated classes: almost every character could start a match


def _first_chars(nodes: list[_Node], start: _Node) -> re.Pattern[str] | None:
    """A regex finding the characters that can start a match, to skip text no match can start in.

    None when skipping is unsafe or useless: the pattern can match without consuming a character, or it
    can start with almost any character.
    """
    seen: set[int] = set()
    stack = [start]
    classes: list[str] = []
    while stack:
        node = stack.pop()
        if node.index in seen:
            continue
        seen.add(node.index)
        if node.kind == "match":
            return None
        if node.kind == "char":
            text = _class_text(node)
            if text is None:
                return None
            classes.append(text)
        else:
            stack.extend(o for o in node.out if o is not None)
    if not classes:
        return None
    return re.compile("|".join(sorted(set(classes))))


class _DState:
    __slots__ = ("kernel", "prev", "trans")

    def __init__(self, kernel: frozenset[int], prev: int) -> None:
        self.kernel = kernel
        self.prev = prev
        self.trans: dict[str, _DState | bool] = {}


class _LazyDfa:
    """Search by simulating the NFA on sets of states, caching each set's transitions as a DFA state."""

    def __init__(self, nodes: list[_Node], start: _Node) -> None:
        self.nodes = nodes
        self.start = start.index
        self.states: dict[tuple[frozenset[int], int], _DState] = {}
        self.initial = self._state(frozenset(), _P_START)
        self.skip = _first_chars(nodes, start)

    def _state(self, kernel: frozenset[int], prev: int) -> _DState:
        key = (kernel, prev)
        st = self.states.get(key)
        if st is None:
            if len(self.states) >= MAX_DFA_STATES:
                # A pathological pattern/text pair: forget the cache rather than grow without bound.
                self.states.clear()
            st = _DState(kernel, prev)
            self.states[key] = st
        return st

    def _closure(self, kernel: frozenset[int], prev: int, cur: int, empty_text: bool) -> list[_Node] | None:
        """The char-consuming nodes reachable without input; None when the match node is reachable."""
        nodes = self.nodes
        seen: set[int] = set()
        stack = [self.start, *kernel]
        result: list[_Node] = []
        while stack:
            idx = stack.pop()
            if idx in seen:
                continue
            seen.add(idx)
            node = nodes[idx]
            if node.kind == "match":
                return None
            if node.kind == "char":
                result.append(node)
            elif node.kind == "split":
                stack.extend(o.index for o in node.out if o is not None)
            elif _assertion_holds(node.assertion, node.flags, prev, cur, empty_text):
                nxt = node.out[0]
                if nxt is not None:
                    stack.append(nxt.index)
        return result

    def _step(self, st: _DState, ch: str, cur: int) -> _DState | bool:
        closure = self._closure(st.kernel, st.prev, cur, False)
        if closure is None:
            return True
        kernel = frozenset(n.out[0].index for n in closure if n.test is not None and n.out[0] and n.test(ch))
        return self._state(kernel, _prev_kind(ch))

    def search(self, text: str) -> bool:
        if not text:
            return self._closure(frozenset(), _P_START, _C_END, True) is None
        st = self.initial
        last = len(text) - 1
        skip = self.skip
        i = 0
        while i <= last:
            if skip is not None and not st.kernel:
                # Nothing is under way: jump to the next character that could start a match.
                found = skip.search(text, i)
                if found is None:
                    return False  # the pattern cannot match without consuming a character
                j = found.start()
                if j != i:
                    st = self._state(frozenset(), _prev_kind(text[j - 1]))
                    i = j
            ch = text[i]
            nxt = st.trans.get(ch)
            if i == last and ch == "\n":
                # "$" also matches before a final newline: this step depends on position, not cached.
                nxt = self._step(st, ch, _C_FINAL_NL)
            elif nxt is None:
                nxt = self._step(st, ch, _cur_kind(ch))
                st.trans[ch] = nxt
            if nxt is True:
                return True
            st = nxt  # type: ignore[assignment]  # a _DState whenever it is not True
            i += 1
        return self._closure(st.kernel, st.prev, _C_END, False) is None


# --- the public pattern ----------------------------------------------------------------------------------


def _backtrack_bound(items: Any, cap: int) -> int:
    """An upper bound on the paths re may try from one start position (cap + 1 means 'too many')."""
    total = 1
    for op, av in items:
        total *= _item_bound(op, av, cap)
        if total > cap:
            return cap + 1
    return total


def _item_bound(op: Any, av: Any, cap: int) -> int:
    if op is sre_c.SUBPATTERN:
        return _backtrack_bound(av[3], cap)
    if op is sre_c.BRANCH:
        return min(cap + 1, sum(_backtrack_bound(alt, cap) for alt in av[1]))
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, hi, sub = av
        if hi is sre_c.MAXREPEAT:
            return cap + 1
        inner = _backtrack_bound(sub, cap)
        if inner > cap:
            return cap + 1
        # Each of the (hi - lo + 1) counts, with every combination of the inner paths.
        paths = 0
        for count in range(lo, hi + 1):
            paths += inner**count
            if paths > cap:
                return cap + 1
        return paths
    return 1


def _refused_features(items: Any) -> list[str]:
    found: list[str] = []
    for op, av in items:
        if op in _REFUSED:
            found.append(_REFUSED[op])
        elif op is sre_c.SUBPATTERN:
            found += _refused_features(av[3])
        elif op is sre_c.BRANCH:
            for alt in av[1]:
                found += _refused_features(alt)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            found += _refused_features(av[2])
    return found


def _literal_runs(items: Any, runs: list[str], current: list[str]) -> list[str]:
    """Collect runs of ASCII literals that every match must contain (a cheap necessary condition)."""
    for op, av in items:
        if op is sre_c.LITERAL and av < 128:
            current.append(chr(av).lower())
            continue
        if op is sre_c.SUBPATTERN:
            current = _literal_runs(av[3], runs, current)
            continue
        runs.append("".join(current))
        current = []
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] >= 1:
            runs.append("".join(_literal_runs(av[2], runs, [])))
    return current


def _required_literal(items: Any) -> str:
    runs: list[str] = []
    runs.append("".join(_literal_runs(items, runs, [])))
    return max(runs, key=len) if runs else ""


class SafePattern:
    """A compiled ``matches`` pattern whose search time is linear in the text.

    ``engine`` says which engine runs it: ``"re"`` for bounded patterns, ``"dfa"`` for the rest.
    """

    __slots__ = ("_dfa", "_re", "engine", "pattern", "required")

    def __init__(self, pattern: str, *, force_dfa: bool = False) -> None:
        if not isinstance(pattern, str):
            raise PatternError("a pattern must be text")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise PatternError(f"pattern is longer than {MAX_PATTERN_CHARS} characters")
        self.pattern = pattern
        flags = re.IGNORECASE
        try:
            compiled = re.compile(pattern, flags)
            tree = sre_parse.parse(pattern, flags)
        except re.error as exc:
            raise PatternError(
                f"does not compile: {exc.msg}" + (f" at position {exc.pos}" if exc.pos is not None else "")
            ) from None
        except (OverflowError, RecursionError, ValueError) as exc:
            raise PatternError(f"does not compile: {exc}") from None
        refused = _refused_features(list(tree))
        if refused:
            raise PatternError(
                f"uses {refused[0]}, which need backtracking and can make matching slow; "
                "rewrite it without them (several conditions combined with all/any usually do)"
            )
        if tree.state.flags & (re.ASCII | re.LOCALE):
            raise PatternError("the (?a) and (?L) flags are not supported")
        self._re: re.Pattern[str] | None = None
        self._dfa: _LazyDfa | None = None
        if not force_dfa and _backtrack_bound(list(tree), MAX_BACKTRACK) <= MAX_BACKTRACK:
            self._re = compiled
            self.engine = "re"
        else:
            builder = _NfaBuilder()
            start, exits = builder.seq(list(tree), tree.state.flags)
            match = builder.node("match")
            _patch(exits, match)
            self._dfa = _LazyDfa(builder.nodes, start)
            self.engine = "dfa"
        # Text the DFA never needs to read: it lacks a literal every match contains.
        self.required = _required_literal(list(tree)) if self._dfa is not None else ""

    @property
    def wants_lowered(self) -> bool:
        """Whether :meth:`search` uses the lowered text (the DFA's required-literal pre-check)."""
        return len(self.required) >= 2

    @property
    def regex(self) -> re.Pattern[str] | None:
        """The compiled ``re`` pattern when ``re`` runs it (a bounded pattern), else None."""
        return self._re

    def search(self, text: str, lowered: str | None = None) -> bool:
        """Whether the pattern matches anywhere in the first MAX_MATCH_CHARS characters of ``text``.

        ``lowered`` may pass ``text[:MAX_MATCH_CHARS].lower()`` when the caller already has it.
        """
        if len(text) > MAX_MATCH_CHARS:
            text = text[:MAX_MATCH_CHARS]
        if self._re is not None:
            return self._re.search(text) is not None
        assert self._dfa is not None
        if len(self.required) >= 2:
            if lowered is None:
                lowered = text.lower()
            if self.required not in lowered:
                return False
        return self._dfa.search(text)

    def __repr__(self) -> str:
        return f"SafePattern({self.pattern!r}, engine={self.engine!r})"
