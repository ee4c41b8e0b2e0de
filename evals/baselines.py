"""Baselines fitted beside deskroute's classifier on the same folds: what its figures must beat.

- ``majority``: always the most frequent training label; its probabilities are the training label shares.
- ``tfidf``: word 1–2-grams and character 2–5-grams (within word boundaries), sublinear TF, one linear SVM
  per label whose C is chosen by inner cross-validation on the training part; probabilities are a softmax
  of its margins with a temperature fitted on the same inner folds (so ECE and coverage compare fairly).
  C is chosen on the figure the label is judged by: accuracy, or macro-F1 for priority levels (where deskroute
  decides for balance, :mod:`router.predict.decision`), so the baseline is tuned for the same goal.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from router.predict import ScoreBlend, ticket_text
from router.predict.classifier import TicketText
from router.predict.decision import decision_for, macro_f1

TFIDF_C_GRID = (0.03, 0.1, 0.3, 1.0)


class MajorityBaseline:
    """Predicts the most frequent training label, with the training label shares as probabilities."""

    def fit(self, tickets: Sequence[TicketText], labels: Sequence[str]) -> MajorityBaseline:
        classes, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
        self.classes_ = [str(c) for c in classes]
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, tickets: Sequence[TicketText]) -> NDArray[np.float64]:
        return np.tile(self.prior_, (len(tickets), 1))


class TfidfBaseline:
    """Word + character n-gram TF-IDF and one-vs-rest linear SVMs, C by inner cross-validation."""

    def __init__(self, c_grid: Sequence[float] = TFIDF_C_GRID, inner_folds: int = 3, random_state: int = 0):
        self.c_grid = tuple(c_grid)
        self.inner_folds = inner_folds
        self.random_state = random_state

    def _features(self, texts: Sequence[str], fit: bool = False) -> sparse.csr_matrix:
        if fit:
            self.words_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
            self.chars_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float32)
            return sparse.hstack([self.words_.fit_transform(texts), self.chars_.fit_transform(texts)], format="csr")
        return sparse.hstack([self.words_.transform(texts), self.chars_.transform(texts)], format="csr")

    def fit(self, tickets: Sequence[TicketText], labels: Sequence[str]) -> TfidfBaseline:
        classes, y = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
        self.classes_ = [str(c) for c in classes]
        x = self._features([ticket_text(s, b) for s, b in tickets], fit=True)
        splits = max(2, min(self.inner_folds, len(y) // 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a rare label may be missing from a fold
            folds = list(StratifiedKFold(splits, shuffle=True, random_state=self.random_state).split(x, y))
        held_out = {c: np.zeros((len(y), len(classes))) for c in self.c_grid}
        for train, test in folds:
            present = np.unique(y[train])
            for c in self.c_grid:
                scores = np.full((len(test), len(classes)), -10.0)
                if len(present) >= 2:
                    model = LinearSVC(C=c).fit(x[train], y[train])
                    margins = model.decision_function(x[test])
                    scores[:, present] = margins if margins.ndim == 2 else np.column_stack([-margins, margins])
                held_out[c][test] = scores
        self.objective_ = "macro_f1" if decision_for(self.classes_) == "balanced" else "accuracy"
        score = {
            c: macro_f1(held_out[c].argmax(axis=1), y, len(classes))
            if self.objective_ == "macro_f1"
            else float((held_out[c].argmax(axis=1) == y).mean())
            for c in self.c_grid
        }
        self.c_ = max(self.c_grid, key=lambda c: (score[c], -c))
        self.calibration_ = ScoreBlend().fit([held_out[self.c_]], y)
        self.svm_ = LinearSVC(C=self.c_).fit(x, y)
        return self

    def predict_proba(self, tickets: Sequence[TicketText]) -> NDArray[np.float64]:
        x = self._features([ticket_text(s, b) for s, b in tickets])
        margins = self.svm_.decision_function(x)
        if margins.ndim == 1:
            margins = np.column_stack([-margins, margins])
        return self.calibration_.transform([margins])
