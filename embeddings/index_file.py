"""The on-disk form of a vector index: one file, written atomically, whose header can be read alone.

Layout: 8-byte magic, then a length-prefixed JSON header (model, dimension, kind, counts: what ``describe``
shows and what a mismatch check needs), a length-prefixed JSON table (ids and metadata by label) and the FAISS
index itself. Loading reads the header only; the rest is read on first use from the same open file, so an
index replaced on disk meanwhile cannot be mixed with the old one.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from embeddings.errors import IndexFileError
from embeddings.runtime import load_faiss

MAGIC = b"DRVIDX01"
FORMAT_VERSION = 1
_LENGTH = struct.Struct("<Q")


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
            out.write(MAGIC)
            for part in ({**header, "format": FORMAT_VERSION}, table):
                data = json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode()
                out.write(_LENGTH.pack(len(data)))
                out.write(data)
            writer = faiss.PyCallbackIOWriter(out.write)
            faiss.write_index(index, writer)
            del writer
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
    """An opened index file: the header now, the body on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] | None = open(self.path, "rb")  # noqa: SIM115 - kept open for lazy reads
        except FileNotFoundError:
            raise IndexFileError(f"no vector index at {self.path}: build one with `deskroute index rebuild`") from None
        except OSError as exc:
            raise IndexFileError(f"cannot open vector index {self.path}: {exc}") from None
        try:
            if self._file.read(len(MAGIC)) != MAGIC:
                raise IndexFileError(
                    f"{self.path} is not a deskroute vector index (unknown file signature): "
                    "rebuild it with `deskroute index rebuild`"
                )
            self.header = self._json("header")
            version = self.header.get("format")
            if version != FORMAT_VERSION:
                raise IndexFileError(
                    f"vector index {self.path} has format {version}, this deskroute reads format "
                    f"{FORMAT_VERSION}: rebuild it with `deskroute index rebuild`"
                )
        except BaseException:
            self.close()
            raise

    def _json(self, part: str) -> dict[str, Any]:
        assert self._file is not None
        raw = self._file.read(_LENGTH.size)
        if len(raw) != _LENGTH.size:
            raise IndexFileError(f"vector index {self.path} is truncated (in its {part})")
        (length,) = _LENGTH.unpack(raw)
        data = self._file.read(length)
        if len(data) != length:
            raise IndexFileError(f"vector index {self.path} is truncated (in its {part})")
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise IndexFileError(f"vector index {self.path} has a corrupt {part}: {exc}") from None
        if not isinstance(value, dict):
            raise IndexFileError(f"vector index {self.path} has a corrupt {part}")
        return value

    def read_body(self) -> IndexFileContent:
        """Read the id table and the FAISS index, then close the file."""
        faiss = load_faiss()
        if self._file is None:
            raise IndexFileError(f"vector index {self.path} was already read")
        try:
            table = self._json("id table")
            reader = faiss.PyCallbackIOReader(self._file.read)
            try:
                index = faiss.read_index(reader)
            except RuntimeError as exc:
                raise IndexFileError(f"vector index {self.path} has a corrupt FAISS part: {exc}") from None
            finally:
                del reader
        finally:
            self.close()
        return IndexFileContent(table=table, index=index)

    def close(self) -> None:
        """Release the file handle."""
        if self._file is not None:
            self._file.close()
            self._file = None
