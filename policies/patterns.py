"""Regular expressions that cannot hang the router, with Python's Unicode meaning of ``\\w`` and ``\\b``.

Python's ``re`` is a backtracking engine: ``a.*b.*c`` takes seconds on a few thousand characters and
``(a+)+$`` never finishes. Support leads write the patterns and tickets come from anyone, so every
``matches`` condition runs on RE2 (``google-re2``), whose automata read each byte of the text a bounded
number of times, over the whole text: a verdict never depends on where a long text would have been cut.

RE2's ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII-only, which would get "Größe", "año", "déjà" or
"ação" wrong. So a pattern is translated from ``re``'s own parse tree, and it runs on an *encoded* text in
which every character ``c`` is written as three: ``k c k``, where ``k`` is one ASCII character naming its
kind (:data:`_KIND`, from Python's own ``str.isalnum``/``isdecimal``/``isspace``):

- ``\\w``, ``\\d``, ``\\s`` and their negations test the kind mark, not the character;
- between two encoded characters RE2's ASCII ``\\b`` sees the previous character's mark and the next
  one's, which are word characters exactly when the characters are: Python's Unicode word boundary;
- the newline's mark is a newline, so ``(?m:^)`` and ``(?m:$)`` keep their meaning;
- every match is made to start on a character (``\\A(?s:...)*?`` before the pattern), so a mark is never
  read as a character.

Features that need backtracking by definition (backreferences, lookarounds, conditionals, atomic groups,
possessive repeats) are refused when the policy loads, as is a ``$`` that does not end the pattern, and a
pattern whose search needs too many DFA states for RE2 to keep its speed (:mod:`policies.pattern_states`).
Patterns are case-insensitive (Unicode simple case folding) unless they say otherwise with ``(?-i:...)``.
"""

from __future__ import annotations

import re
import re._constants as sre_c  # the parse tree's opcodes; stable across 3.11-3.13
import re._parser as sre_parse
from typing import Any

import re2

from policies.pattern_states import MAX_SEARCH_STATES, StateLimitError, search_states

MAX_PATTERN_CHARS = 2_000
# RE2's own limit on a counted repeat ({m,n}); checked here to say so in the policy's words.
MAX_REPEAT_COUNT = 1_000
# Memory RE2 may use for one pattern's program and automata; a pattern whose program does not fit is
# refused when the policy loads ("too large").
_RE2_MAX_MEM = 8 << 20

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


# --- the encoded text ------------------------------------------------------------------------------------

# Kind marks. 'a' and 'd' are ASCII word characters and the others are not, so RE2's \b between two marks
# is Python's \b between the two characters.
_WORD, _DIGIT, _SPACE, _NEWLINE, _OTHER = "a", "d", " ", "\n", "!"
_ALL_KINDS = frozenset({_WORD, _DIGIT, _SPACE, _NEWLINE, _OTHER})
_CATEGORY_KINDS: dict[Any, frozenset[str]] = {
    sre_c.CATEGORY_WORD: frozenset({_WORD, _DIGIT}),
    sre_c.CATEGORY_DIGIT: frozenset({_DIGIT}),
    sre_c.CATEGORY_SPACE: frozenset({_SPACE, _NEWLINE}),
}
for _positive, _negative in (
    (sre_c.CATEGORY_WORD, sre_c.CATEGORY_NOT_WORD),
    (sre_c.CATEGORY_DIGIT, sre_c.CATEGORY_NOT_DIGIT),
    (sre_c.CATEGORY_SPACE, sre_c.CATEGORY_NOT_SPACE),
):
    _CATEGORY_KINDS[_negative] = _ALL_KINDS - _CATEGORY_KINDS[_positive]


def _kind(ch: str) -> str:
    """The mark of one character, by the tests Python's ``re`` uses for \\d, \\w and \\s on text."""
    if ch == "\n":
        return _NEWLINE
    if ch.isdecimal():
        return _DIGIT
    if ch.isalnum() or ch == "_":
        return _WORD
    if ch.isspace():
        return _SPACE
    return _OTHER


