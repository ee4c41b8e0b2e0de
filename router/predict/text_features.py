"""The feature space of ticket text: word and character n-gram TF-IDF plus the sentence embedding.

Three blocks, each of unit length per ticket, weighted and stacked: word 1–2-grams (what the ticket is about),
character 2–5-grams within words (spelling variants, inflections, other languages — the default embedding
model is English-centric) and the sentence embedding (meaning across paraphrases). The similarity of two
tickets in this space, ``word_weight·<w, w'> + char_weight·<c, c'> + embedding_weight·<e, e'>``, is what the
kernel models build on; the stacked matrix is what the one-vs-rest model reads.

The kernel is that similarity, scaled to at most 1, raised to a power: ``(s / Σweights + offset) ** degree``.
The square lets a pair of labels be told apart by a combination of evidence (a word *and* a meaning), not
only by their sum. Measured by 5-fold cross-validation on Banking77 (same folds, best C of 1/3/10, pairwise
SVMs): linear 92.96%; squared with offset 0 93.07%, 0.25 93.21%, 0.5 93.24%, 1 93.14%; cubed (0.5) 93.06%.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# Rows per block when a Gram matrix is built: bounds the sparse intermediate of the character block.
_GRAM_BLOCK = 1024
# Up to this many texts, ``few_tfidf_rows`` featurises them instead of scikit-learn's transform (see there).
FEW_TEXTS = 8
# Each fitted vectorizer's analyser, built once (never saved with a model: the model holds only the vectorizer).
_analysers: weakref.WeakKeyDictionary[TfidfVectorizer, Callable[[str], list[str]]] = weakref.WeakKeyDictionary()


def few_tfidf_rows(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sparse.csr_matrix:
    """``vectorizer.transform(texts)`` for a few texts, the same numbers without scikit-learn's per-call work.

    One ticket at a time, scikit-learn's transform spent 0.7 ms (words) and 1.3 ms (characters) per call, of
    which the n-gram analysis was 0.05 and 0.24 ms: the rest is input validation and building and re-checking
    sparse matrices for one row, twice per model. This keeps its steps on one row (the fitted analyser and
    vocabulary, counts, sublinear tf, idf, l2 norm, all in the vectorizer's dtype) and matches its output within
    float32 rounding (tested). Vectorizers with other settings go through scikit-learn.
    """
    if vectorizer.binary or not vectorizer.use_idf or vectorizer.norm != "l2":
        return sparse.csr_matrix(vectorizer.transform(texts))
    analyse = _analysers.get(vectorizer)
    if analyse is None:
        analyse = _analysers.setdefault(vectorizer, vectorizer.build_analyzer())
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    idf = vectorizer.idf_
    dtype = np.dtype(vectorizer.dtype)
    indptr = [0]
    indices: list[NDArray[np.int32]] = []
    values: list[NDArray[np.floating]] = []
    for text in texts:
        counts: dict[int, int] = {}
        for feature in analyse(text):
            column = vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
        row = np.fromiter((counts[c] for c in columns), dtype=dtype, count=len(columns))
        if vectorizer.sublinear_tf:
            np.log(row, out=row)
            row += 1.0
        row *= idf[columns]
        norm = np.sqrt(np.dot(row, row))
        if norm > 0:
            row /= norm
        indices.append(columns)
        values.append(row)
        indptr.append(indptr[-1] + len(columns))
    return sparse.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, dtype=dtype),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
            np.asarray(indptr, dtype=np.int32),
        ),
        shape=(len(texts), len(vocabulary)),
        dtype=dtype,
    )


@dataclass
class TicketMatrix:
    """The featurised tickets: sparse word and character blocks, and the embeddings (rows aligned)."""

    words: sparse.csr_matrix
    chars: sparse.csr_matrix
    vectors: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.words.shape[0])

    def rows(self, index: NDArray[np.integer]) -> TicketMatrix:
        """A subset of tickets, in the order of ``index``."""
        return TicketMatrix(self.words[index], self.chars[index], self.vectors[index])


class GramColumns(NamedTuple):
    """A TicketMatrix's sparse blocks transposed to rows-by-column (what the gram's products read)."""

    words: sparse.csr_matrix
    chars: sparse.csr_matrix


def gram_columns(b: TicketMatrix) -> GramColumns:
    """The transposed n-gram blocks of ``b``: against the ~2,000 training tickets ~8 ms, so a model that compares
    every new ticket with the same training tickets computes them once (see TicketClassifier._reference_gram)."""
    return GramColumns(b.words.T.tocsr(), b.chars.T.tocsr())


class TicketFeatures:
    """Fits the TF-IDF vocabularies on training texts; turns texts plus embeddings into a TicketMatrix."""

    def __init__(
        self,
        *,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        min_df: int = 2,
        word_weight: float = 0.5,
        char_weight: float = 0.5,
        embedding_weight: float = 1.0,
        degree: int = 2,
        offset: float = 0.5,
    ):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.word_weight = word_weight
        self.char_weight = char_weight
        self.embedding_weight = embedding_weight
        self.degree = degree
        self.offset = offset

    def fit_transform(self, texts: Sequence[str], vectors: NDArray[np.floating]) -> TicketMatrix:
        """Learn the vocabularies and IDF weights from training texts (labels are not used); featurise them."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} embedding vectors")
        # A word seen in one ticket only still names a product or an error code; characters need two.
        self.words_ = TfidfVectorizer(ngram_range=self.word_ngrams, sublinear_tf=True, min_df=1, dtype=np.float32)
        self.chars_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngrams,
            sublinear_tf=True,
            min_df=min(self.min_df, max(1, len(texts) // 2)),
            dtype=np.float32,
        )
        try:
            words = self.words_.fit_transform(texts)
        except ValueError:
            raise ValueError("the training texts contain no words: give a text column with content") from None
        chars = self.chars_.fit_transform(texts)
        # Terms cut by min_df are kept by scikit-learn for introspection only; they would bloat the artefact.
        for vectorizer in (self.words_, self.chars_):
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
        return TicketMatrix(words.tocsr(), chars.tocsr(), np.ascontiguousarray(vectors, dtype=np.float32))

    def transform(self, texts: Sequence[str], vectors: NDArray[np.floating]) -> TicketMatrix:
        """The TicketMatrix of ``texts`` with their embeddings ``vectors`` (one row per text)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} embedding vectors")
        if len(texts) <= FEW_TEXTS:
            words, chars = few_tfidf_rows(self.words_, texts), few_tfidf_rows(self.chars_, texts)
        else:
            words, chars = self.words_.transform(texts).tocsr(), self.chars_.transform(texts).tocsr()
        return TicketMatrix(words, chars, np.ascontiguousarray(vectors, dtype=np.float32))

    def stacked(self, m: TicketMatrix) -> sparse.csr_matrix:
        """One sparse matrix whose dot products are the weighted ticket similarity (for linear models)."""
        return sparse.hstack(
            [
                m.words * np.float32(np.sqrt(self.word_weight)),
                m.chars * np.float32(np.sqrt(self.char_weight)),
                sparse.csr_matrix(m.vectors * np.float32(np.sqrt(self.embedding_weight))),
            ],
            format="csr",
            dtype=np.float32,
        )

    def gram(self, a: TicketMatrix, b: TicketMatrix) -> NDArray[np.float64]:
        """The kernel between every ticket in ``a`` and every ticket in ``b``: an (len(a), len(b)) array."""
        text, meaning = self.gram_parts(a, b)
        return self.kernel(text, meaning, self.embedding_weight)

    def kernel(
        self, text: NDArray[np.float64], meaning: NDArray[np.float64], embedding_weight: float
    ) -> NDArray[np.float64]:
        """The kernel from the n-gram and embedding parts of the similarity (``text`` is overwritten)."""
        text += embedding_weight * meaning
        # Models saved before the kernel had a degree were linear in the similarity.
        degree = getattr(self, "degree", 1)
        if degree == 1:
            return text
        text /= self.word_weight + self.char_weight + embedding_weight
        text += self.offset
        text **= degree
        return text

    def gram_parts(
        self, a: TicketMatrix, b: TicketMatrix, columns: GramColumns | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The n-gram part (weighted words + characters) and the embedding part of the similarity, apart.

        Kept apart so that the embedding's weight can be chosen by cross-validation without recomputing either.
        ``columns`` is ``gram_columns(b)`` computed before, for a ``b`` that many calls share.
        """
        text = np.empty((len(a), len(b)), dtype=np.float64)
        meaning = np.empty((len(a), len(b)), dtype=np.float64)
        words_t, chars_t = columns if columns is not None else gram_columns(b)
        for start in range(0, len(a), _GRAM_BLOCK):
            stop = min(start + _GRAM_BLOCK, len(a))
            meaning[start:stop] = a.vectors[start:stop] @ b.vectors.T
            block = self.word_weight * (a.words[start:stop] @ words_t).toarray()
            block += self.char_weight * (a.chars[start:stop] @ chars_t).toarray()
            text[start:stop] = block
        return text, meaning
