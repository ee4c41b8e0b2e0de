"""Fixtures for the embeddings tests: offline always, one real model load per session."""

from __future__ import annotations

import os

# Set before anything imports huggingface_hub, which reads it once: no test may reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings import Encoder


@pytest.fixture(scope="session")
def shared_encoder() -> Iterator[Encoder]:
    """The default model, loaded once, without a cache (tests that need a cache build their own Encoder)."""
    encoder = Encoder()
    _ = encoder.model
    yield encoder


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "tickets.vix"
