"""Neighbour evidence: how the most similar past tickets were labelled, from the vector index.

For each ticket the ``k`` most similar training tickets vote for their labels, each vote weighted by a softmax
of its cosine similarity, so a near-duplicate outweighs a loose match. The vote becomes features of the linear
model. Training tickets vote leave-one-out (a ticket never finds itself), which is what a new ticket sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from embeddings import VectorIndex

Hits = list[list[tuple[str, float]]]


class NeighbourVote:
    """Similarity-weighted label votes of the ``k`` nearest training tickets."""

    def __init__(self, k: int = 10, temperature: float = 0.05):
        if k < 1:
            raise ValueError(f"the neighbour vote needs k >= 1, got {k}")
        self.k = k
        self.temperature = temperature

    def fit(
        self,
        ids: Sequence[str],
        vectors: NDArray[np.float32],
        label_codes: NDArray[np.integer],
        n_classes: int,
        model_id: str,
    ) -> NeighbourVote:
        """Remember the training tickets: their ids, vectors (unit length) and label indices."""
        if len(ids) != len(vectors) or len(ids) != len(label_codes):
            raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors and {len(label_codes)} labels differ in number")
        self.ids_ = np.asarray([str(i) for i in ids], dtype=str)
        # float16 halves the artefact; cosine scores change by < 1e-3, well below what separates neighbours.
        self.vectors_ = np.asarray(vectors, dtype=np.float16)
        self.label_codes_ = np.asarray(label_codes, dtype=np.int32)
        self.n_classes_ = int(n_classes)
        self.model_id_ = model_id
        self._index: VectorIndex | None = None
        self._row_of: dict[str, int] | None = None
        return self

    def __getstate__(self) -> dict[str, Any]:
        # The FAISS index is rebuilt from the stored vectors on first use; it is never serialised.
        state = dict(self.__dict__)
        state["_index"] = None
        state["_row_of"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._index = None
        self._row_of = None

    @property
    def index(self) -> VectorIndex:
        """The vector index over the training tickets (built on first use)."""
        if self._index is None:
            index = VectorIndex(self.vectors_.shape[1], self.model_id_)
            if len(self.ids_):
                index.add(list(self.ids_), self.vectors_.astype(np.float32))
            self._index = index
            self._row_of = {ticket: row for row, ticket in enumerate(self.ids_.tolist())}
        return self._index

    def _rows(self, hits: Hits) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        _ = self.index
        assert self._row_of is not None
        rows = np.zeros((len(hits), self.k), dtype=np.int64)
        scores = np.full((len(hits), self.k), -np.inf)
        valid = np.zeros((len(hits), self.k), dtype=bool)
        for i, row in enumerate(hits):
            for j, (ticket, score) in enumerate(row[: self.k]):
                rows[i, j] = self._row_of[ticket]
                scores[i, j] = score
                valid[i, j] = True
        return rows, scores, valid

    def _votes(self, hits: Hits) -> NDArray[np.float32]:
        rows, scores, valid = self._rows(hits)
        votes = np.zeros((len(hits), self.n_classes_), dtype=np.float64)
        if not valid.any():
            return votes.astype(np.float32)
        best = np.where(valid.any(axis=1), scores.max(axis=1, initial=-np.inf, where=valid), 0.0)
        weights = np.where(valid, np.exp((scores - best[:, None]) / self.temperature), 0.0)
        np.add.at(votes, (np.repeat(np.arange(len(hits)), self.k), self.label_codes_[rows].ravel()), weights.ravel())
        totals = votes.sum(axis=1, keepdims=True)
        np.divide(votes, totals, out=votes, where=totals > 0)
        return votes.astype(np.float32)

    def search(self, vectors: NDArray[np.float32], k: int | None = None) -> Hits:
        """The nearest training tickets of new tickets, as (id, cosine similarity), best first."""
        if len(self.ids_) == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        return self.index.search(np.asarray(vectors, dtype=np.float32), k or self.k)

    def votes(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Label votes (n, classes) for new tickets; rows sum to 1."""
        return self._votes(self.search(vectors))

    def training_votes(self) -> NDArray[np.float32]:
        """Leave-one-out votes for the training tickets themselves: each ticket's neighbours exclude it."""
        if len(self.ids_) < 2:
            return np.zeros((len(self.ids_), self.n_classes_), dtype=np.float32)
        return self._votes(self.index.neighbours_of(list(self.ids_), self.k))

    def label_codes_of(self, ticket_ids: Sequence[str]) -> list[int]:
        """Label indices of training tickets by id."""
        _ = self.index
        assert self._row_of is not None
        return [int(self.label_codes_[self._row_of[t]]) for t in ticket_ids]
