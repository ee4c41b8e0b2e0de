"""Regular expressions in policies: linear-time search that agrees with Python's ``re``."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.patterns import MAX_MATCH_CHARS, PatternError, SafePattern

# Small regex grammar over a small alphabet, so that random texts often match.
_ATOMS = st.sampled_from(
    ["a", "b", "A", "ä", "ß", ".", r"\w", r"\W", r"\d", r"\s", "[ab]", "[^a]", "[a-cä]", r"\b", r"\B", "^", "$", " "]
)


def _regex(depth: int = 0) -> st.SearchStrategy[str]:
    if depth >= 2:
        return _ATOMS
    inner = st.deferred(lambda: _regex(depth + 1))
    return st.one_of(
        _ATOMS,
        st.lists(inner, min_size=1, max_size=4).map("".join),
        st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
        st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "*?", "{2,}"])).map(
            lambda p: f"(?:{p[0]}){p[1]}"
        ),
        inner.map(lambda p: f"(?m:{p})"),
        inner.map(lambda p: f"(?-i:{p})"),
    )


_TEXTS = st.text(alphabet="abAäßc1 _\n-", max_size=14)


@settings(max_examples=400, deadline=None)
@given(pattern=_regex(), text=_TEXTS)
def test_the_dfa_agrees_with_re(pattern: str, text: str) -> None:
    try:
        expected = re.search(pattern, text, re.IGNORECASE) is not None
    except re.error:
        return
    assert SafePattern(pattern, force_dfa=True).search(text) == expected, (pattern, text)
    assert SafePattern(pattern).search(text) == expected, (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(a+)+$", "a" * 5_000 + "b"),
        (r"a.*b.*c", "ab" * 10_000),
        (r"\w+@\w+\.com", "a" * 30_000),
        (r"(x|x)*y", "x" * 10_000),
    ],
)
def test_catastrophic_patterns_run_on_the_dfa_and_finish(pattern: str, text: str) -> None:
    compiled = SafePattern(pattern)
    assert compiled.engine == "dfa"
    started = time.process_time()
    assert compiled.search(text) is False
    # Generous bound: re needs seconds (or forever) here; the DFA reads each character once.
    assert time.process_time() - started < 2.0


def test_bounded_patterns_keep_pythons_engine() -> None:
    assert SafePattern(r"\b(outage|ausfall|störung)\b").engine == "re"
    assert SafePattern(r"^re:\s?").engine == "re"


def test_only_the_first_characters_are_searched() -> None:
    text = "x" * MAX_MATCH_CHARS + "needle"
    assert SafePattern("needle").search(text) is False
    assert SafePattern("needle").search("needle" + text) is True


def test_patterns_are_case_insensitive_unless_they_say_otherwise() -> None:
    assert SafePattern("refund").search("REFUND please")
    assert not SafePattern("(?-i:refund)").search("REFUND please")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a)\1", "backreferences"),
        (r"(?=a)b", "lookahead"),
        (r"(?<!a)b", "lookahead/lookbehind"),
        (r"a*+", "possessive"),
        (r"(?>a)", "atomic"),
        (r"(a)?(?(1)b|c)", "conditional"),
        (r"(", "does not compile"),
        (r"(?a)\w", "flags are not supported"),
        (r"(?:ab|a){2000}c*", "too large"),
    ],
)
def test_unsafe_or_broken_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        SafePattern(pattern)
