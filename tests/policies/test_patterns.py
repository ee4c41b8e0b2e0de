"""Regular expressions in policies: linear-time search of the whole text that agrees with Python's ``re``."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.patterns import PatternError, SafePattern

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


@settings(max_examples=600, deadline=None)
@given(pattern=_regex(), text=_TEXTS)
def test_patterns_agree_with_re(pattern: str, text: str) -> None:
    try:
        expected = re.search(pattern, text, re.IGNORECASE) is not None
    except re.error:
        return
    try:
        compiled = SafePattern(pattern)
    except PatternError as exc:
        # The one construct refused that re accepts: a '$' that does not end the pattern.
        assert "'$'" in str(exc), (pattern, exc)
        return
    assert compiled.search(text) == expected, (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bGröße\b", "Die Größe passt"),
        (r"\baño\b", "feliz año nuevo"),
        (r"\bdéjà\b", "c'est déjà fait"),
        (r"\bação\b", "uma ação rápida"),
        (r"^\w+$", "Größe"),
        (r"\w+ção", "ação"),
        (r"\d", "٣"),  # an Arabic-Indic digit is a digit to Python
        (r"\s", "\u2003"),
    ],
)
def test_unicode_words_digits_and_spaces_mean_what_they_mean_in_python(pattern: str, text: str) -> None:
    assert re.search(pattern, text, re.IGNORECASE)
    assert SafePattern(pattern).search(text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bgr", "ößgr"),  # no boundary between two word characters, even non-ASCII ones
        (r"a\b", "año"),
        (r"\Bñ", " ñ"),
    ],
)
def test_no_word_boundary_inside_unicode_words(pattern: str, text: str) -> None:
    assert not re.search(pattern, text, re.IGNORECASE)
    assert not SafePattern(pattern).search(text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(a+)+$", "a" * 50_000 + "!"),
        (r"a.*b.*c", "ab" * 100_000),
        (r"\w+@\w+\.com", "a" * 300_000),
        (r"(x|x)*y", "x" * 100_000),
    ],
)
def test_catastrophic_patterns_finish_and_answer_for_the_whole_text(pattern: str, text: str) -> None:
    compiled = SafePattern(pattern)
    started = time.process_time()
    assert compiled.search(text) is False
    # Generous bound: re needs seconds (or forever) here; RE2 reads the text a bounded number of times.
    assert time.process_time() - started < 1.0


def test_the_whole_text_is_searched() -> None:
    long = "x" * 100_000
    assert SafePattern("needle").search(long + "needle") is True
    assert SafePattern(r"needle$").search(long + "needle\n") is True
    # A '$' after a cut would have matched inside the text.
    assert SafePattern(r"(a+)+$").search("a" * 50_000 + "!") is False
    assert SafePattern(r"(a+)+$").search("!" + "a" * 50_000) is True


def test_a_lone_surrogate_in_the_text_is_searched_like_other_characters() -> None:
    assert SafePattern(r"a\W+b").search("a\ud800b")
    assert not SafePattern(r"a\w+b").search("a\ud800b")


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
        (r"a$b", "'$' may only end it"),
        (r"x\ud800", "surrogate"),
        (r"[\ud800-\udfff]", "surrogate"),
        (r"(a$)*", "'$' may only end it"),
    ],
)
def test_unsafe_or_broken_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        SafePattern(pattern)
