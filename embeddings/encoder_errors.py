"""Errors the embeddings package raises for users: each says what is wrong and what to do."""

from __future__ import annotations


class ModelNotFoundError(RuntimeError):
    """The configured embedding model cannot be found locally and downloading is not allowed."""


class IndexMismatchError(ValueError):
    """A vector index or vector set was built with another embedding model or dimension."""


class EmbeddingCacheError(RuntimeError):
    """The on-disk embedding cache cannot be read or written."""


class IndexFileError(ValueError):
    """A vector index file is missing, truncated or not a deskroute index."""
