"""The file connector: tickets from a CSV/JSONL file, actions appended to a JSON-lines file.

It lets routing be dry-run on exported data and inspected: every action deskroute would take lands as one
line of ``actions_path``, once per idempotency key however often it is applied. Reading reuses
:mod:`connectors.files` (the same mapping and validation as ``deskroute import``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from connectors.actions import Action, ActionResult
from connectors.base import CheckItem, CheckReport, Connector, Cursor, CustomerHistory, PullBatch, Refused
from connectors.files import FileFormatError, ParsedRow, RowError, RowMapper, read_rows
from connectors.records import Comment, Ticket, as_utc
from connectors.webhooks import DEFAULT_REPLAY_WINDOW

try:  # POSIX: serialise appends from several processes (the outbox may run beside a CLI dry run).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class FileSettings:
    """Where the file connector reads tickets and writes actions."""

    path: Path | None = None
    actions_path: Path | None = None
    mapping: Mapping[str, str] | None = None
    encoding: str = "auto"
    page_size: int = 500


_HEAD_BYTES = 4096


def _fingerprint(path: Path, length: int) -> str:
    """Identifies a file by its first bytes, so an appended file resumes and a replaced one starts over."""
    with path.open("rb") as fh:
        return hashlib.sha256(fh.read(length)).hexdigest()[:16]


class FileConnector(Connector):
    """Tickets from ``path``; actions appended as JSON lines to ``actions_path``, idempotent by key."""

    type = "file"

    def __init__(
        self,
        name: str,
        settings: FileSettings,
        *,
        webhook_secret: SecretStr | None = None,
        webhook_replay_seconds: float = DEFAULT_REPLAY_WINDOW,
    ):
        super().__init__(name, webhook_secret=webhook_secret, webhook_replay_seconds=webhook_replay_seconds)
        self.settings = settings
        self._known_keys: dict[str, int] = {}
        self._scanned_to = 0
        self._scanned_lines = 0

    # -- reading ----------------------------------------------------------------------------------------

    def _tickets_path(self) -> Path:
        if self.settings.path is None:
            raise FileFormatError(f"connector '{self.name}' has no tickets file; set path = \"tickets.csv\"")
        return self.settings.path

    def _mapper(self, path: Path) -> RowMapper:
        return RowMapper("tickets", path=path, source=self.name, mapping=dict(self.settings.mapping or {}))

    def _parsed(self, path: Path, after_line: int = 0) -> Iterator[ParsedRow | RowError]:
        mapper = self._mapper(path)
        header_checked = False
        for line, row in read_rows(path, encoding=self.settings.encoding):
            if not header_checked and "__error__" not in row:
                problems = mapper.check_columns(set(row))
                if problems:
                    raise FileFormatError(f"{path}: " + "; ".join(problems))
                header_checked = True
            if line <= after_line:
                continue
            yield mapper.map(line, row)

    def pull(self, cursor: Cursor | None) -> Iterator[PullBatch]:
        """Rows after the cursor's line, in batches of ``page_size``; a replaced file is read from the top."""
        path = self._tickets_path()
        size = path.stat().st_size
        head = min(size, _HEAD_BYTES)
        after = 0
        since: datetime | None = None
        if cursor:
            if cursor.get("since"):
                since = as_utc(datetime.fromisoformat(str(cursor["since"])))
            # The same file, grown: its first bytes (as many as the cursor saw) are unchanged.
            seen_head = int(cursor.get("head", -1))
            same_file = (
                0 <= seen_head <= size
                and size >= int(cursor.get("size", 0))
                and cursor.get("fingerprint") == _fingerprint(path, seen_head)
            )
            if same_file:
                after = int(cursor.get("line", 0))
        state: Cursor = {"fingerprint": _fingerprint(path, head), "head": head, "size": size, "line": after}
        if since is not None:
            state["since"] = since.isoformat()
        tickets: list[Ticket] = []
        comments: list[Comment] = []
        refused: list[Refused] = []
        rows = 0
        for parsed in self._parsed(path, after):
            rows += 1
            state["line"] = parsed.line
            if isinstance(parsed, RowError):
                refused.append(
                    Refused(
                        kind="ticket",
                        external_id=parsed.external_id or f"{path.name}:{parsed.line}",
                        reason=str(parsed),
                        field=parsed.field,
                        payload=dict(parsed.row) if parsed.row is not None else None,
                    )
                )
            elif isinstance(parsed.record, Ticket) and (since is None or parsed.record.updated_at >= since):
                tickets.append(parsed.record)
                comments.extend(parsed.comments)
            if rows >= self.settings.page_size:
                yield PullBatch(cursor=dict(state), tickets=tickets, comments=comments, refused=refused)
                tickets, comments, refused, rows = [], [], [], 0
        if rows:
            yield PullBatch(cursor=dict(state), tickets=tickets, comments=comments, refused=refused)

    def cursor_since(self, since: datetime) -> Cursor:
        return {"since": as_utc(since).isoformat()}

    def customer_history(self, customer: str) -> CustomerHistory:
        """Tickets in the file whose requester is ``customer``, with their comments."""
        tickets: list[Ticket] = []
        comments: list[Comment] = []
        wanted = customer.strip().lower()
        for parsed in self._parsed(self._tickets_path()):
            if isinstance(parsed, RowError) or not isinstance(parsed.record, Ticket):
                continue
            if (parsed.record.requester or "").strip().lower() == wanted:
                tickets.append(parsed.record)
                comments.extend(parsed.comments)
        return CustomerHistory(customer=None, tickets=tickets, comments=comments)

    # -- writing ----------------------------------------------------------------------------------------

    def _actions_path(self) -> Path:
        if self.settings.actions_path is None:
            raise FileFormatError(f"connector '{self.name}' has no actions file; set actions_path = \"actions.jsonl\"")
        return self.settings.actions_path

    def _scan(self, fh: IO[bytes]) -> None:
        """Learn the keys appended since the last scan (by us or another process)."""
        fh.seek(self._scanned_to)
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # a line still being written; read it next time
            self._scanned_to += len(raw)
            self._scanned_lines += 1
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # someone edited the file by hand; a bad line holds no key
            if isinstance(entry, dict) and isinstance(entry.get("idempotency_key"), str):
                self._known_keys.setdefault(entry["idempotency_key"], self._scanned_lines)

    def apply(self, action: Action) -> ActionResult:
        """Append the action as one JSON line, unless a line with its idempotency key is already there."""
        path = self._actions_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                if fh.seek(0, os.SEEK_END) < self._scanned_to:
                    # The file was truncated or replaced: forget what we knew.
                    self._known_keys, self._scanned_to, self._scanned_lines = {}, 0, 0
                self._scan(fh)
                if fh.seek(0, os.SEEK_END) > self._scanned_to:
                    # Writers hold the lock until their line is whole, so a line without its end is a dead
                    # writer's: end it (it then reads as a bad line, or as the whole entry it was) before ours.
                    fh.write(b"\n")
                    self._scan(fh)
                key = action.idempotency_key
                if key in self._known_keys:
                    line = self._known_keys[key]
                    return ActionResult(
                        status="already_applied", detail=f"{path}:{line} has this action", external_ref=f"{line}"
                    )
                entry: dict[str, Any] = {
                    "idempotency_key": key,
                    "connector": self.name,
                    "kind": action.kind,
                    "target": action.target,
                    "params": action.params,
                    "recorded_at": datetime.now(UTC).isoformat(),
                }
                data = (json.dumps(entry, ensure_ascii=False, default=str, sort_keys=True) + "\n").encode()
                fh.seek(0, os.SEEK_END)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                self._scanned_to += len(data)
                self._scanned_lines += 1
                self._known_keys[key] = self._scanned_lines
                return ActionResult(
                    status="applied",
                    detail=f"appended to {path}:{self._scanned_lines}",
                    external_ref=f"{self._scanned_lines}",
                )
            finally:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def check(self) -> CheckReport:
        """The tickets file reads with the mapping; the actions file's folder is writable."""
        items: list[CheckItem] = []
        if self.settings.path is not None:
            try:
                rows = bad = 0
                for parsed in self._parsed(self.settings.path):
                    rows += 1
                    bad += isinstance(parsed, RowError)
                    if rows >= 1000:
                        break
                detail = f"{self.settings.path}: first {rows} row(s) read, {bad} bad"
                items.append(CheckItem("tickets file", bad == 0 or bad < rows, detail))
            except (FileFormatError, OSError) as exc:
                items.append(CheckItem("tickets file", False, str(exc)))
        else:
            items.append(CheckItem("tickets file", True, "none configured (write-only)"))
        if self.settings.actions_path is not None:
            folder = self.settings.actions_path.parent
            existing = folder
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
            writable = os.access(existing, os.W_OK)
            items.append(
                CheckItem(
                    "actions file",
                    writable,
                    f"{self.settings.actions_path}" + ("" if writable else f": {existing} is not writable"),
                )
            )
        else:
            items.append(CheckItem("actions file", True, "none configured (actions cannot be applied)"))
        return CheckReport(self.name, items)
