"""Request Tracker's vocabularies and how they map to deskroute's canonical ones.

RT stores priority as an integer and names values per queue through ``%PriorityAsString`` (default
Low 0, Medium 50, High 100). A :class:`PriorityScale` holds one queue's names; :class:`Vocabulary` combines
it with the connector's configured ``priority_map``, ``status_map`` and ``queue_map``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal, cast

from connectors.records import PRIORITIES, Priority, TicketStatus, normalise_priority

# RT's documented default for %PriorityAsString.
DEFAULT_PRIORITY_NAMES: tuple[tuple[str, int], ...] = (("Low", 0), ("Medium", 50), ("High", 100))

# RT's default lifecycle, in canonical words; a connector's status_map extends or overrides it.
DEFAULT_STATUS_MAP: dict[str, TicketStatus] = {
    "new": "new",
    "open": "open",
    "stalled": "hold",
    "resolved": "solved",
    "rejected": "closed",
    "deleted": "deleted",
}
CANONICAL_STATUSES: frozenset[str] = frozenset(
    {"new", "open", "pending", "hold", "solved", "closed", "deleted", "merged", "spam"}
)

PriorityOrigin = Literal["instance", "config", "default"]


class VocabularyError(ValueError):
    """A configured mapping does not fit the RT instance; the message names the key and the valid values."""


@dataclass(frozen=True)
class PriorityScale:
    """One queue's priority names, lowest first, and where they came from."""

    names: tuple[tuple[str, int], ...]
    origin: PriorityOrigin

    @classmethod
    def from_pairs(
        cls, pairs: Mapping[str, int] | tuple[tuple[str, int], ...], origin: PriorityOrigin
    ) -> PriorityScale:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        return cls(tuple(sorted(((str(k), int(v)) for k, v in items), key=lambda kv: (kv[1], kv[0]))), origin)

    def name_for(self, number: int) -> str | None:
        """RT's own rule: the highest name whose value is at or below ``number``."""
        found = None
        for name, value in self.names:
            if number >= value:
                found = name
        return found

    def number_for(self, name: str) -> int | None:
        wanted = name.strip().lower()
        for label, value in self.names:
            if label.lower() == wanted:
                return value
        return None

    def describe(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.names) + f" ({self.origin})"


# A priority menu is a handful of short names: options past the hundredth, or longer names, are not read.
_MAX_PRIORITY_NAMES = 100
_MAX_PRIORITY_NAME = 100


class _PrioritySelect(HTMLParser):
    """Reads ``<select name="InitialPriority">`` options from RT's ticket form: the instance's names."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.names: list[tuple[str, int]] = []
        self._in_select = False
        self._done = False
        self._value: int | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "select" and attributes.get("name") == "InitialPriority" and not self._done:
            self._in_select = True
        elif tag == "option" and self._in_select:
            raw = (attributes.get("value") or "").strip()
            number = raw.removeprefix("-")
            # ASCII digits only ("²".isdigit() holds, int() refuses it), and no more than a priority needs.
            readable = number.isascii() and number.isdigit() and len(number) <= 9
            self._value = int(raw) if readable and len(self.names) < _MAX_PRIORITY_NAMES else None
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._in_select and self._value is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._in_select and self._value is not None:
            label = "".join(self._text).strip()
            if label and len(label) <= _MAX_PRIORITY_NAME:
                self.names.append((label, self._value))
            self._value = None
        elif tag == "select" and self._in_select:
            self._in_select = False
            self._done = True


def priority_names_from_form(html: str) -> tuple[tuple[str, int], ...]:
    """The priority names RT renders in its ticket form; empty when the instance shows plain numbers."""
    parser = _PrioritySelect()
    parser.feed(html)
    parser.close()
    return tuple(parser.names)


@dataclass(frozen=True)
class Vocabulary:
    """Configured mappings between RT's words and deskroute's."""

    queue_map: Mapping[str, str]
    priority_map: Mapping[str, str]
    status_map: Mapping[str, str]

    def __post_init__(self) -> None:
        for canonical in self.priority_map:
            if canonical not in PRIORITIES:
                raise VocabularyError(
                    f"priority_map key {canonical!r} is not a canonical priority ({', '.join(PRIORITIES)})"
                )
        for vendor, canonical in self.status_map.items():
            if canonical not in CANONICAL_STATUSES:
                raise VocabularyError(
                    f"status_map.{vendor} = {canonical!r} is not a canonical status "
                    f"({', '.join(sorted(CANONICAL_STATUSES))})"
                )

    # -- queues -----------------------------------------------------------------------------------------

    def rt_queue(self, canonical: str) -> str:
        return self.queue_map.get(canonical, canonical)

    def canonical_queue(self, rt_queue: str | None) -> str | None:
        if rt_queue is None:
            return None
        for canonical, vendor in self.queue_map.items():
            if vendor == rt_queue:
                return canonical
        return rt_queue

    # -- statuses ---------------------------------------------------------------------------------------

    def canonical_status(self, rt_status: str | None) -> TicketStatus:
        word = (rt_status or "new").strip().lower()
        mapped = self.status_map.get(word) or DEFAULT_STATUS_MAP.get(word)
        # A custom lifecycle's status nobody mapped is still an active ticket: treat it as open.
        return cast(TicketStatus, mapped or "open")

    # -- priorities -------------------------------------------------------------------------------------

    def _configured_number(self, canonical: str, scale: PriorityScale) -> int | None:
        value = self.priority_map.get(canonical)
        if value is None:
            return None
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return int(text)
        number = scale.number_for(text)
        if number is None:
            names = ", ".join(name for name, _ in scale.names) or "none"
            raise VocabularyError(
                f"priority_map.{canonical} = {text!r} is not a priority name of this queue "
                f"(names: {names}); use one of them or a number"
            )
        return number

    def rt_priority(self, canonical: Priority, scale: PriorityScale) -> int:
        """The number to write for a canonical priority, through the configured map and the queue's names."""
        configured = self._configured_number(canonical, scale)
        if configured is not None:
            return configured
        for name, value in scale.names:
            if normalise_priority(name) == canonical:
                return value
        if not scale.names:
            scale = PriorityScale.from_pairs(DEFAULT_PRIORITY_NAMES, "default")
        # No name means this priority: the nearest end of the scale (urgent/high -> top, low -> bottom).
        if canonical in ("urgent", "high"):
            return scale.names[-1][1]
        if canonical == "low":
            return scale.names[0][1]
        return scale.names[len(scale.names) // 2][1]

    def canonical_priority(self, number: int | None, scale: PriorityScale) -> Priority | None:
        """The canonical priority of an RT number: the configured map first, then the queue's name for it."""
        if number is None:
            return None
        label = scale.name_for(number)
        for canonical in PRIORITIES:
            value = self.priority_map.get(canonical)
            if value is None:
                continue
            text = str(value).strip()
            if text.lstrip("-").isdigit():
                if int(text) == number:
                    return canonical
            elif label is not None and text.lower() == label.lower():
                return canonical
        return normalise_priority(label) if label is not None else None
