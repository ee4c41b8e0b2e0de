"""The sentence encoder the configuration asks for: the one place an ``Encoder`` is built from ``Settings``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embeddings import Encoder
    from router.config import Settings


def build_encoder(cfg: Settings, *, max_seq_length: int | None = None) -> Encoder:
    """The configured encoder, with the embedding cache under the data directory.

    ``max_seq_length`` is the token window of a fitted model that learnt with another window than the
    configured one: its vectors must be computed as they were in training. Raises the embeddings package's
    ``ModelNotFoundError`` for a model that is not there, ``ValueError`` for a window it cannot take.
    """
    from embeddings import Encoder

    return Encoder(
        cfg.embeddings.model,
        cache_dir=cfg.embedding_cache_dir,
        allow_download=cfg.embeddings.allow_download,
        max_seq_length=max_seq_length or cfg.embeddings.max_seq_length,
        runtime=cfg.embeddings.runtime,
    )
