"""Labelled tickets for training, evaluation and policy replay: the one reader, of CSV/JSONL files or the store.

Columns are matched case-insensitively. A file is read in one of two ways. As text (training and evaluating a
classifier): the text columns become a ticket's (subject, body): one column is the body; with several, the
first is the subject and the rest, joined, the body. As records (policy replay, :class:`AsRecords`): each row
becomes a canonical ``Ticket`` by the import's column mapping and record rules, because a policy reads every
field of a ticket. Rows that cannot be used (no label, no text, unreadable, not a valid record) are skipped and
counted, each reason once with an example line, so a person can fix the file; a problem with the file as a
whole is a :class:`DatasetError`.

Kept light (no model library is imported) so that replaying a policy on rules alone starts quickly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors import Ticket
from connectors.files import FileFormatError, RowError, RowMapper, read_rows

if TYPE_CHECKING:
    from embeddings import TicketText
    from policies import RoutingPolicy

DEFAULT_TEXT_COLUMNS = ("subject", "body")
# Ticket fields written after routing: a model must not learn from them when predicting something else.
AFTER_ROUTING_FIELDS = frozenset({"answer", "tags", "assignee", "status", "updated_at", "updated_by"})


class DatasetError(ValueError):
    """The labelled data cannot be used as given; the message names the file or column and what to do."""


@dataclass(frozen=True)
class AsRecords:
    """Read each row as a canonical ``Ticket`` (the import's rules; ``mapping`` as ``--map``) and keep rows
    without a label (their label is None): what a policy replay needs."""

    source: str = "replay"
    mapping: Mapping[str, str] | None = None


@dataclass
class LabelledTickets:
    """Tickets as (subject, body), their labels (None when unlabelled) and ids, with what was skipped.

    ``records`` holds the canonical tickets where they were read as records (from the store, or a file with
    :class:`AsRecords`), aligned with the rest; ``problems`` says where and why each skipped row was skipped.
    """

    tickets: list[TicketText] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    languages: list[str | None] = field(default_factory=list)
    label_column: str | None = None
    text_columns: tuple[str, ...] = DEFAULT_TEXT_COLUMNS
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    records: list[Ticket] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tickets)

    def add(self, text: TicketText, label: str | None, ident: str, language: str | None) -> None:
        self.tickets.append(text)
        self.labels.append(label)
        self.ids.append(ident)
        self.languages.append(language)

    def add_record(self, ticket: Ticket, label: str | None, ident: str | None = None) -> None:
        self.add((ticket.subject, ticket.body), label, ident or ticket.external_id, ticket.language)
        self.records.append(ticket)

    def skip(self, reason: str, where: str, detail: str | None = None) -> None:
        """Count a skipped row under ``reason``; ``detail`` is what only this row has wrong."""
        shown = f"{where}: {detail}" if detail else where
        self.skipped[reason] += 1
        self.examples.setdefault(reason, shown)
        self.problems.append(f"{where}: {detail or reason}")

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
        self.records += other.records
        self.problems += other.problems
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
    encoding: str = "auto",
    records: AsRecords | None = None,
) -> LabelledTickets:
    """Read tickets (and labels, when ``label_column`` is given) from CSV/JSONL files, concatenated.

    As text (the default), rows without a label are skipped when a label is asked for and rows whose text
    columns are all empty are skipped. With ``records``, rows become canonical tickets (``text_columns`` and
    ``id_column`` give way to the mapping) and rows without a label are kept. Unreadable rows are skipped
    either way. Unknown columns and files with no usable row are errors.
    """
    if (
        records is None
        and label_column is not None
        and label_column.strip().lower() in {c.strip().lower() for c in text_columns}
    ):
        raise DatasetError(f"'{label_column}' is both the label and a text column: a model cannot read its answer")
    data = LabelledTickets(label_column=label_column, text_columns=tuple(text_columns))
    for path in paths:
        data.extend(_read_file(Path(path), text_columns, label_column, id_column, encoding, records))
    if not data.tickets:
        reasons = "; ".join(data.warnings()) or "the files have no data rows"
        raise DatasetError(f"no usable tickets in {', '.join(map(str, paths))}: {reasons}")
    return data


def _read_file(
    path: Path,
    text_columns: Sequence[str],
    label_column: str | None,
    id_column: str | None,
    encoding: str,
    records: AsRecords | None,
) -> LabelledTickets:
    data = LabelledTickets(label_column=label_column, text_columns=tuple(text_columns))
    label_wanted = [label_column] if label_column else []
    wanted = label_wanted if records is not None else [*text_columns, *label_wanted]
    tabular = path.suffix.lower() in (".csv", ".tsv", ".txt")
    seen: set[str] = set()
    seen_ids: set[str] = set()
    label_key = label_column.strip().lower() if label_column else None
    try:
        mapper = (
            RowMapper("tickets", path=path, source=records.source, mapping=records.mapping)
            if records is not None
            else None
        )
        for line, row in read_rows(path, encoding=encoding):
            where = f"{path}:{line}"
            if "__error__" in row:
                data.skip(f"unreadable row ({row['__error__']})", where)
                continue
            keys = _lower_keys(row)
            if tabular and not seen:
                _check_header(path, keys, wanted)  # every CSV row has the header's columns
            seen.update(keys)
            label: str | None = None
            if label_key is not None:
                label = _text(row.get(keys.get(label_key, ""))).strip() or None
            if mapper is not None:
                parsed = mapper.map(line, row)
                if isinstance(parsed, RowError):
                    data.skip("not a valid ticket", where, parsed.message)
                    continue
                assert isinstance(parsed.record, Ticket)
                data.add_record(parsed.record, label)
                continue
            values = [_text(row.get(keys.get(c.strip().lower(), ""))).strip() for c in text_columns]
            if not any(values):
                data.skip(f"no text in {', '.join(text_columns)}", where)
                continue
            if label_key is not None and label is None:
                data.skip(f"empty label '{label_column}'", where)
                continue
            ticket_id = _text(row.get(keys.get(id_column.lower(), ""))).strip() if id_column else ""
            if not ticket_id or ticket_id in seen_ids:
                ticket_id = f"{path.stem}:{line}"
            seen_ids.add(ticket_id)
            language = _text(row.get(keys.get("language", ""))).strip().lower()
            data.add(as_ticket(values), label, ticket_id, language or None)
    except FileFormatError as exc:
        raise DatasetError(str(exc)) from None
    if not seen and not data.skipped:
        raise DatasetError(f"{path}: the file has no data rows")
    missing = [c for c in wanted if c.strip().lower() not in seen]
    if missing and seen:
        raise DatasetError(f"{path}: no row has a field '{missing[0]}'")
    return data


def team_of_queue(policy: RoutingPolicy | None, connector: str, queue: str) -> str | None:
    """The policy's team for a helpdesk queue name, or the name itself without a policy."""
    if policy is None:
        return queue
    for team in policy.teams:
        if policy.queue_for(team, connector) == queue or team == queue:
            return team
    return None


def tickets_from_store(
    store: Any, label: str | None, *, source: str | None = None, policy: RoutingPolicy | None = None
) -> LabelledTickets:
    """Stored tickets with their value for ``label`` (a ticket field, or a custom field from an import).

    With a ``policy``, a ``queue`` label is the helpdesk's final queue (after people's corrections) as the
    policy's team: the model then speaks the policy's language whatever helpdesk the history came from.
    Tickets still in triage, or in a queue the policy does not know, carry no label.
    """
    from router.store import iter_tickets

    data = LabelledTickets(label_column=label)
    field_names = set(type_fields())
    as_team = policy is not None and label is not None and label.lower() == "queue"
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
                if as_team and policy is not None:
                    value = team_of_queue(policy, ticket.source, value)
                    if value is None or value == policy.defaults.triage_queue:
                        data.skip("queue is triage or not in the policy's queues", where)
                        continue
            data.add_record(ticket, value, f"{ticket.source}:{ticket.external_id}")
    if not data.tickets:
        reasons = "; ".join(data.warnings()) or "the store holds no tickets (run `deskroute import tickets FILE`)"
        raise DatasetError(f"no usable tickets in the store: {reasons}")
    return data


def type_fields() -> list[str]:
    """The Ticket record's own field names (anything else lives in its custom fields)."""
    return list(Ticket.model_fields)
