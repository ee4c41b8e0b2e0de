"""Golden error tests: one bad policy per kind of mistake, with the exact message a support lead sees.

Each ``golden/NAME.yaml``, read with its tests as ``deskroute policy validate`` reads it, must fail with
exactly the text in ``golden/NAME.expected``. To accept new messages after a deliberate change, run with
``DESKROUTE_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policies import PolicyError, parse_tested_policy

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.yaml"))


def test_there_is_a_golden_case_per_error_kind() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_policy_gives_the_expected_message(case: Path) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_tested_policy(case.read_text(encoding="utf-8"), case.name)
    message = str(raised.value)
    for issue in raised.value.issues:
        assert issue.line >= 1 and issue.column >= 1, f"unlocated issue: {issue}"
    expected_file = case.with_suffix(".expected")
    if os.environ.get("DESKROUTE_UPDATE_GOLDEN") == "1":
        expected_file.write_text(message + "\n", encoding="utf-8")
    assert message == expected_file.read_text(encoding="utf-8").rstrip("\n")
