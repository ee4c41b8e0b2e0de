"""Calibrated probabilities from a linear model's scores, and how to measure calibration.

A linear model's scores rank labels well but are not probabilities. Temperature scaling — one positive number
that divides every score before a softmax — is fitted on out-of-fold scores by minimising the negative
log-likelihood: it keeps the ranking (so accuracy and top-k are unchanged) and fixes over- or under-confidence,
which is what an abstention threshold depends on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


def softmax(scores: NDArray[np.floating], temperature: float = 1.0) -> NDArray[np.float64]:
    """Row-wise softmax of ``scores / temperature``, numerically stable."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _log_softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class ScoreBlend:
    """Calibrated probabilities from one or more score matrices: ``softmax(Σ_j a_j · scores_j)``.

    The weights ``a_j`` (non-negative) are fitted on held-out scores by minimising the negative log-likelihood
    of the true labels. With one score matrix this is temperature scaling (``a = 1/T``); with several it also
    decides how much each kind of evidence counts. Ranking within one matrix is unchanged, so top-k stays.
    """

    def __init__(self, l2: float = 1e-4):
        self.l2 = l2

    def fit(self, blocks: Sequence[ArrayLike], y: ArrayLike) -> ScoreBlend:
        """Fit the weights on held-out score matrices (each (n, classes)) and true label indices."""
        from scipy.optimize import minimize

        z = np.stack([np.asarray(b, dtype=np.float64) for b in blocks])  # (blocks, n, classes)
        labels = np.asarray(y, dtype=np.int64)
        if z.ndim != 3 or z.shape[1] != len(labels) or len(labels) == 0:
            raise ValueError("the blend needs (n, classes) score matrices and n label indices")
        # Blocks differ in scale (votes count to k-1, margins stay near 1): start each at unit spread.
        spread = np.array([max(float(b.std()), 1e-6) for b in z])
        rows = np.arange(len(labels))

        def objective(weights: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            combined = np.tensordot(weights, z, axes=1)
            logp = _log_softmax(combined)
            p = np.exp(logp)
            nll = -float(logp[rows, labels].mean()) + self.l2 * float(weights @ weights)
            # d nll / d a_j = mean over tickets of (E_p[z_j] - z_j[y])
            grad = np.einsum("jnc,nc->j", z, p) / len(labels) - z[:, rows, labels].mean(axis=1)
            return nll, grad + 2 * self.l2 * weights

        result = minimize(objective, 1.0 / spread, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * len(z))
        self.weights_ = np.asarray(result.x, dtype=np.float64)
        return self

    def combined(self, blocks: Sequence[ArrayLike]) -> NDArray[np.float64]:
        """The blended score matrix (log-probabilities up to a per-row constant)."""
        return np.tensordot(self.weights_, np.stack([np.asarray(b, dtype=np.float64) for b in blocks]), axes=1)

    def transform(self, blocks: Sequence[ArrayLike]) -> NDArray[np.float64]:
        """Calibrated probabilities for score matrices laid out as in ``fit``."""
        return softmax(self.combined(blocks))


def expected_calibration_error(probabilities: ArrayLike, y: ArrayLike, n_bins: int = 15) -> float:
    """Top-label ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins.

    ``probabilities`` is (n, classes); ``y`` holds true column indices (-1 for a label the model never saw,
    which counts as wrong).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(y)
    if len(p) == 0:
        return 0.0
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total / len(p))
