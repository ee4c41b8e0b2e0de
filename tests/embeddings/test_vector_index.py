"""VectorIndex on synthetic vectors with the structure of real embeddings (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings import IndexMismatchError, VectorIndex
from embeddings.encoder_errors import IndexFileError


def structured_vectors(n: int, dimension: int = 64, seed: int = 0) -> np.ndarray:
    """A low-dimensional Gaussian latent through a fixed mixing matrix plus noise, normalised."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(1234).standard_normal((8, dimension)).astype(np.float32)
    x = rng.standard_normal((n, 8)).astype(np.float32) @ mixing
    x += 0.3 * rng.standard_normal((n, dimension)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ticket_ids(n: int, start: int = 0) -> list[str]:
    return [f"rt:{i}" for i in range(start, start + n)]


def meta_for(n: int) -> list[dict[str, object]]:
    return [{"source": "rt" if i % 3 else "zendesk", "resolved": i % 2 == 0} for i in range(n)]


def exact_top(vectors: np.ndarray, queries: np.ndarray, ids: list[str], k: int) -> list[list[str]]:
    scores = queries @ vectors.T
    return [[ids[j] for j in np.argsort(-row)[:k]] for row in scores]


@pytest.fixture(params=["exact", "hnsw"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(kind: str, n: int = 1500, dimension: int = 64) -> tuple[VectorIndex, np.ndarray, list[str]]:
    vectors = structured_vectors(n, dimension)
    ids = ticket_ids(n)
    # A small forced threshold sends the same collection through the approximate path.
    index = VectorIndex(dimension, "test-model", exact_limit=10**9 if kind == "exact" else 300)
    index.add(ids, vectors, meta_for(n))
    assert index.describe()["kind"] == kind
    return index, vectors, ids


def test_each_vector_finds_itself_first(kind: str) -> None:
    index, vectors, ids = build(kind)
    hits = index.search(vectors[:50], k=5)
    assert [row[0][0] for row in hits] == ids[:50]
    # Scores are cosine similarities (half-precision storage under HNSW: within 1e-3).
    assert all(abs(row[0][1] - 1.0) < 1e-3 for row in hits)
    assert all(len(row) == 5 for row in hits)
    assert all(row[i][1] >= row[i + 1][1] for row in hits for i in range(4))


def test_results_agree_with_exact_search(kind: str) -> None:
    index, vectors, ids = build(kind)
    queries = structured_vectors(100, seed=7)
    truth = exact_top(vectors, queries, ids, 10)
    found = [[t for t, _ in row] for row in index.search(queries, k=10)]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.95
    if kind == "exact":
        assert found == truth
    assert index.describe()["recall_at_10"] >= 0.95


def test_exclude_keeps_a_ticket_from_finding_itself(kind: str) -> None:
    index, vectors, ids = build(kind)
    hits = index.search(vectors[:3], k=3, exclude=ids[:3])
    assert all(t not in ids[:3] for row in hits for t, _ in row)
    assert all(len(row) == 3 for row in hits)
    neighbours = index.neighbours_of(ids[:3], k=4)
    assert all(len(row) == 4 and ids[i] not in [t for t, _ in row] for i, row in enumerate(neighbours))


def test_remove_makes_tickets_unfindable(kind: str) -> None:
    index, vectors, ids = build(kind)
    gone = ids[:600]
    assert index.remove([*gone, "rt:not-there"]) == 600
    assert len(index) == len(ids) - 600
    assert "rt:0" not in index
    hits = index.search(vectors[:600], k=10)
    returned = {t for row in hits for t, _ in row}
    assert returned and not returned & set(gone)
    assert all(len(row) == 10 for row in hits)
    assert index.remove(gone) == 0


def test_compaction_drops_removed_vectors_physically(kind: str) -> None:
    index, vectors, ids = build(kind)
    index.remove(ids[:100])
    stored_before = index.memory_bytes()
    index.compact()
    assert index.describe()["removed_pending_compaction"] == 0
    assert index.memory_bytes() < stored_before or kind == "exact"
    # No stored vector equals a removed one any more.
    stored = index._stored_vectors()
    assert len(stored) == len(ids) - 100
    assert not np.isclose(stored @ vectors[:100].T, 1.0, atol=1e-4).any()
    assert [row[0][0] for row in index.search(vectors[100:110], k=1)] == ids[100:110]


def test_erase_removes_and_compacts(kind: str) -> None:
    index, _, ids = build(kind)
    assert index.erase(ids[:10]) == 10
    assert index.describe()["removed_pending_compaction"] == 0
    assert len(index._stored_vectors()) == len(ids) - 10


def test_re_adding_an_id_replaces_it(kind: str) -> None:
    index, vectors, ids = build(kind)
    index.add([ids[0]], vectors[1:2], [{"source": "file"}])
    assert len(index) == len(ids)
    assert index.metadata(ids[0]) == {"source": "file"}
    top = index.search(vectors[:1], k=3)[0]
    assert ids[0] not in [t for t, _ in top[:1]] or top[0][1] < 0.999
    assert {t for t, _ in index.search(vectors[1:2], k=2)[0]} == {ids[0], ids[1]}


def test_where_filters_by_metadata(kind: str) -> None:
    index, vectors, ids = build(kind)
    zendesk = index.search(vectors[:20], k=5, where=lambda m: m["source"] == "zendesk")
    assert all(len(row) == 5 for row in zendesk)
    assert all(int(t.split(":")[1]) % 3 == 0 for row in zendesk for t, _ in row)
    # A selective filter (1 in 30 tickets) still returns the true nearest passing tickets.
    rare_ids = ids[::30]
    filtered = index.search(vectors[:5], k=3, where=lambda m: m.get("rare", False))
    assert filtered == [[], [], [], [], []]
    index.add(rare_ids, vectors[::30], [{"rare": True}] * len(rare_ids))
    found = index.search(vectors[1:6], k=3, where=lambda m: m.get("rare", False))
    truth = exact_top(vectors[::30], vectors[1:6], rare_ids, 3)
    assert [[t for t, _ in row] for row in found] == truth


def test_save_and_load_round_trip(kind: str, index_path: Path) -> None:
    index, _, ids = build(kind)
    index.remove(ids[:5])
    index.save(index_path)
    loaded = VectorIndex.load(index_path, model_id="test-model", dimension=64)
    # Lazy: size and description come from the header before any vector is read ...
    assert len(loaded) == len(ids) - 5
    assert loaded.describe()["kind"] == kind
    # ... and the body is read from the file as it was when loaded, even if a rebuild replaced it since.
    VectorIndex(64, "test-model").save(index_path)
    queries = structured_vectors(20, seed=3)
    assert loaded.search(queries, k=10) == index.search(queries, k=10)
    assert loaded.metadata(ids[9]) == index.metadata(ids[9])
    assert "rt:0" not in loaded
    assert not list(index_path.parent.glob(".*.tmp"))
    assert len(VectorIndex.load(index_path)) == 0


def test_mismatched_model_or_dimension_is_refused(index_path: Path) -> None:
    index, _, _ = build("exact", n=20)
    index.save(index_path)
    with pytest.raises(IndexMismatchError, match=r"built with model 'test-model'.*'other-model'"):
        VectorIndex.load(index_path, model_id="other-model", dimension=64)
    with pytest.raises(IndexMismatchError, match=r"dimension 64.*dimension 384"):
        VectorIndex.load(index_path, model_id="test-model", dimension=384)
    with pytest.raises(IndexMismatchError, match="dimension 32"):
        index.add(["x"], np.ones((1, 32), dtype=np.float32))
    with pytest.raises(IndexMismatchError, match="dimension 32"):
        index.search(np.ones((1, 32), dtype=np.float32))


def test_bad_files_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="deskroute index rebuild"):
        VectorIndex.load(tmp_path / "missing.vix")
    junk = tmp_path / "junk.vix"
    junk.write_bytes(b"not an index at all")
    with pytest.raises(IndexFileError, match="not a deskroute vector index"):
        VectorIndex.load(junk)
    index, _, _ = build("exact", n=20)
    index.save(junk)
    junk.write_bytes(junk.read_bytes()[:40])
    with pytest.raises(IndexFileError, match=r"damaged \(cut short in its header\).*deskroute index rebuild"):
        VectorIndex.load(junk)


def test_bad_input_is_named() -> None:
    index = VectorIndex(4, "m")
    with pytest.raises(ValueError, match="appears twice"):
        index.add(["a", "a"], np.eye(4, dtype=np.float32)[:2])
    with pytest.raises(ValueError, match="all-zero"):
        index.add(["a"], np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        index.add(["a"], np.eye(4, dtype=np.float32)[:1], [{"when": object()}])
    assert index.search(np.eye(4, dtype=np.float32)[:1]) == [[]]


def test_growing_past_the_threshold_switches_to_hnsw_and_back_after_erasure() -> None:
    vectors = structured_vectors(700)
    ids = ticket_ids(700)
    index = VectorIndex(64, "m", exact_limit=500)
    for start in range(0, 700, 100):
        index.add(ids[start : start + 100], vectors[start : start + 100])
    info = index.describe()
    assert info["kind"] == "hnsw"
    assert "calibrated" in info["reason"] and info["hnsw"]["ef_search"] >= 16
    index.erase(ids[:300])
    assert index.describe()["kind"] == "exact"
    assert [row[0][0] for row in index.search(vectors[300:310], k=1)] == ids[300:310]


def test_a_damaged_file_is_refused_with_the_rebuild_command(tmp_path: Path) -> None:
    index, vectors, _ = build("exact", n=50)
    good = tmp_path / "good.vix"
    index.save(good)
    data = good.read_bytes()
    rebuild = r"deskroute index rebuild"

    cut = tmp_path / "cut.vix"
    cut.write_bytes(data[: len(data) - 1000])  # cut inside the FAISS part: the header alone still reads
    with pytest.raises(IndexFileError, match=rf"is damaged \(cut short or overwritten at the end.*{rebuild}"):
        VectorIndex.load(cut)

    grown = tmp_path / "grown.vix"
    grown.write_bytes(data[:-48] + b"\0" * 16 + data[-48:])
    with pytest.raises(IndexFileError, match=rf"damaged \({len(data) + 16:,} bytes where it was written with "):
        VectorIndex.load(grown)

    flipped = tmp_path / "flipped.vix"
    middle = len(data) - 48 - 64 * 4 * 10  # inside the stored vectors
    flipped.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    loaded = VectorIndex.load(flipped)  # same size: only the checksum can tell
    with pytest.raises(IndexFileError, match=rf"does not match its SHA-256 checksum\): rebuild it with `{rebuild}`"):
        loaded.verify()
    with pytest.raises(IndexFileError, match="does not match its SHA-256 checksum"):
        VectorIndex.load(flipped).search(vectors[:1], k=3)

    healthy = VectorIndex.load(good)
    healthy.verify()
    assert len(healthy.search(vectors[:1], k=3)[0]) == 3


def test_a_format_1_file_without_a_checksum_asks_for_a_rebuild(tmp_path: Path) -> None:
    old = tmp_path / "old.vix"
    header = b'{"format":1,"model_id":"m","dimension":4,"kind":"exact","count":0}'
    old.write_bytes(b"DRVIDX01" + len(header).to_bytes(8, "little") + header)
    with pytest.raises(IndexFileError, match=r"format 1 \(written by an older deskroute, without a checksum\)"):
        VectorIndex.load(old)
