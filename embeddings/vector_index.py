"""VectorIndex: past tickets' vectors by ticket id, searchable, persistent and erasable, over FAISS.

Small collections are searched exactly (inner product over every vector). Beyond ``exact_limit`` vectors
the index becomes an HNSW graph, whose search breadth is calibrated to a target recall@10 against exact search
on a sample of its own vectors; ``describe()`` shows the choice and the recall.

HNSW cannot delete vectors: removed ids leave their vectors behind, never returned (an id selector at search
time), until ``compact()`` rebuilds the graph without them. The exact index deletes at once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from embeddings.encoder_errors import IndexMismatchError
from embeddings.index_file import IndexFileReader, write_index_file
from embeddings.native_threads import faiss_threads, load_faiss

Kind = Literal["exact", "hnsw"]
Metadata = dict[str, Any]
Where = Callable[[Metadata], bool]

# Exact search up to this many vectors. Measured on 2 shared cores with structured 384-d vectors (the
# benchmark's "threshold" section), single-query p95 in CPU time (wall time adds other processes' preemption):
# 0.9-1.1 ms at 10k, 1.5-1.8 ms at 15k, 1.8-2.6 ms at 20k, 3.4 ms at 30k; the approximate index is held to 2 ms.
# HNSW answers in ~0.5 ms at these sizes but costs a build and a little recall.
DEFAULT_EXACT_LIMIT = 15_000
# HNSW links per node (M). At 100k vectors 32 links reach recall@10 0.987 at search breadth 64 where 16 links
# need 128 for 0.984; at 1M, 32 links reach 0.990 at breadth 128.
HNSW_LINKS = 32
HNSW_EF_CONSTRUCTION = 40
TARGET_RECALL = 0.98
# Calibration measures recall on this many of the index's own vectors, each finding its 10 neighbours other
# than itself. A stored vector finds its neighbourhood more easily than a new ticket does: at 1M vectors this
# sample's recall ran 0.005-0.02 above held-out queries' (0.9865 vs 0.9812 at breadth 96, 0.9930 vs 0.9896 at
# 128), hence the margin over the target.
_CALIBRATION_QUERIES = 200
_CALIBRATION_MARGIN = 0.01
_EF_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
# Recalibrate once the collection has grown this much since the last calibration.
_RECALIBRATE_GROWTH = 1.5
# Rebuild the HNSW graph on add once this share of its vectors belongs to removed or replaced ids.
_COMPACT_SHARE = 0.25
# FAISS parallelises a query batch over OpenMP threads; below this many queries (its BLAS threshold) the
# threads only contend, which on 2 busy cores turned a 0.3 ms exact search into 16 ms.
_SMALL_BATCH = 20


def _normalised(vectors: np.ndarray, what: str, dimension: int) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, {dimension}), got shape {array.shape}")
    if array.shape[1] != dimension:
        raise IndexMismatchError(
            f"{what} have dimension {array.shape[1]}, this index holds vectors of dimension {dimension}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{what} contain an all-zero vector (row {int(np.flatnonzero(norms[:, 0] == 0)[0])})")
    # Scores are cosine similarities whatever the caller passed.
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def _cosine(score: float) -> float:
    # Half-precision storage can put a vector's similarity with itself a hair above 1.
    return min(1.0, max(-1.0, float(score)))


class VectorIndex:
    """Ticket vectors by ticket id: add (re-adding replaces), remove, search top-k with a filter, persist."""

    def __init__(
        self,
        dimension: int,
        model_id: str,
        *,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        links: int = HNSW_LINKS,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        target_recall: float = TARGET_RECALL,
    ) -> None:
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        if not model_id:
            raise ValueError("model_id must name the embedding model the vectors come from")
        self.dimension = int(dimension)
        self.model_id = str(model_id)
        self.exact_limit = int(exact_limit)
        self.links = int(links)
        self.ef_construction = int(ef_construction)
        self.target_recall = float(target_recall)
        self.path: Path | None = None
        self._lock = threading.RLock()
        self._ids: list[str | None] = []  # by label (FAISS's sequential id); None once removed
        self._meta: list[Metadata | None] = []
        self._label_of: dict[str, int] = {}
        self._kind: Kind = "exact"
        self._index: Any = None
        self._ef_search = _EF_LADDER[0]
        self._recall: float | None = 1.0
        self._calibrated_at = 0
        self._alive_mask = np.zeros(0, dtype=bool)  # by label: still belongs to an id
        self._alive_bits: np.ndarray | None = None  # the mask packed for FAISS, until the next change
        self._pending: IndexFileReader | None = None
        self._pending_count = 0

    # ----------------------------------------------------------------------------------------- state
    def _materialise(self) -> None:
        """Read the body of a lazily loaded index (first use after load)."""
        if self._pending is None:
            if self._index is None:
                self._index = load_faiss().IndexFlatIP(self.dimension)
            return
        reader, self._pending = self._pending, None
        content = reader.read_body()
        ids = content.table.get("ids")
        meta = content.table.get("metadata")
        if not isinstance(ids, list) or not isinstance(meta, list) or len(ids) != len(meta):
            raise IndexMismatchError(f"vector index {reader.path} has an inconsistent id table")
        if content.index.ntotal != len(ids) or content.index.d != self.dimension:
            raise IndexMismatchError(
                f"vector index {reader.path}: its FAISS part holds {content.index.ntotal} vectors of "
                f"dimension {content.index.d}, its id table {len(ids)} of dimension {self.dimension}"
            )
        self._ids = ids
        self._meta = meta
        self._label_of = {ticket: label for label, ticket in enumerate(ids) if ticket is not None}
        self._alive_mask = np.fromiter((ticket is not None for ticket in ids), dtype=bool, count=len(ids))
        self._index = content.index

    def _storage(self) -> Any:
        """The FAISS index holding the vectors themselves (the flat index, or the HNSW graph's storage)."""
        return load_faiss().downcast_index(self._index.storage) if self._kind == "hnsw" else self._index

    def _vectors_of(self, labels: np.ndarray) -> np.ndarray:
        """Float32 copies of the stored vectors at ``labels`` (decoded from half precision under HNSW)."""
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        if len(labels) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._kind == "exact":
            faiss = load_faiss()
            view = faiss.rev_swig_ptr(self._index.get_xb(), self._index.ntotal * self.dimension)
            return np.asarray(view).reshape(-1, self.dimension)[labels]
        return np.asarray(self._storage().reconstruct_batch(labels), dtype=np.float32)

    def _stored_vectors(self) -> np.ndarray:
        """Every stored vector by label, removed ones included (a copy)."""
        return self._vectors_of(np.arange(self._index.ntotal))

    def _exact_top(self, queries: np.ndarray, k: int, chunk: int = 100_000) -> np.ndarray:
        """Labels of the exact top-``k`` stored vectors for each query, removed ones included.

        Decodes the storage a chunk at a time, so a million half-precision vectors never exist twice.
        """
        faiss = load_faiss()
        total = self._index.ntotal
        best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        best_labels = np.zeros((len(queries), 0), dtype=np.int64)
        for start in range(0, total, chunk):
            block = self._vectors_of(np.arange(start, min(total, start + chunk)))
            scores, labels = faiss.knn(queries, block, min(k, len(block)), metric=faiss.METRIC_INNER_PRODUCT)
            best_scores = np.concatenate([best_scores, scores], axis=1)
            best_labels = np.concatenate([best_labels, labels + start], axis=1)
            if best_scores.shape[1] > k:
                keep = np.argsort(-best_scores, axis=1)[:, :k]
                best_scores = np.take_along_axis(best_scores, keep, axis=1)
                best_labels = np.take_along_axis(best_labels, keep, axis=1)
        order = np.argsort(-best_scores, axis=1)
        return np.take_along_axis(best_labels, order, axis=1)

    @property
    def _dead(self) -> int:
        return len(self._ids) - len(self._label_of)

    def _alive(self) -> np.ndarray:
        """Bitmap (FAISS's bit order) of labels that still belong to an id; cached until the next change."""
        if self._alive_bits is None:
            self._alive_bits = np.packbits(self._alive_mask, bitorder="little")
        return self._alive_bits

    def _live_labels(self) -> np.ndarray:
        return np.flatnonzero(self._alive_mask).astype(np.int64)

    def _changed(self) -> None:
        self._alive_bits = None

    # ------------------------------------------------------------------------------------ mutation
    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Metadata] | None = None,
    ) -> None:
        """Add vectors under ticket ids; an id already present is replaced (vector and metadata)."""
        ids = list(ids)
        for i, ticket in enumerate(ids):
            if not isinstance(ticket, str) or not ticket:
                raise ValueError(f"id {i} must be a non-empty string, got {ticket!r}")
        if len(set(ids)) != len(ids):
            twice = next(t for t, n in Counter(ids).items() if n > 1)
            raise ValueError(f"id {twice!r} appears twice in one add(): pass each ticket once")
        matrix = _normalised(vectors, "vectors", self.dimension) if ids else np.zeros((0, self.dimension))
        if len(matrix) != len(ids):
            raise ValueError(f"{len(ids)} ids for {len(matrix)} vectors")
        if metadata is None:
            records: list[Metadata | None] = [None] * len(ids)
        else:
            records = list(metadata)
            if len(records) != len(ids):
                raise ValueError(f"{len(ids)} ids for {len(records)} metadata records")
            for ticket, record in zip(ids, records, strict=True):
                if not isinstance(record, dict):
                    raise ValueError(f"metadata of {ticket!r} must be a dict, got {type(record).__name__}")
                try:
                    json.dumps(record)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"metadata of {ticket!r} is not JSON-serialisable ({exc}): store strings, numbers, "
                        "booleans, lists or dicts (timestamps as ISO strings)"
                    ) from None
        if not ids:
            return
        with self._lock:
            self._materialise()
            replaced = [self._label_of[t] for t in ids if t in self._label_of]
            if replaced:
                self._forget_labels(replaced)
            first = len(self._ids)
            self._index.add(matrix)
            self._ids.extend(ids)
            self._meta.extend(records)
            self._label_of.update((ticket, first + i) for i, ticket in enumerate(ids))
            self._alive_mask = np.concatenate([self._alive_mask, np.ones(len(ids), dtype=bool)])
            self._changed()
            self._settle()

    def remove(self, ids: Sequence[str]) -> int:
        """Forget ticket ids; they are never returned again. Returns how many were in the index.

        The exact index drops their vectors at once; the HNSW index keeps them, unreachable, until
        ``compact()`` (which erasure must call).
        """
        with self._lock:
            self._materialise()
            labels = sorted({self._label_of[t] for t in ids if t in self._label_of})
            if labels:
                self._forget_labels(labels)
            return len(labels)

    def erase(self, ids: Sequence[str]) -> int:
        """Remove ticket ids and physically drop their vectors now (erasure of personal data)."""
        with self._lock:
            removed = self.remove(ids)
            self.compact()
            return removed

    def _forget_labels(self, labels: Sequence[int]) -> None:
        for label in labels:
            ticket = self._ids[label]
            if ticket is not None:
                del self._label_of[ticket]
            self._ids[label] = None
            self._meta[label] = None
        self._alive_mask[np.asarray(labels, dtype=np.int64)] = False
        self._changed()
        if self._kind == "exact":
            self._drop_dead_exact()

    def _drop_dead_exact(self) -> None:
        faiss = load_faiss()
        dead = np.flatnonzero(~self._alive_mask).astype(np.int64)
        if len(dead) == 0:
            return
        # IndexFlat.remove_ids keeps the survivors in order, so labels shift exactly as the lists do.
        self._index.remove_ids(faiss.IDSelectorBatch(dead))
        self._relabel()

    def _relabel(self) -> None:
        keep = self._live_labels().tolist()
        self._ids = [self._ids[label] for label in keep]
        self._meta = [self._meta[label] for label in keep]
        self._label_of = {t: label for label, t in enumerate(self._ids) if t is not None}
        self._alive_mask = np.ones(len(self._ids), dtype=bool)
        self._changed()

    def _settle(self) -> None:
        """Switch between exact and HNSW, compact and recalibrate as the collection changed."""
        live = len(self._label_of)
        if self._kind == "exact" and live > self.exact_limit:
            self._rebuild("hnsw")
        elif self._kind == "hnsw" and self._dead > _COMPACT_SHARE * len(self._ids):
            self._rebuild("exact" if live <= self.exact_limit else "hnsw")
        elif self._kind == "hnsw" and live >= _RECALIBRATE_GROWTH * max(self._calibrated_at, 1):
            self._calibrate()

    def compact(self) -> None:
        """Physically drop the vectors of removed and replaced ids (rebuilds the HNSW graph if any)."""
        with self._lock:
            self._materialise()
            if self._kind == "exact":
                self._drop_dead_exact()
            elif self._dead:
                live = len(self._label_of)
                self._rebuild("exact" if live <= self.exact_limit else "hnsw")

    def _rebuild(self, kind: Kind) -> None:
        faiss = load_faiss()
        vectors = np.ascontiguousarray(self._vectors_of(self._live_labels()))
        if kind == "exact":
            index = faiss.IndexFlatIP(self.dimension)
        else:
            # Half-precision storage: same recall as float32 on the benchmark's vectors, half the memory,
            # a ~20% faster build and ~2x faster search (memory traffic dominates both).
            index = faiss.IndexHNSWSQ(
                self.dimension, faiss.ScalarQuantizer.QT_fp16, self.links, faiss.METRIC_INNER_PRODUCT
            )
            index.hnsw.efConstruction = self.ef_construction
        index.add(vectors)
        del vectors
        self._index = index
        self._kind = kind
        self._relabel()
        if kind == "hnsw":
            self._calibrate()
        else:
            self._ef_search, self._recall, self._calibrated_at = _EF_LADDER[0], 1.0, len(self._ids)

    def _calibrate(self) -> None:
        """Pick the smallest HNSW search breadth whose recall@10 on a sample meets the target."""
        faiss = load_faiss()
        live = self._live_labels()
        self._calibrated_at = len(live)
        if len(live) <= 11:
            self._ef_search, self._recall = _EF_LADDER[0], 1.0
            return
        rng = np.random.default_rng(len(live))
        sample = np.sort(rng.choice(live, size=min(_CALIBRATION_QUERIES, len(live)), replace=False))
        queries = self._vectors_of(sample)
        # Exact neighbours among live vectors, the query itself excluded.
        exact = self._exact_top(queries, 11 + min(self._dead, 256))
        alive = self._alive_mask
        truth = []
        for row, label in zip(exact, sample, strict=True):
            found = [int(x) for x in row if x != label and x >= 0 and alive[x]][:10]
            truth.append(set(found))
        selector_bits = self._alive()
        selector = faiss.IDSelectorBitmap(len(self._ids), faiss.swig_ptr(selector_bits))
        goal = min(1.0, self.target_recall + _CALIBRATION_MARGIN)
        recall = 0.0
        ef = _EF_LADDER[-1]
        for ef in _EF_LADDER:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, 11), sel=selector)
            _, approx = self._index.search(queries, 11, params=params)
            hits = sum(len(truth[i] & {int(x) for x in row if x != sample[i]}) for i, row in enumerate(approx))
            recall = hits / max(1, sum(len(t) for t in truth))
            if recall >= goal:
                break
        self._ef_search, self._recall = ef, recall

    # -------------------------------------------------------------------------------------- search
    def search(
        self,
        vectors: np.ndarray,
        k: int = 10,
        *,
        where: Where | None = None,
        exclude: Collection[str] = (),
    ) -> list[list[tuple[str, float]]]:
        """The ``k`` most similar tickets to each query vector, best first, as (id, cosine similarity).

        ``where`` keeps only tickets whose metadata it accepts; ``exclude`` ids are never returned (a ticket
        searching for its neighbours excludes itself).
        """
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        queries = _normalised(vectors, "query vectors", self.dimension)
        with self._lock:
            self._materialise()
            empty: list[list[tuple[str, float]]] = [[] for _ in range(len(queries))]
            excluded = [self._label_of[t] for t in exclude if t in self._label_of]
            available = len(self._label_of) - len(set(excluded))
            if available <= 0 or len(queries) == 0:
                return empty
            allowed = self._allowed_bits(excluded)
            if where is None:
                labels, scores = self._knn(queries, min(k, available), allowed)
                return [self._hits(labels[i], scores[i], k) for i in range(len(queries))]
            return self._search_where(queries, k, where, allowed, available)

    def neighbours_of(
        self, ids: Sequence[str], k: int = 10, *, where: Where | None = None
    ) -> list[list[tuple[str, float]]]:
        """For tickets already in the index: their ``k`` nearest other tickets (never themselves)."""
        with self._lock:
            self._materialise()
            missing = [t for t in ids if t not in self._label_of]
            if missing:
                raise KeyError(f"not in the vector index: {', '.join(map(repr, missing[:5]))}")
            labels = np.array([self._label_of[t] for t in ids], dtype=np.int64)
            queries = self._vectors_of(labels)
            found = self.search(queries, k + 1, where=where)
            return [[hit for hit in row if hit[0] != t][:k] for t, row in zip(ids, found, strict=True)]

    def _allowed_bits(self, excluded: Sequence[int]) -> np.ndarray | None:
        if not excluded and self._dead == 0:
            return None
        bits = self._alive().copy()
        for label in excluded:
            bits[label >> 3] &= np.uint8(0xFF ^ (1 << (label & 7)))
        return bits

    def _knn(self, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        faiss = load_faiss()
        selector = faiss.IDSelectorBitmap(len(self._ids), faiss.swig_ptr(allowed)) if allowed is not None else None
        if self._kind == "hnsw":
            params: Any = faiss.SearchParametersHNSW(efSearch=max(self._ef_search, k))
            if selector is not None:
                params.sel = selector
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        with faiss_threads(1 if len(queries) < _SMALL_BATCH else None):
            scores, labels = self._index.search(queries, k, params=params)
        return labels, scores

    def _id(self, label: int) -> str:
        ticket = self._ids[label]
        if ticket is None:  # the selector keeps removed labels out of every search
            raise AssertionError(f"label {label} was removed")
        return ticket

    def _hits(self, labels: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for label, score in zip(labels.tolist(), scores.tolist(), strict=True):
            ticket = self._ids[label] if label >= 0 else None
            if ticket is not None:
                out.append((ticket, _cosine(score)))
                if len(out) == k:
                    break
        return out

    def _search_where(
        self, queries: np.ndarray, k: int, where: Where, allowed: np.ndarray | None, available: int
    ) -> list[list[tuple[str, float]]]:
        verdicts: dict[int, bool] = {}

        def accepted(label: int) -> bool:
            verdict = verdicts.get(label)
            if verdict is None:
                verdict = verdicts[label] = bool(where(self._meta[label] or {}))
            return verdict

        # First try: over-fetch and filter, enough when the filter keeps a fair share of tickets.
        fetch = min(available, max(4 * k, k + 32))
        labels, scores = self._knn(queries, fetch, allowed)
        results: list[list[tuple[str, float]]] = []
        short: list[int] = []
        for i in range(len(queries)):
            keep = [
                (lab, s)
                for lab, s in zip(labels[i].tolist(), scores[i].tolist(), strict=True)
                if lab >= 0 and accepted(lab)
            ]
            results.append([(self._id(lab), _cosine(s)) for lab, s in keep[:k]])
            if len(keep) < k and fetch < available:
                short.append(i)
        if not short:
            return results
        # Then: a filter this selective is applied to every ticket, and the survivors searched directly.
        if allowed is None:
            allowed = self._alive().copy()
        mask = np.unpackbits(allowed, bitorder="little", count=len(self._ids)).astype(bool)
        passing = np.array([lab for lab in np.flatnonzero(mask).tolist() if accepted(lab)], dtype=np.int64)
        if len(passing) == 0:
            for i in short:
                results[i] = []
            return results
        subset = queries[short]
        if self._kind == "exact" or len(passing) <= self.exact_limit:
            candidates = self._vectors_of(passing)
            similarity = subset @ candidates.T
            top = min(k, len(passing))
            best = np.argpartition(-similarity, top - 1, axis=1)[:, :top]
            for row, i in enumerate(short):
                order = best[row][np.argsort(-similarity[row, best[row]])]
                results[i] = [(self._id(int(passing[j])), _cosine(similarity[row, j])) for j in order]
        else:
            bits = np.packbits(np.isin(np.arange(len(self._ids)), passing), bitorder="little")
            sub_labels, sub_scores = self._knn(subset, min(k, len(passing)), bits)
            for row, i in enumerate(short):
                results[i] = self._hits(sub_labels[row], sub_scores[row], k)
        return results

    # --------------------------------------------------------------------------------- inspection
    def __len__(self) -> int:
        if self._pending is not None:
            return self._pending_count
        return len(self._label_of)

    def __contains__(self, ticket: object) -> bool:
        with self._lock:
            self._materialise()
            return ticket in self._label_of

    def ids(self) -> list[str]:
        """Every ticket id in the index."""
        with self._lock:
            self._materialise()
            return list(self._label_of)

    def metadata(self, ticket: str) -> Metadata:
        """The metadata stored with a ticket id (KeyError if absent)."""
        with self._lock:
            self._materialise()
            return dict(self._meta[self._label_of[ticket]] or {})

    def memory_bytes(self) -> int:
        """Bytes FAISS holds for vectors and graph (ids and metadata not counted)."""
        with self._lock:
            self._materialise()
            total = self._index.ntotal * self._storage().code_size
            if self._kind == "hnsw":
                hnsw = self._index.hnsw
                total += hnsw.neighbors.size() * 4 + hnsw.levels.size() * 4 + hnsw.offsets.size() * 8
            return int(total)

    def verify(self) -> None:
        """Check a loaded index's file against its checksum before use (IndexFileError when damaged).

        An index already in memory was checked when it was read; one not yet read is checked on disk.
        """
        with self._lock:
            if self._pending is not None:
                self._pending.verify()

    def describe(self) -> dict[str, Any]:
        """The index's model, size, kind of search, why, and its measured recall@10."""
        if self._pending is not None:
            return dict(self._pending.header["describe"])
        with self._lock:
            live = len(self._label_of)
            info: dict[str, Any] = {
                "model_id": self.model_id,
                "dimension": self.dimension,
                "count": live,
                "removed_pending_compaction": self._dead,
                "kind": self._kind,
                "exact_limit": self.exact_limit,
                "recall_at_10": 1.0 if self._kind == "exact" else self._recall,
                "memory_bytes": self.memory_bytes() if self._index is not None else 0,
                "path": str(self.path) if self.path else None,
            }
            if self._kind == "exact":
                info["reason"] = f"exact inner-product search: {live:,} vectors <= exact_limit {self.exact_limit:,}"
            else:
                info["reason"] = (
                    f"HNSW ({self.links} links): {live:,} vectors > exact_limit {self.exact_limit:,}; search "
                    f"breadth {self._ef_search} calibrated for recall@10 >= {self.target_recall} on "
                    f"{min(_CALIBRATION_QUERIES, self._calibrated_at)} sampled tickets "
                    f"at {self._calibrated_at:,}"
                )
                info["hnsw"] = {
                    "storage": "float16",
                    "links": self.links,
                    "ef_construction": self.ef_construction,
                    "ef_search": self._ef_search,
                    "target_recall": self.target_recall,
                    "calibrated_at_count": self._calibrated_at,
                }
            return info

    # -------------------------------------------------------------------------------- persistence
    def save(self, path: Path) -> None:
        """Write the index, its ids and metadata to ``path`` atomically (temporary file, then rename)."""
        path = Path(path)
        with self._lock:
            self._materialise()
            self.path = path
            header = {
                "model_id": self.model_id,
                "dimension": self.dimension,
                "kind": self._kind,
                "count": len(self._label_of),
                "exact_limit": self.exact_limit,
                "links": self.links,
                "ef_construction": self.ef_construction,
                "target_recall": self.target_recall,
                "ef_search": self._ef_search,
                "recall_at_10": self._recall,
                "calibrated_at": self._calibrated_at,
                "describe": self.describe(),
            }
            write_index_file(path, header, {"ids": self._ids, "metadata": self._meta}, self._index)

    @classmethod
    def load(cls, path: Path, *, model_id: str | None = None, dimension: int | None = None) -> VectorIndex:
        """Open a saved index; its vectors are read on first use.

        Raises IndexMismatchError when it was built with another model or dimension than the given ones.
        """
        reader = IndexFileReader(Path(path))
        try:
            header = reader.header
            built_model = str(header.get("model_id"))
            built_dim = int(header.get("dimension", 0))
            if (model_id is not None and model_id != built_model) or (dimension is not None and dimension != built_dim):
                raise IndexMismatchError(
                    f"vector index {path} was built with model {built_model!r} (dimension {built_dim}), but "
                    f"the configured encoder is {model_id or built_model!r} "
                    f"(dimension {dimension or built_dim}): "
                    "rebuild it with `deskroute index rebuild`, or configure the model it was built with"
                )
            index = cls(
                built_dim,
                built_model,
                exact_limit=int(header.get("exact_limit", DEFAULT_EXACT_LIMIT)),
                links=int(header.get("links", HNSW_LINKS)),
                ef_construction=int(header.get("ef_construction", HNSW_EF_CONSTRUCTION)),
                target_recall=float(header.get("target_recall", TARGET_RECALL)),
            )
            kind = header.get("kind")
            if kind not in ("exact", "hnsw"):
                raise IndexMismatchError(f"vector index {path} has an unknown kind {kind!r}")
            index._kind = kind
            index._ef_search = int(header.get("ef_search", _EF_LADDER[0]))
            recall = header.get("recall_at_10")
            index._recall = float(recall) if isinstance(recall, int | float) else None
            index._calibrated_at = int(header.get("calibrated_at", 0))
            index._pending_count = int(header.get("count", 0))
        except BaseException:
            reader.close()
            raise
        index._pending = reader
        index.path = Path(path)
        return index

    def __repr__(self) -> str:
        return (
            f"VectorIndex(model_id={self.model_id!r}, dimension={self.dimension}, count={len(self)}, kind={self._kind})"
        )
