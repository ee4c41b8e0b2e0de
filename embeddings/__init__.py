"""Embeddings: ticket text in, vectors out, and a vector index over past tickets.

This package imports nothing else of deskroute's.
"""

from embeddings.cache import EmbeddingCache
from embeddings.encoder import DEFAULT_WINDOW, Encoder
from embeddings.encoder_errors import EmbeddingCacheError, IndexFileError, IndexMismatchError, ModelNotFoundError
from embeddings.model import DEFAULT_MODEL, ModelSource, resolve_model
from embeddings.text import TicketText, prepare_ticket_text
from embeddings.vector_index import DEFAULT_EXACT_LIMIT, VectorIndex

__all__ = [
    "DEFAULT_EXACT_LIMIT",
    "DEFAULT_MODEL",
    "DEFAULT_WINDOW",
    "EmbeddingCache",
    "EmbeddingCacheError",
    "Encoder",
    "IndexFileError",
    "IndexMismatchError",
    "ModelNotFoundError",
    "ModelSource",
    "TicketText",
    "VectorIndex",
    "prepare_ticket_text",
    "resolve_model",
]
