"""Labelled tickets for training and evaluation: from CSV/JSONL files or from the store.

Columns are matched case-insensitively. Text columns become a ticket's (subject, body): one column is the
body; with several, the first is the subject and the rest, joined, the body. Rows that cannot be used (no
label, no text, unreadable) are skipped and counted, each reason once with an example line, so a person can
fix the file; a problem with the file as a whole is a :class:`DatasetError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.files import FileFormatError, read_rows
from router.predict.classifier import TicketText

DEFAULT_TEXT_COLUMNS = ("subject", "body")
# Ticket fields written after routing: a model must not learn from them when predicting something else.
AFTER_ROUTING_FIELDS = frozenset({"answer", "tags", "assignee", "status", "updated_at", "updated_by"})


class DatasetError(ValueError):
    """The labelled data cannot be used as given; the message names the file or column and what to do."""


@dataclass
class LabelledTickets:
    """Tickets as (subject, body), their labels (None when unlabelled) and ids, with what was skipped."""

    tickets: list[TicketText] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    languages: list[str | None] = field(default_factory=list)
    label_column: str | None = None
    text_columns: tuple[str, ...] = DEFAULT_TEXT_COLUMNS
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tickets)

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, where)

    def warnings(self) -> list[str]:
        """One line per reason rows were skipped, with how many and the first place it happened."""
        return [
            f"skipped {n} row(s): {reason} (first at {self.examples[reason]})" for reason, n in self.skipped.items()
        ]

    def extend(self, other: LabelledTickets) -> None:
        self.tickets += other.tickets
        self.labels += other.labels
        self.ids += other.ids
        self.languages += other.languages
        self.skipped.update(other.skipped)
        for reason, where in other.examples.items():
            self.examples.setdefault(reason, where)

    def labelled(self) -> list[str]:
        """The labels, when every ticket has one."""
        if any(label is None for label in self.labels):
            raise DatasetError("some tickets have no label")
        return [str(label) for label in self.labels]


def parse_columns(spec: str) -> tuple[str, ...]:
    """``subject,body`` → ("subject", "body"); rejects an empty list."""
    columns = tuple(part.strip() for part in spec.split(",") if part.strip())
    if not columns:
        raise DatasetError(f"--text {spec!r} names no column; give e.g. --text subject,body")
    return columns


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def as_ticket(values: Sequence[str]) -> TicketText:
    """Text column values → (subject, body)."""
    if len(values) == 1:
        return None, values[0]
    body = "\n".join(v for v in values[1:] if v)
    return values[0], body


def _lower_keys(row: dict[str, Any]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for key in row:
        keys.setdefault(key.strip().lower(), key)
    return keys


def _check_header(path: Path, keys: dict[str, str], wanted: Sequence[str]) -> None:
    for column in wanted:
        if column.strip().lower() not in keys:
            shown = ", ".join(list(keys.values())[:30]) + (" ..." if len(keys) > 30 else "")
            raise DatasetError(f"{path}: no column '{column}'; the file has: {shown}")


def read_labelled(
    paths: Sequence[Path],
    *,
    text_columns: Sequence[str] = DEFAULT_TEXT_COLUMNS,
    label_column: str | None = None,
    id_column: str | None = "id",
) -> LabelledTickets:
    """Read tickets (and labels, when ``label_column`` is given) from CSV/JSONL files, concatenated.

    Rows without a label are skipped when a label is asked for; rows whose text columns are all empty are
    skipped; unreadable rows are skipped. Unknown columns and files with no usable row are errors.
    """
    if label_column is not None and label_column.strip().lower() in {c.strip().lower() for c in text_columns}:
        raise DatasetError(f"'{label_column}' is both the label and a text column: a model cannot read its answer")
    data = LabelledTickets(label_column=label_column, text_columns=tuple(text_columns))
    for path in paths:
        data.extend(_read_file(Path(path), text_columns, label_column, id_column))
    if not data.tickets:
        reasons = "; ".join(data.warnings()) or "the files have no data rows"
        raise DatasetError(f"no usable tickets in {', '.join(map(str, paths))}: {reasons}")
    return data


def _read_file(
    path: Path, text_columns: Sequence[str], label_column: str | None, id_column: str | None
) -> LabelledTickets:
    data = LabelledTickets(label_column=label_column, text_columns=tuple(text_columns))
    wanted = [*text_columns, *([label_column] if label_column else [])]
    tabular = path.suffix.lower() in (".csv", ".tsv", ".txt")
    seen: set[str] = set()
    seen_ids: set[str] = set()
    label_key = label_column.strip().lower() if label_column else None
    try:
        for line, row in read_rows(path):
            where = f"{path}:{line}"
            if "__error__" in row:
                data.skip(f"unreadable row ({row['__error__']})", where)
                continue
            keys = _lower_keys(row)
            if tabular and not seen:
                _check_header(path, keys, wanted)  # every CSV row has the header's columns
            seen.update(keys)
            values = [_text(row.get(keys.get(c.strip().lower(), ""))).strip() for c in text_columns]
            if not any(values):
                data.skip(f"no text in {', '.join(text_columns)}", where)
                continue
            label: str | None = None
            if label_key is not None:
                label = _text(row.get(keys.get(label_key, ""))).strip() or None
                if label is None:
                    data.skip(f"empty label '{label_column}'", where)
                    continue
            ticket_id = _text(row.get(keys.get(id_column.lower(), ""))).strip() if id_column else ""
            if not ticket_id or ticket_id in seen_ids:
                ticket_id = f"{path.stem}:{line}"
            seen_ids.add(ticket_id)
            language = _text(row.get(keys.get("language", ""))).strip().lower()
            data.tickets.append(as_ticket(values))
            data.labels.append(label)
            data.ids.append(ticket_id)
            data.languages.append(language or None)
    except FileFormatError as exc:
        raise DatasetError(str(exc)) from None
    if not seen and not data.skipped:
        raise DatasetError(f"{path}: the file has no data rows")
    missing = [c for c in wanted if c.strip().lower() not in seen]
    if missing and seen:
        raise DatasetError(f"{path}: no row has a field '{missing[0]}'")
    return data


def tickets_from_store(store: Any, label: str | None, *, source: str | None = None) -> LabelledTickets:
    """Stored tickets with their value for ``label`` (a ticket field, or a custom field from an import)."""
    from router.store import iter_tickets

    data = LabelledTickets(label_column=label)
    field_names = set(type_fields())
    with store.session() as session:
        for ticket in iter_tickets(session, source=source):
            where = f"ticket {ticket.source}:{ticket.external_id}"
            if not (ticket.subject or ticket.body).strip():
                data.skip("no subject or body", where)
                continue
            value: Any = None
            if label is not None:
                key = label.lower()
                if key in field_names:
                    value = getattr(ticket, key)
                else:
                    custom = {k.lower(): v for k, v in ticket.custom_fields.items()}
                    value = custom.get(key)
                value = _text(value).strip() or None
                if value is None:
                    data.skip(f"no value for '{label}'", where)
                    continue
            data.tickets.append((ticket.subject, ticket.body))
            data.labels.append(value)
            data.ids.append(f"{ticket.source}:{ticket.external_id}")
            data.languages.append(ticket.language)
    if not data.tickets:
        reasons = "; ".join(data.warnings()) or "the store holds no tickets (run `deskroute import tickets FILE`)"
        raise DatasetError(f"no usable tickets in the store: {reasons}")
    return data


def type_fields() -> list[str]:
    """The Ticket record's own field names (anything else lives in its custom fields)."""
    from connectors import Ticket

    return list(Ticket.model_fields)
