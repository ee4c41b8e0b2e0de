"""Errors a support lead can act on: each names the file, line and column, and says what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyIssue:
    """One problem in a policy file. ``line`` and ``column`` are 1-based; 0 means 'the whole file'."""

    source: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.line}:{self.column}: {self.message}"


class PolicyError(ValueError):
    """A policy (or its tests) is invalid. ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: Iterable[PolicyIssue]):
        self.issues = sorted(issues, key=lambda i: (i.source, i.line, i.column))
        if not self.issues:
            raise ValueError("PolicyError needs at least one issue")
        super().__init__("\n".join(str(i) for i in self.issues))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A '; did you mean 'x'?' suffix when a close choice exists, else a list of the valid choices."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if not close:
        # 'gte_than' → 'gte', 'prio' → 'priority': one is the start of the other.
        prefixed = [o for o in options if len(o) >= 2 and (word.startswith(o) or o.startswith(word))]
        if len(word) >= 3 and prefixed:
            close = [max(prefixed, key=len)]
    if close:
        return f"; did you mean '{close[0]}'?"
    if len(options) <= 12:
        return "; expected one of: " + ", ".join(options)
    return ""
