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

    With ``on_error="abort"`` a single bad row means nothing of the file is written.
    """
    mapper = RowMapper(kind, path=path, source=source, mapping=mapping)
    report = ImportReport(path=path, kind=kind)
    parsed: list[ParsedRow] = []
    header_checked = False
    for line, row in read_rows(path, encoding=encoding, on_read=on_read):
        if not header_checked and "__error__" not in row:
            problems = mapper.check_columns(set(row))
            if problems:
                raise FileFormatError(f"{path}: " + "; ".join(problems))
            header_checked = True
        report.rows += 1
        result = mapper.map(line, row)
        if isinstance(result, RowError):
            report.errors.append(result)
        else:
            parsed.append(result)
    if report.errors and on_error == "abort":
        report.aborted = True
        return report
    records: list[BaseModel] = [p.record for p in parsed]
    comments: list[BaseModel] = [c for p in parsed for c in p.comments]
    with store.session() as session, session.begin():
        report.written = upsert(session, records)
        report.comments = upsert(session, comments)
    return report