class _EncodingTable(dict[int, str]):
    """``str.translate`` table: code point -> mark, character, mark; filled on first sight of each one."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            # A lone surrogate cannot be UTF-8 for RE2; it reads as U+FFFD, which is of the same kind.
            ch = "\ufffd"
        mark = _kind(ch)
        encoded = self[code] = mark + ch + mark
        return encoded


_TABLE = _EncodingTable()
# The marks of the 256 Latin-1 characters, for bytes.translate.
_LATIN1_MARKS = bytes(ord(_kind(chr(code))) for code in range(256))


def _encode(text: str) -> bytes:
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text.translate(_TABLE).encode("utf-8")
    # Most tickets are Latin-1 (English, German, Spanish, French...): mark and interleave at C speed.
    marks = raw.translate(_LATIN1_MARKS)
    out = bytearray(3 * len(raw))
    out[0::3] = marks
    out[1::3] = raw
    out[2::3] = marks
    return bytes(out) if raw.isascii() else out.decode("latin-1").encode("utf-8")


# The last few texts encoded, newest first, as (text, encoded) pairs: the patterns of one decision search the
# same few fields one after the other, and each is encoded once. A policy at the limits (100 patterns) decides
# a 1 MB body in 0.6 s with it and in 0.9 s without (tests/policies/test_bounds.py allows 1 s). Shared by
# threads without a lock: a pair is only ever used when its text is the very object searched, whatever
# another thread did to the list.
_recent: list[tuple[str, bytes]] = []
_CACHED_TEXTS = 4


def encode_text(text: str) -> bytes:
    """The text as RE2 reads it (see the module's doc)."""
    for seen, encoded in _recent:
        if seen is text:
            return encoded
    encoded = _encode(text)
    _recent.insert(0, (text, encoded))
    del _recent[_CACHED_TEXTS:]
    return encoded


# --- translation of re's parse tree to RE2 over the encoded text ----------------------------------------

_ANY = "(?s:.)"


def _char(code: int) -> str:
    if 0xD800 <= code <= 0xDFFF:
        raise PatternError(f"names U+{code:04X}, a surrogate code point, which is not a character; remove it")
    return f"\\x{{{code:x}}}"


def _kinds_class(kinds: frozenset[str]) -> str:
    if not kinds:
        return "[^\\x00-\\x{10ffff}]"  # matches nothing
    return "[" + "".join("\\n" if k == "\n" else re.escape(k) for k in sorted(kinds)) + "]"


def _cased(text: str, flags: int) -> str:
    return f"(?i:{text})" if flags & re.IGNORECASE else text


def _in_class(items: Any, flags: int) -> str:
    """``[...]``: marks for its categories, RE2 character classes for its characters and ranges."""
    negate = False
    kinds: frozenset[str] = frozenset()
    chars: list[str] = []
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.append(_char(av))
        elif op is sre_c.RANGE:
            chars.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is sre_c.CATEGORY:
            kinds |= _CATEGORY_KINDS[av]
        else:  # pragma: no cover - re's parser emits nothing else inside a class
            raise PatternError(f"unsupported character class item {op}")
    if negate:
        # Neither of a listed kind nor a listed character.
        rest = _cased("[^" + "".join(chars) + "]", flags) if chars else _ANY
        return _kinds_class(_ALL_KINDS - kinds) + rest + _ANY
    alternatives = []
    if kinds:
        alternatives.append(_kinds_class(kinds) + _ANY)
    if chars:
        alternatives.append(_ANY + _cased("[" + "".join(chars) + "]", flags))
    return "(?:" + "|".join(alternatives) + ")" + _ANY


def _atom(op: Any, av: Any, flags: int) -> str:
    """One character of the pattern as RE2 over encoded characters (mark, character, mark)."""
    if op is sre_c.LITERAL:
        return _ANY + _cased(_char(av), flags) + _ANY
    if op is sre_c.NOT_LITERAL:
        return _ANY + _cased(f"[^{_char(av)}]", flags) + _ANY
    if op is sre_c.ANY:
        if flags & re.DOTALL:
            return _ANY * 3
        return _kinds_class(_ALL_KINDS - {_NEWLINE}) + _ANY + _ANY
    return _in_class(av, flags)


class _Translator:
    def seq(self, items: list[tuple[Any, Any]], flags: int, at_end: bool) -> str:
        last = len(items) - 1
        return "".join(self.item(op, av, flags, at_end and i == last) for i, (op, av) in enumerate(items))

    def item(self, op: Any, av: Any, flags: int, at_end: bool) -> str:
        if op in _REFUSED:  # pragma: no cover - checked before translating
            raise PatternError(f"{_REFUSED[op]} are not supported")
        if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
            return _atom(op, av, flags)
        if op is sre_c.AT:
            return self.at(av, flags, at_end)
        if op is sre_c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            return "(?:" + self.seq(list(sub), (flags | add_flags) & ~del_flags, at_end) + ")"
        if op is sre_c.BRANCH:
            _, alternatives = av
            return "(?:" + "|".join(self.seq(list(alt), flags, at_end) for alt in alternatives) + ")"
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            unbounded = hi is sre_c.MAXREPEAT
            if lo > MAX_REPEAT_COUNT or (not unbounded and hi > MAX_REPEAT_COUNT):
                raise PatternError(
                    f"is too large: a counted repeat may be at most {{{MAX_REPEAT_COUNT}}}; use smaller {{m,n}} counts"
                )
            # A repeated part ends the pattern only if it is the last copy: at most one copy.
            body = "(?:" + self.seq(list(sub), flags, at_end and not unbounded and hi <= 1) + ")"
            if unbounded:
                return body + ("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
            return body + f"{{{lo},{hi}}}"
        raise PatternError(f"unsupported regular-expression feature {op}")  # pragma: no cover

    def at(self, kind: Any, flags: int, at_end: bool) -> str:
        multiline = bool(flags & re.MULTILINE)
        if kind is sre_c.AT_BEGINNING_STRING:
            return "\\A"
        if kind is sre_c.AT_BEGINNING:
            return "(?m:^)" if multiline else "\\A"
        if kind is sre_c.AT_END_STRING:
            return "\\z"
        if kind is sre_c.AT_END:
            if multiline:
                return "(?m:$)"  # before a newline's mark, or at the end
            if not at_end:
                raise PatternError(
                    "uses '$' before the end of the pattern; '$' may only end it (or one of its "
                    "alternatives): use \\n for a line break inside the text, or (?m)$ for the end of any line"
                )
            # The end, or just before a final newline: nothing of the pattern follows, so read it.
            return f"(?:{_ANY}\\n{_ANY})?\\z"
        if kind is sre_c.AT_BOUNDARY:
            return "\\b"
        if kind is sre_c.AT_NON_BOUNDARY:
            return "\\B"
        raise PatternError(f"unsupported assertion {kind}")  # pragma: no cover


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


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    options.log_errors = False  # a refused pattern is reported to the author, not to the log
    return options


_OPTIONS = _options()


class SafePattern:
    """A compiled ``matches`` pattern: search time linear in the text, over the whole text."""

    __slots__ = ("_empty", "_re2", "pattern", "translated")

    def __init__(self, pattern: str) -> None:
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
        try:
            body = _Translator().seq(list(tree), tree.state.flags, True)
        except RecursionError:
            raise PatternError("is nested too deeply") from None
        # Matches start on an encoded character: skip whole characters, then the pattern.
        self.translated = f"\\A(?s:...)*?(?:{body})"
        try:
            self._re2 = re2.compile(self.translated.encode("utf-8"), _OPTIONS)
        except re2.error as exc:
            detail = str(exc)
            if "too large" in detail or "bad repetition" in detail:
                raise PatternError(
                    "is too large once its repeats are expanded; use smaller {m,n} counts or fewer alternatives"
                ) from None
            raise PatternError(f"cannot be run in linear time: {detail}") from None
        try:
            states = search_states(tree, tree.state.flags)
        except StateLimitError as exc:
            raise PatternError(str(exc)) from None
        if states > MAX_SEARCH_STATES:
            raise PatternError(
                f"needs more than {MAX_SEARCH_STATES:,} states to be searched in one pass, which makes matching "
                "slow on long texts (a counted repeat of a broad class after another, like a.{20}c); "
                "narrow the classes or shorten the repeat"
            )
        # The empty text has no characters to encode; Python's own answer for it is immediate.
        self._empty = compiled.search("") is not None

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (all of it)."""
        if not text:
            return self._empty
        return self._re2.search(encode_text(text)) is not None

    def __repr__(self) -> str:
        return f"SafePattern({self.pattern!r})"
