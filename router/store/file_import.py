"""Importing tickets, customers and behaviour events from files into the store, one transaction a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from connectors.files import FileFormatError, ParsedRow, RecordKind, RowError, RowMapper, read_rows
from router.store import Store, upsert

OnError = Literal["skip", "abort"]


@dataclass
class ImportReport:
    """What an import did: rows read, records written, and each bad row with its line."""

    path: Path
    kind: RecordKind
    rows: int = 0
    written: int = 0
    comments: int = 0
    errors: list[RowError] = field(default_factory=list)
    aborted: bool = False


def import_file(
    store: Store,
    kind: RecordKind,
    path: Path,
    *,
    source: str = "file",
    mapping: dict[str, str] | None = None,
    on_error: OnError = "abort",
    encoding: str = "auto",
    on_read: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row of ``path``, then write the good ones in one transaction.

    With ``on_error="abort"`` a single bad row means nothing of the file is written. A row repeating an id
    of an earlier row is a bad row that names the earlier line.
    """
    mapper = RowMapper(kind, path=path, source=source, mapping=mapping)
    report = ImportReport(path=path, kind=kind)
    parsed: list[ParsedRow] = []
    header_checked = False
    seen_columns: set[str] = set()
    first_line: dict[str, int] = {}
    for line, row in read_rows(path, encoding=encoding, on_read=on_read):
        if "__error__" not in row:
            seen_columns.update(row)
            if not header_checked:
                problems = mapper.check_columns(set(row))
                if problems:
                    raise FileFormatError(f"{path}: " + "; ".join(problems))
                header_checked = True
        report.rows += 1
        result = mapper.map(line, row)
        if isinstance(result, RowError):
            report.errors.append(result)
            continue
        # One record per id in a file: a second row with the same id would silently replace the first.
        record_id = result.record.external_id
        if record_id in first_line:
            same = "the same event as" if kind == "events" and mapper.mapping["external_id"] not in row else "also on"
            report.errors.append(
                RowError(
                    path,
                    line,
                    f"field 'external_id': {record_id[:80]!r} is {same} line {first_line[record_id]}; "
                    "give each record once per file (keep the row you mean)",
                    external_id=record_id,
                    field="external_id",
                )
            )
            continue
        first_line[record_id] = line
        parsed.append(result)
    missing = mapper.missing_columns(seen_columns) if not mapper.has_header else []
    if missing:
        raise FileFormatError(f"{path}: " + "; ".join(missing))
    if report.errors and on_error == "abort":
        report.aborted = True
        return report
    records: list[BaseModel] = [p.record for p in parsed]
    comments: list[BaseModel] = [c for p in parsed for c in p.comments]
    with store.session() as session, session.begin():
        report.written = upsert(session, records)
        report.comments = upsert(session, comments)
    return report
