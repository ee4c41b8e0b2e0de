"""The one encoder factory: what the configuration says, and a fitted model's own window where it has one."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings import ModelNotFoundError
from router.config import EmbeddingSettings, Settings
from router.training.encoder_factory import build_encoder


def test_the_encoder_follows_the_configuration(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path, embeddings=EmbeddingSettings(max_seq_length=64))
    encoder = build_encoder(cfg)
    assert encoder.max_seq_length == 64
    assert encoder.cache is not None and encoder.cache.path.parent == cfg.embedding_cache_dir
    # A fitted model's window wins over the configured one: its vectors are computed as in training.
    assert build_encoder(cfg, max_seq_length=32).max_seq_length == 32
    assert build_encoder(cfg, max_seq_length=None).max_seq_length == 64


def test_a_missing_model_is_the_embeddings_packages_error(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path, embeddings=EmbeddingSettings(model=str(tmp_path / "no-model-here")))
    with pytest.raises(ModelNotFoundError):
        build_encoder(cfg)
