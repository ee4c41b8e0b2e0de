"""policies/README.md documents every field, operator and action the code accepts."""

from __future__ import annotations

from pathlib import Path

from connectors import ACTION_KINDS
from policies.conditions import OPERATORS
from policies.fields import FIELD_FAMILIES, FIELDS
from policies.loader import TOP_KEYS

README = (Path(__file__).resolve().parents[2] / "policies" / "README.md").read_text(encoding="utf-8")


def test_every_field_operator_action_and_section_is_documented() -> None:
    missing = [name for name in FIELDS if f"`{name}`" not in README]
    missing += [prefix for prefix in FIELD_FAMILIES if f"`{prefix}<name>`" not in README]
    missing += [op for op in OPERATORS if op not in README.split("Operators:")[1].split("\n")[0]]
    missing += [kind for kind in ACTION_KINDS if f"| `{kind}` |" not in README]
    missing += [key for key in TOP_KEYS if f"`{key}`" not in README]
    assert missing == []
