"""Option values every command reads the same way: moments in time and files a command writes.

Checked when the command starts, before any work: a mistyped date or an output path in a missing folder is
reported at once, not after minutes of training or replay.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.records import LATEST_TIME
from router.cli.common import fail

# The range of moments a command accepts: the records' own range (a --now past it would decide on moments no
# stored ticket can have), starting with the epoch's first day, which `--since` may well name. Narrow enough
# that a moment shifted by a time zone, a cool-down or a business-hours window stays a valid datetime.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = LATEST_TIME
_EXAMPLE = "e.g. 2026-01-31, 2026-01-31T09:30:00Z or 2026-01-31T10:30:00+01:00"


def parse_moment(value: str, option: str) -> datetime:
    """An ISO 8601 date or date and time from the command line, in UTC (no offset given: UTC).

    Raises the command's exit with a message naming ``option`` for anything unreadable or out of range.
    """
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        raise fail(f"{option}: {value!r} is not an ISO 8601 date or time ({_EXAMPLE})") from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # an offset that moves the moment past year 1 or 9999
        raise fail(_out_of_range(value, option)) from None
    if not EARLIEST <= moment < LATEST:
        raise fail(_out_of_range(value, option))
    return moment


def _out_of_range(value: str, option: str) -> str:
    return (
        f"{option}: {value!r} is outside the supported range, {EARLIEST:%Y-%m-%d} to "
        f"{LATEST - timedelta(days=1):%Y-%m-%d} (UTC); give a moment in that range ({_EXAMPLE})"
    )


def output_file(path: Path, option: str) -> Path:
    """Check that the command will be able to write ``path``, before it does its work.

    It must name a file, not a folder; missing folders on its way are created when it is written (as
    ``write_output`` does), so the nearest existing one must be a folder this process can write in.
    """
    if path.is_dir():
        raise fail(f"{option}: {path} is a folder; name a file to write")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise fail(f"{option}: {path} exists and cannot be written; choose another file or change its permissions")
        return path
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise fail(f"{option}: cannot create {path}: {folder} is a file, not a folder; choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise fail(f"{option}: cannot create {path}: the folder {folder} is not writable; choose another folder")
    return path


def write_output(path: Path, text: str, option: str) -> None:
    """Write a command's output file (checked beforehand by ``output_file``), creating its missing folders."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
