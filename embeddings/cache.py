"""A content-addressed embedding cache on disk: (model, token window, prepared text) → vector.

Retraining or re-indexing never encodes the same text twice. The store is one SQLite file (WAL mode, so
several processes can read while one writes); rows are keyed by a SHA-256 of what determines the vector, never
by the text itself. Deleted rows are overwritten on disk (``secure_delete``) so erasure leaves no copy behind.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from embeddings.encoder_errors import EmbeddingCacheError

CACHE_FILE = "embeddings.sqlite3"
# SQLite's bound-parameter limit is 999 on older builds; stay under it.
_CHUNK = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    key BLOB PRIMARY KEY,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vec BLOB NOT NULL
) WITHOUT ROWID
"""


def cache_key(model_id: str, window: int, text: str) -> bytes:
    """The content address of one vector: everything that determines it, hashed."""
    return hashlib.sha256(f"{model_id}\x1f{window}\x1f{text}".encode()).digest()


class EmbeddingCache:
    """Vectors by content address, persisted in ``directory/embeddings.sqlite3``."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / CACHE_FILE
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise self._error("cannot be opened", exc) from None

    def _error(self, what: str, exc: Exception) -> EmbeddingCacheError:
        return EmbeddingCacheError(
            f"embedding cache {self.path} {what} ({exc}). It only holds copies of vectors: delete the file "
            "to start an empty cache, or point embeddings.cache_dir elsewhere."
        )

    def get_many(self, keys: Sequence[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``keys`` (rows of another width are treated as absent)."""
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            try:
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = self._db.execute(
                        f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", chunk
                    ).fetchall()
                    for key, dim, blob in rows:
                        if dim == dimension and len(blob) == 4 * dimension:
                            found[key] = np.frombuffer(blob, dtype="<f4")
            except sqlite3.Error as exc:
                raise self._error("cannot be read", exc) from None
        return found

    def put_many(self, model_id: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store ``vectors`` (one row per key) in one transaction."""
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        blobs = np.ascontiguousarray(vectors, dtype="<f4")
        dim = int(blobs.shape[1]) if blobs.ndim == 2 else 0
        rows = [(key, model_id, dim, blobs[i].tobytes()) for i, key in enumerate(keys)]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO vectors (key, model, dim, vec) VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise self._error("cannot be written", exc) from None

    def discard(self, keys: Iterable[bytes]) -> int:
        """Delete the vectors at ``keys`` (for erasure); returns how many were there."""
        unique = list(dict.fromkeys(keys))
        removed = 0
        with self._lock:
            try:
                self._db.execute("BEGIN")
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    removed += self._db.execute(f"DELETE FROM vectors WHERE key IN ({marks})", chunk).rowcount
                self._db.execute("COMMIT")
                # Fold the write-ahead log back so no erased vector lingers in the -wal file.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise self._error("cannot be written", exc) from None
        return removed

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def models(self) -> dict[str, int]:
        """How many vectors the cache holds per model id."""
        with self._lock:
            rows = self._db.execute("SELECT model, COUNT(*) FROM vectors GROUP BY model").fetchall()
        return {str(model): int(count) for model, count in rows}

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
