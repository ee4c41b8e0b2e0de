"""deskroute's priority band in Zendesk: a drop-down custom ticket field whose options sort in priority order.

Zendesk views sort by a custom field, and a drop-down sorts by its options' names: naming them
``1 Urgent``, ``2 High``, ``3 Normal``, ``4 Low`` puts the most pressing tickets first, whatever the ticket's
own priority says. deskroute writes the option's *value* (a tag) when it sets a priority; the check reads the
field back and says what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.records import PRIORITIES

# Option values (tags) deskroute writes, most pressing first; a connector's band_values may rename them.
DEFAULT_BAND_VALUES: dict[str, str] = {
    "urgent": "deskroute_band_1_urgent",
    "high": "deskroute_band_2_high",
    "normal": "deskroute_band_3_normal",
    "low": "deskroute_band_4_low",
}
BAND_ORDER = ("urgent", "high", "normal", "low")


def band_values(configured: Mapping[str, Any] | None) -> dict[str, str]:
    """The option value for each canonical priority; ValueError names a wrong key or value."""
    values = dict(DEFAULT_BAND_VALUES)
    for key, value in (configured or {}).items():
        if key not in PRIORITIES:
            raise ValueError(f"options.band_values key {key!r} is not a canonical priority ({', '.join(PRIORITIES)})")
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
            raise ValueError(
                f"options.band_values.{key} = {value!r}: a drop-down option's value is a tag, text without spaces"
            )
        values[key] = value
    if len(set(values.values())) != len(values):
        raise ValueError("options.band_values: two priorities share one option value; each needs its own")
    return values


def check_band_field(field: Mapping[str, Any] | None, field_id: int, values: Mapping[str, str]) -> tuple[bool, str]:
    """Whether the ticket field can hold deskroute's band, and sorts by it; the detail says what to fix."""
    if field is None:
        return False, f"ticket field {field_id} does not exist; create a drop-down field and set options.band_field_id"
    title = str(field.get("title") or field_id)
    if field.get("type") != "tagger":
        return False, f"'{title}' ({field_id}) is a {field.get('type')} field; the band needs a drop-down (tagger)"
    if field.get("active") is False:
        return False, f"'{title}' ({field_id}) is inactive; activate it in Admin Center"
    options = [o for o in field.get("custom_field_options") or [] if isinstance(o, Mapping)]
    by_value = {str(o.get("value")): str(o.get("name") or "") for o in options}
    missing = [f"{p} ({values[p]})" for p in BAND_ORDER if values[p] not in by_value]
    if missing:
        return False, f"'{title}' ({field_id}) lacks options with the values {', '.join(missing)}"
    names = [by_value[values[p]] for p in BAND_ORDER]
    if sorted(names, key=str.casefold) != names:
        return False, (
            f"'{title}' ({field_id}): the options' names ({', '.join(names)}) do not sort urgent to low, so a view "
            "sorted by the field mixes them; prefix them 1-4"
        )
    return True, f"'{title}' ({field_id}) with options {', '.join(names)}"
