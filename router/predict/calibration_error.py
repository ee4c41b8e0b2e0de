"""Figures that both the running agent (to gate retraining) and evals report, whatever the model."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def expected_calibration_error(confidence: ArrayLike, outcome: ArrayLike, *, bins: int) -> float:
    """Mean |observed rate - stated confidence| over equal-width confidence bins, weighted by the cases in each.

    ``confidence`` is what a model claimed per case (a churn risk, a label's probability) and ``outcome`` whether
    it happened (churned, the label was right), as 0/1. There is no default number of bins: it changes the
    figure, so each report names its own.
    """
    claimed = np.asarray(confidence, dtype=np.float64)
    happened = np.asarray(outcome, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(claimed, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(happened[mask].mean() - claimed[mask].mean())
    return float(total / max(len(claimed), 1))
