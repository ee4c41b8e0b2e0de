"""The on-disk form of a vector index: one file, written atomically, whose header can be read alone.

Layout: 8-byte magic, then a length-prefixed JSON header (model, dimension, kind, counts: what ``describe``
shows and what a mismatch check needs), a length-prefixed JSON table (ids and metadata by label), the FAISS
index itself, and a footer: an end marker, the length of everything before the footer and its SHA-256.

Loading reads the header and the footer only, so a file cut short or grown is refused at once; the rest is
read on first use from the same open file (an index replaced on disk meanwhile cannot be mixed with the old
one) and checked against the SHA-256 as it is read. ``verify`` checks the whole file without loading it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from embeddings.encoder_errors import IndexFileError
from embeddings.native_threads import load_faiss

MAGIC = b"DRVIDX01"
# Format 2 added the footer; format 1 files (no checksum) are refused with the rebuild command.
FORMAT_VERSION = 2
_LENGTH = struct.Struct("<Q")
_END = b"DRVIDXND"
_FOOTER = struct.Struct("<8sQ32s")  # end marker, bytes before the footer, their SHA-256
_REBUILD = "rebuild it with `deskroute index rebuild`"


class _Checksummed:
    """A file's reads or writes, counted and hashed on the way through."""

    def __init__(self, io: Callable[[Any], Any]) -> None:
        self._io = io
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._io(data)
        self.digest.update(data)
        self.size += len(data)

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._io(n)
        self.digest.update(data)
        self.size += len(data)
        return data


@dataclass
class IndexFileContent:
    """What the body of an index file holds, once read."""

    table: dict[str, Any]
    index: Any  # a faiss.Index


def write_index_file(path: Path, header: dict[str, Any], table: dict[str, Any], index: Any) -> None:
    """Write header, table and FAISS index to ``path`` atomically (temporary file, fsync, rename)."""
    faiss = load_faiss()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            body = _Checksummed(out.write)
            body.write(MAGIC)
            for part in ({**header, "format": FORMAT_VERSION}, table):
                data = json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode()
                body.write(_LENGTH.pack(len(data)))
                body.write(data)
            writer = faiss.PyCallbackIOWriter(body.write)
            faiss.write_index(index, writer)
            del writer
            out.write(_FOOTER.pack(_END, body.size, body.digest.digest()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # Make the rename itself durable.
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class IndexFileReader:
    """An opened index file: the header and footer now, the body on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] | None = open(self.path, "rb")  # noqa: SIM115 - kept open for lazy reads
        except FileNotFoundError:
            raise IndexFileError(f"no vector index at {self.path}: build one with `deskroute index rebuild`") from None
        except OSError as exc:
            raise IndexFileError(f"cannot open vector index {self.path}: {exc}") from None
        try:
            self._reader = _Checksummed(self._file.read)
            if self._reader.read(len(MAGIC)) != MAGIC:
                raise IndexFileError(
                    f"{self.path} is not a deskroute vector index (unknown file signature): {_REBUILD}"
                )
            self.header = self._json("header")
            version = self.header.get("format")
            if version != FORMAT_VERSION:
                older = " (written by an older deskroute, without a checksum)" if version == 1 else ""
                raise IndexFileError(
                    f"vector index {self.path} has format {version}{older}, this deskroute reads format "
                    f"{FORMAT_VERSION}: {_REBUILD}"
                )
            self._body_size, self._digest = self._footer()
        except BaseException:
            self.close()
            raise

    def _damaged(self, what: str) -> IndexFileError:
        return IndexFileError(f"vector index {self.path} is damaged ({what}): {_REBUILD}")

    def _footer(self) -> tuple[int, bytes]:
        """The footer's length and checksum of the rest, after checking the file has exactly that length."""
        assert self._file is not None
        size = os.fstat(self._file.fileno()).st_size
        if size < _FOOTER.size + self._reader.size:
            raise self._damaged(f"cut short: {size:,} bytes end inside its header")
        end, body_size, digest = _FOOTER.unpack(os.pread(self._file.fileno(), _FOOTER.size, size - _FOOTER.size))
        if end != _END:
            raise self._damaged(f"cut short or overwritten at the end: no end marker in its last {_FOOTER.size} bytes")
        if body_size + _FOOTER.size != size:
            raise self._damaged(f"{size:,} bytes where it was written with {body_size + _FOOTER.size:,}")
        return int(body_size), bytes(digest)

    def verify(self) -> None:
        """Check the whole file against its checksum (without loading it); raises IndexFileError if damaged."""
        if self._file is None:
            return  # already read, and checked while reading
        digest = hashlib.sha256()
        offset, chunk = 0, 1 << 20
        while offset < self._body_size:
            data = os.pread(self._file.fileno(), min(chunk, self._body_size - offset), offset)
            if not data:
                raise self._damaged(f"cut short at {offset:,} bytes")
            digest.update(data)
            offset += len(data)
        if digest.digest() != self._digest:
            raise self._damaged("its content does not match its SHA-256 checksum")

    def _json(self, part: str) -> dict[str, Any]:
        raw = self._reader.read(_LENGTH.size)
        if len(raw) != _LENGTH.size:
            raise self._damaged(f"cut short in its {part}")
        (length,) = _LENGTH.unpack(raw)
        data = self._reader.read(length)
        if len(data) != length:
            raise self._damaged(f"cut short in its {part}")
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise self._damaged(f"a corrupt {part}: {exc}") from None
        if not isinstance(value, dict):
            raise self._damaged(f"a corrupt {part}")
        return value

    def read_body(self) -> IndexFileContent:
        """Read the id table and the FAISS index, checking them against the checksum, then close the file."""
        faiss = load_faiss()
        if self._file is None:
            raise IndexFileError(f"vector index {self.path} was already read")
        try:
            table = self._json("id table")
            remaining = self._body_size - self._reader.size

            def read_faiss(n: int) -> bytes:
                nonlocal remaining
                # Never into the footer: the FAISS part ends where the footer says the body ends.
                data = self._reader.read(max(0, min(n, remaining)))
                remaining -= len(data)
                return data

            reader = faiss.PyCallbackIOReader(read_faiss)
            try:
                index = faiss.read_index(reader)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
                raise self._damaged(f"a corrupt FAISS part: {first}") from None
            finally:
                del reader
            if self._reader.size != self._body_size:
                raise self._damaged(f"{self._body_size - self._reader.size:,} unread bytes after its FAISS part")
            if self._reader.digest.digest() != self._digest:
                raise self._damaged("its content does not match its SHA-256 checksum")
        finally:
            self.close()
        return IndexFileContent(table=table, index=index)

    def close(self) -> None:
        """Release the file handle."""
        if self._file is not None:
            self._file.close()
            self._file = None
