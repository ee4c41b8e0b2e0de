"""The file connector's read side: canonical records from CSV or JSONL files, with a column mapping.

Rows are validated one by one; a bad row becomes a :class:`RowError` naming the file, line and field, so the
caller decides whether to skip it or abort the whole file.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from connectors.records import (
    MAX_TEXT_CHARS,
    BehaviorEvent,
    Comment,
    Customer,
    RecordError,
    Ticket,
    normalise_priority,
)

RecordKind = Literal["tickets", "customers", "events"]

# Canonical field -> column name; these defaults fit the support-tickets sample and common exports.
DEFAULT_MAPPINGS: dict[RecordKind, dict[str, str]] = {
    "tickets": {
        "external_id": "id",
        "subject": "subject",
        "body": "body",
        "requester": "requester",
        "organization": "organization",
        "channel": "channel",
        "status": "status",
        "priority": "priority",
        "queue": "queue",
        "assignee": "assignee",
        "tags": "tags",
        "language": "language",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "answer": "answer",
    },
    "customers": {
        "external_id": "id",
        "email": "email",
        "name": "name",
        "organization": "organization",
        "opted_out": "opted_out",
        "created_at": "created_at",
    },
    "events": {
        "external_id": "id",
        "customer_external_id": "customer",
        "kind": "kind",
        "occurred_at": "occurred_at",
    },
}

# The column names a user sees in the README, accepted in --map for the fields they stand for.
_FIELD_ALIASES: dict[RecordKind, dict[str, str]] = {
    "tickets": {"id": "external_id"},
    "customers": {"id": "external_id"},
    "events": {"id": "external_id", "customer": "customer_external_id"},
}

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}
#: One CSV field, or one text value in a JSONL object: the records' own cap on long text.
MAX_FIELD_CHARS = MAX_TEXT_CHARS
#: One JSONL line: room for a full-size body beside its other fields, and no more.
MAX_LINE_CHARS = 4 * MAX_FIELD_CHARS


class FileFormatError(ValueError):
    """The file as a whole cannot be read (format, encoding, header); the message says what to do."""


@dataclass(frozen=True)
class RowError:
    """One row that could not become a record: where, why, and (where known) its id, field and content."""

    path: Path
    line: int
    message: str
    external_id: str | None = None
    field: str | None = None
    row: Mapping[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ParsedRow:
    """One row turned into records: the main record, plus comments carried on a ticket row."""

    line: int
    record: Ticket | Customer | BehaviorEvent
    comments: tuple[Comment, ...] = ()


def parse_mapping(spec: str | None) -> dict[str, str]:
    """Parse ``body=description,queue=group`` into {field: column}; :class:`RowMapper` checks the names."""
    mapping: dict[str, str] = {}
    if not spec:
        return mapping
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise FileFormatError(f"--map entry {part!r} is not FIELD=COLUMN (e.g. body=description)")
        field, column = (s.strip() for s in part.split("=", 1))
        if not field or not column:
            raise FileFormatError(f"--map entry {part!r} is not FIELD=COLUMN (e.g. body=description)")
        mapping[field] = column
    return mapping


class _CountingReader(io.RawIOBase):
    """Counts bytes read so a progress bar can follow a text-mode parser."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None):
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._on_read and n:
            self._on_read(n)
        return n


def require_file(path: Path) -> None:
    """A clear error unless ``path`` is a readable regular file (a folder is not "no such file")."""
    if path.is_dir():
        raise FileFormatError(f"{path}: is a folder, not a file; give the CSV or JSONL file inside it")
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if not path.is_file():
        raise FileFormatError(f"{path}: not a regular file (a device or a pipe); give a CSV or JSONL file")


def _utf16_without_bom(head: bytes) -> str | None:
    """ "le" or "be" when the bytes look like UTF-16 text without a byte-order mark, else None.

    Text in a Latin script as UTF-16 has a NUL in every other byte (the high byte of each character): at odd
    positions in little-endian, at even ones in big-endian. Real UTF-8 or Windows-1252 text has no NULs.
    """
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : pairs * 2 : 2].count(0), head[1 : pairs * 2 : 2].count(0)
    if odd >= 0.4 * pairs and even <= 0.1 * pairs:
        return "le"
    if even >= 0.4 * pairs and odd <= 0.1 * pairs:
        return "be"
    return None


def _detect_encoding(path: Path) -> str:
    """UTF-8 (BOM stripped) when the whole file decodes as UTF-8, UTF-16 with its BOM, else Windows-1252."""
    with path.open("rb") as fh:
        head = fh.read(4096)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        order = _utf16_without_bom(head)
        if order is not None:
            # It would decode as UTF-8 with a NUL between letters and report a missing column: say what it is.
            raise FileFormatError(
                f"{path}: looks like UTF-16 without a byte-order mark; pass --encoding utf-16-{order}, "
                "or save the file as UTF-8"
            )
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _open_text(path: Path, encoding: str, on_read: Callable[[int], None] | None) -> io.TextIOWrapper:
    raw = _CountingReader(path.open("rb"), on_read)
    return io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, errors="strict", newline="")


