"""The file connector's read side: canonical records from CSV or JSONL files, with a column mapping.

Rows are validated one by one; a bad row becomes a :class:`RowError` naming the file, line and field, so the
caller decides whether to skip it or abort the whole file.
"""

from __future__ import annotations

import codecs
import csv
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

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}
MAX_FIELD_CHARS = 1_000_000


class FileFormatError(ValueError):
    """The file as a whole cannot be read (format, encoding, header); the message says what to do."""


@dataclass(frozen=True)
class RowError:
    """One row that could not become a record."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ParsedRow:
    """One row turned into records: the main record, plus comments carried on a ticket row."""

    line: int
    record: Ticket | Customer | BehaviorEvent
    comments: tuple[Comment, ...] = ()


def parse_mapping(spec: str | None) -> dict[str, str]:
    """Parse ``body=description,queue=group`` into {canonical field: column}."""
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
        reader = csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        try:
            header = next(reader)
        except StopIteration:
            raise FileFormatError(f"{path}: the file is empty; expected a header row") from None
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
            raise FileFormatError(f"{path}:{reader.line_num}: CSV error: {exc}") from None


def _jsonl_rows(
    path: Path, encoding: str, on_read: Callable[[int], None] | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path, encoding, on_read) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
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
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), tz=UTC)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"field '{field}': {value!r} is not an ISO 8601 time (e.g. 2026-01-31T09:30:00Z)") from None


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(t).strip() for t in value if str(t).strip()]
    text = str(value)
    sep = ";" if ";" in text else ","
    return [t.strip() for t in text.split(sep) if t.strip()]


def _clean(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


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
        self.mapping = {**DEFAULT_MAPPINGS[kind], **(mapping or {})}
        self.default_time = default_time or datetime.fromtimestamp(os.path.getmtime(path), tz=UTC)
        self.id_prefix = path.stem
        self._mapped_columns = set(self.mapping.values())

    def check_columns(self, columns: set[str]) -> list[str]:
        """Problems with the header: explicitly mapped columns that the file does not have."""
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
        return problems

    def _get(self, row: Mapping[str, Any], field: str) -> Any:
        return _clean(row.get(self.mapping.get(field, field)))

    def _extras(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in self._mapped_columns and _clean(v) is not None}

    def map(self, line: int, row: Mapping[str, Any]) -> ParsedRow | RowError:
        if "__error__" in row:
            return RowError(self.path, line, str(row["__error__"]))
        where = f"{self.path}:{line}"
        try:
            data = getattr(self, f"_{self.kind}")(line, row)
            if self.kind == "tickets":
                answer = data.pop("__answer__", None)
                ticket = Ticket.parse(data, where=where)
                comments: tuple[Comment, ...] = ()
                if answer:
                    comments = (
                        Comment(
                            source=self.source,
                            external_id=f"{ticket.external_id}:answer",
                            ticket_external_id=ticket.external_id,
                            author="agent",
                            public=True,
                            body=str(answer),
                            created_at=ticket.updated_at,
                        ),
                    )
                return ParsedRow(line, ticket, comments)
            model = Customer if self.kind == "customers" else BehaviorEvent
            return ParsedRow(line, model.parse(data, where=where))
        except RecordError as exc:
            detail = "; ".join(f"field '{f}': {m}" for f, m in exc.errors)
            return RowError(self.path, line, detail)
        except ValueError as exc:
            return RowError(self.path, line, str(exc))

    def _tickets(self, line: int, row: Mapping[str, Any]) -> dict[str, Any]:
        raw_priority = self._get(row, "priority")
        priority = normalise_priority(raw_priority)
        if raw_priority is not None and priority is None:
            raise ValueError(
                f"field 'priority': {raw_priority!r} is not a known priority (low, normal/medium, high, urgent)"
            )
        created = _time(self._get(row, "created_at"), "created_at") or self.default_time
        updated = _time(self._get(row, "updated_at"), "updated_at") or created
        external_id = self._get(row, "external_id")
        extras = self._extras(row)
        return {
            "source": self.source,
            "external_id": str(external_id) if external_id is not None else f"{self.id_prefix}-{line}",
            "subject": str(self._get(row, "subject") or ""),
            "body": str(self._get(row, "body") or ""),
            "requester": self._get(row, "requester"),
            "organization": self._get(row, "organization"),
            "channel": self._get(row, "channel"),
            "status": str(self._get(row, "status") or "new").lower(),
            "priority": priority,
            "priority_raw": str(raw_priority) if raw_priority is not None else None,
            "queue": self._get(row, "queue"),
            "assignee": self._get(row, "assignee"),
            "tags": _tags(self._get(row, "tags")),
            "language": self._get(row, "language"),
            "custom_fields": extras,
            "created_at": created,
            "updated_at": updated,
            "__answer__": self._get(row, "answer"),
        }

    def _customers(self, line: int, row: Mapping[str, Any]) -> dict[str, Any]:
        external_id = self._get(row, "external_id") or self._get(row, "email")
        if external_id is None:
            raise ValueError(f"field 'external_id': empty; give an '{self.mapping['external_id']}' or 'email' column")
        opted = self._get(row, "opted_out")
        return {
            "source": self.source,
            "external_id": str(external_id),
            "email": self._get(row, "email"),
            "name": self._get(row, "name"),
            "organization": self._get(row, "organization"),
            "opted_out": _bool(opted, "opted_out") if opted is not None else False,
            "created_at": _time(self._get(row, "created_at"), "created_at"),
            "attributes": self._extras(row),
        }

    def _events(self, line: int, row: Mapping[str, Any]) -> dict[str, Any]:
        properties = self._extras(row)
        external_id = self._get(row, "external_id")
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
            external_id = hashlib.sha256(content.encode()).hexdigest()[:24]
        return {
            "source": self.source,
            "external_id": str(external_id),
            "customer_external_id": str(self._get(row, "customer_external_id") or ""),
            "kind": str(self._get(row, "kind") or "").lower(),
            "occurred_at": _time(self._get(row, "occurred_at"), "occurred_at"),
            "properties": properties,
        }