def _csv_rows(path: Path, encoding: str, on_read: Callable[[int], None] | None) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    with _open_text(path, encoding, on_read) as fh:
        # strict: a quote that never closes is an error, not a field that silently swallows the rows after it.
        reader = csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",", strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise FileFormatError(f"{path}: the file is empty; expected a header row") from None
        except csv.Error as exc:
            raise FileFormatError(f"{path}:1: {_csv_problem(str(exc), 1)}") from None
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            dupes = sorted({h for h in header if header.count(h) > 1})
            raise FileFormatError(f"{path}:1: duplicate column name(s) {', '.join(dupes)}")
        start = reader.line_num + 1
        try:
            for values in reader:
                line = start
                start = reader.line_num + 1
                if not values or all(not v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield line, {"__error__": f"has {len(values)} fields, the header has {len(header)}"}
                    continue
                yield line, dict(zip(header, values, strict=True))
        except csv.Error as exc:
            raise FileFormatError(f"{path}:{start}: {_csv_problem(str(exc), start, reader.line_num)}") from None


def _csv_problem(error: str, start: int, end: int | None = None) -> str:
    """The csv module's complaint about the record on lines ``start``..``end``, in words that say what to fix."""
    if "unexpected end of data" in error:
        return (
            f'unterminated quote starting at line {start}: a field opened with " never closes, so every row '
            'after it would be read into that field; close the quote (a quote inside a field is written "")'
        )
    if "expected after" in error and end is not None and end > start:
        return (
            f"unterminated quote starting at line {start}: the field opened there only closes on line {end}, "
            'swallowing the rows between; close the quote (a quote inside a field is written "")'
        )
    if "expected after" in error:
        return f"text after a closing quote in the row starting at line {start}; quote the whole field"
    if "field larger than field limit" in error:
        return f"a field is longer than {MAX_FIELD_CHARS:,} characters, the most any field may hold"
    return f"CSV error: {error}"


def _jsonl_rows(
    path: Path, encoding: str, on_read: Callable[[int], None] | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path, encoding, on_read) as fh:
        number = 0
        while line := fh.readline(MAX_LINE_CHARS + 1):
            number += 1
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                while (rest := fh.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                    pass  # the rest of an oversized line is not read into memory
                yield number, {"__error__": f"line longer than {MAX_LINE_CHARS:,} characters"}
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
                continue
            except RecursionError:
                yield number, {"__error__": "JSON nested too deeply to read (a record nests a few levels at most)"}
                continue
            except ValueError as exc:  # e.g. an integer of more digits than Python converts
                yield number, {"__error__": f"not readable JSON ({exc})"}
                continue
            if not isinstance(obj, dict):
                yield number, {"__error__": "expected a JSON object per line"}
                continue
            yield number, obj


def read_rows(
    path: Path, *, encoding: str = "auto", on_read: Callable[[int], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) pairs from a CSV or JSONL file; a row that cannot be read carries ``__error__``."""
    require_file(path)
    enc = _detect_encoding(path) if encoding == "auto" else encoding
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            yield from _jsonl_rows(path, enc, on_read)
        elif suffix in (".csv", ".tsv", ".txt"):
            yield from _csv_rows(path, enc, on_read)
        else:
            raise FileFormatError(f"{path}: unknown file type {suffix!r}; use .csv or .jsonl")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{path}: cannot decode as {enc} at byte {exc.start}; save the file as UTF-8, or give its encoding "
            "where the command takes --encoding (e.g. --encoding latin-1)"
        ) from None
    except LookupError:
        raise FileFormatError(f"{path}: unknown encoding {enc!r}") from None


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"field '{field}': {value!r} is not a yes/no value (true/false, yes/no, 1/0)")


def _time(value: Any, field: str) -> datetime | None:
    """An ISO 8601 time. Numbers and booleans are refused: ``true`` or ``1700000000`` read as seconds since
    1970 would be silently a date nobody meant."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"field '{field}': {_kind(value)} is not a time; write it as an ISO 8601 string")
    text = value.strip()
    try:
        if text.isdigit() and len(text) != 8:  # 20260131 is ISO 8601's basic date; other digits are not
            raise ValueError
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"field '{field}': {_shown(value)} is not an ISO 8601 time (e.g. 2026-01-31T09:30:00Z)"
        ) from None


def _kind(value: Any) -> str:
    """How a JSON value is named in an error."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return f"a {type(value).__name__}"


def _shown(value: Any, limit: int = 60) -> str:
    """A value quoted for an error message, cut short: the message must stay readable whatever the input."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-1]}"


def _text(value: Any, field: str, *, number_ok: bool = False) -> str | None:
    """A text field's value. A JSON object or array where text belongs is refused, not stored as its repr;
    ids may be JSON integers (exports often number them)."""
    if value is None or isinstance(value, str):
        return value
    if number_ok and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"field '{field}': must be a string, not {_kind(value)}")


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        if not all(isinstance(t, str) for t in value):
            raise ValueError("field 'tags': every tag must be a string")
        return [t.strip() for t in value if t.strip()]
    text = _text(value, "tags") or ""
    sep = ";" if ";" in text else ","
    return [t.strip() for t in text.split(sep) if t.strip()]


def _clean(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def mapping_for(kind: RecordKind, mapping: Mapping[str, str] | None) -> dict[str, str]:
    """The defaults for ``kind`` with the user's FIELD=COLUMN entries; an unknown field is refused with the
    valid ones (a typo such as ``bodyy=text`` would otherwise be ignored and the column stored elsewhere)."""
    fields = DEFAULT_MAPPINGS[kind]
    aliases = _FIELD_ALIASES[kind]
    merged = dict(fields)
    for name, column in (mapping or {}).items():
        field = aliases.get(name, name)
        if field not in fields:
            valid = sorted({*fields, *aliases})
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise FileFormatError(
                f"--map {name}={column}: {kind} have no field '{name}'; {hint}valid fields: {', '.join(valid)}"
            )
        merged[field] = column
    return merged


class RowMapper:
    """Turns raw rows into canonical records of one kind, with a column mapping and defaults."""

    def __init__(
        self,
        kind: RecordKind,
        *,
        path: Path,
        source: str,
        mapping: Mapping[str, str] | None = None,
        default_time: datetime | None = None,
    ):
        self.kind = kind
        self.path = path
        self.source = source
        require_file(path)
        self.mapping = mapping_for(kind, mapping)
        # Columns the user named: each must exist in the file (a misspelt column maps nothing).
        self.chosen_columns = {self.mapping[_FIELD_ALIASES[kind].get(name, name)]: name for name in (mapping or {})}
        self.default_time = default_time or datetime.fromtimestamp(os.path.getmtime(path), tz=UTC)
        self.id_prefix = path.stem
        self._mapped_columns = set(self.mapping.values())
        self.has_header = path.suffix.lower() in (".csv", ".tsv", ".txt")

    def check_columns(self, columns: set[str]) -> list[str]:
        """Problems with the first row's columns: required ones missing; for a file with a header (CSV), also
        columns named in the mapping that it does not have (JSONL objects may leave optional keys out, so
        there :meth:`missing_columns` is asked once the whole file is read)."""
        required = {
            "tickets": ("subject", "body"),
            "customers": (),
            "events": ("customer_external_id", "kind", "occurred_at"),
        }
        problems = []
        for field in required[self.kind]:
            column = self.mapping[field]
            if column not in columns and not (self.kind == "tickets" and field == "subject"):
                problems.append(f"column '{column}' (for field '{field}') is missing; map it with --map {field}=COLUMN")
        if self.kind == "tickets" and self.mapping["body"] not in columns and self.mapping["subject"] not in columns:
            problems.append("neither a subject nor a body column; map one with --map body=COLUMN")
        if self.has_header:
            problems.extend(self.missing_columns(columns))
        return problems

    def missing_columns(self, seen: set[str]) -> list[str]:
        """Columns named in the mapping that are not among ``seen``, each with the columns there are."""
        have = ", ".join(sorted(seen)) or "(none)"
        return [
            f"--map {field}={column}: the file has no column '{column}' (its columns: {have})"
            for column, field in sorted(self.chosen_columns.items())
            if column not in seen
        ]

    def _get(self, row: Mapping[str, Any], field: str) -> Any:
        return _clean(row.get(self.mapping.get(field, field)))

    def _str(self, row: Mapping[str, Any], field: str, *, number_ok: bool = False) -> str | None:
        return _text(self._get(row, field), field, number_ok=number_ok)

    def _extras(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in self._mapped_columns and _clean(v) is not None}

    def row_id(self, line: int, row: Mapping[str, Any]) -> str | None:
        """The id a row gives itself, as far as it can be read (for naming a refused row)."""
        value = self._get(row, "external_id")
        if value is None and self.kind == "customers":
            value = self._get(row, "email")
        if value is None:
            return f"{self.id_prefix}-{line}" if self.kind == "tickets" else None
        return value if isinstance(value, str) else _shown(value)

    def map(self, line: int, row: Mapping[str, Any]) -> ParsedRow | RowError:
        if "__error__" in row:
            return RowError(self.path, line, str(row["__error__"]))
        where = f"{self.path}:{line}"

        def refused(message: str, field: str | None) -> RowError:
            return RowError(self.path, line, message, external_id=self.row_id(line, row), field=field, row=row)

        try:
            data = getattr(self, f"_{self.kind}")(line, row)
            if self.kind == "tickets":
                answer = data.pop("__answer__", None)
                ticket = Ticket.parse(data, where=where)
                comments: tuple[Comment, ...] = ()
                if answer:
                    comments = (
                        Comment.parse(
                            {
                                "source": self.source,
                                "external_id": f"{ticket.external_id}:answer",
                                "ticket_external_id": ticket.external_id,
                                "author": "agent",
                                "public": True,
                                "body": answer,
                                "created_at": ticket.updated_at,
                            },
                            where=where,
                        ),
                    )
                return ParsedRow(line, ticket, comments)
            model = Customer if self.kind == "customers" else BehaviorEvent
            return ParsedRow(line, model.parse(data, where=where))
        except RecordError as exc:
            detail = "; ".join(f"field '{_field_name(f, exc)}': {m}" for f, m in exc.errors)
            return refused(detail, _field_name(exc.field, exc))
        except ValueError as exc:
            message = str(exc)
            field = message.split("'", 2)[1] if message.startswith("field '") else None
            return refused(message, field)

    def _tickets(self, line: int, row: Mapping[str, Any]) -> dict[str, Any]:
        raw_priority = self._str(row, "priority")
        priority = normalise_priority(raw_priority)
        if raw_priority is not None and priority is None:
            raise ValueError(
                f"field 'priority': {_shown(raw_priority)} is not a known priority (low, normal/medium, high, urgent)"
            )
        created = _time(self._get(row, "created_at"), "created_at")
        updated = _time(self._get(row, "updated_at"), "updated_at")
        # Without a creation time the ticket was created when it was last updated (or when the file was written).
        created = created or updated or self.default_time
        external_id = self._str(row, "external_id", number_ok=True)
        extras = self._extras(row)
        return {
            "source": self.source,
            "external_id": external_id if external_id is not None else f"{self.id_prefix}-{line}",
            "subject": self._str(row, "subject") or "",
            "body": self._str(row, "body") or "",
            "requester": self._str(row, "requester", number_ok=True),
            "organization": self._str(row, "organization"),
            "channel": self._str(row, "channel"),
            "status": (self._str(row, "status") or "new").lower(),
            "priority": priority,
            "priority_raw": raw_priority,
            "queue": self._str(row, "queue"),
            "assignee": self._str(row, "assignee"),
            "tags": _tags(self._get(row, "tags")),
            "language": self._str(row, "language"),
            "custom_fields": extras,
            "created_at": created,
            "updated_at": updated or created,
            "__answer__": self._str(row, "answer"),
        }

    def _customers(self, line: int, row: Mapping[str, Any]) -> dict[str, Any]:
        external_id = self._str(row, "external_id", number_ok=True) or self._str(row, "email")
        if external_id is None:
            raise ValueError(f"field 'external_id': empty; give an '{self.mapping['external_id']}' or 'email' column")
        opted = self._get(row, "opted_out")
        return {
            "source": self.source,
            "external_id": external_id,
            "email": self._str(row, "email"),
            "name": self._str(row, "name"),
            "organization": self._str(row, "organization"),
            "opted_out": _bool(opted, "opted_out") if opted is not None else False,
            "created_at": _time(self._get(row, "created_at"), "created_at"),
            "attributes": self._extras(row),
        }

    def _events(self, line: int, row: Mapping[str, Any]) -> dict[str, Any]:
        properties = self._extras(row)
        external_id = self._str(row, "external_id", number_ok=True)
        customer = self._str(row, "customer_external_id", number_ok=True)
        kind = self._str(row, "kind")
        occurred = _time(self._get(row, "occurred_at"), "occurred_at")
        if external_id is None:
            # No id column: the event's content identifies it, so re-importing the file stays idempotent.
            content = json.dumps(
                [
                    self._get(row, "customer_external_id"),
                    self._get(row, "kind"),
                    self._get(row, "occurred_at"),
                    properties,
                ],
                sort_keys=True,
                default=str,
            )
            external_id = hashlib.sha256(content.encode("utf-8", "backslashreplace")).hexdigest()[:24]
        return {
            "source": self.source,
            "external_id": external_id,
            "customer_external_id": customer or "",
            "kind": (kind or "").lower(),
            "occurred_at": occurred,
            "properties": properties,
        }


def _field_name(field: str, exc: RecordError) -> str:
    """The field as the file calls it: a comment built from a ticket row's ``answer`` column says so."""
    return "answer" if exc.record.endswith("(Comment)") and field == "body" else field
