"""Metrics for a churn risk: ranking (ROC-AUC, PR-AUC) and calibration (Brier score, ECE)."""

from __future__ import annotations

import numpy as np


def expected_calibration_error(labels: np.ndarray, risk: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - predicted risk| over equal-width risk bins, weighted by the customers in each."""
    labels = np.asarray(labels, dtype=float)
    risk = np.asarray(risk, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(risk, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(labels[mask].mean() - risk[mask].mean())
    return float(total / max(len(risk), 1))


def churn_metrics(labels: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), Brier score and ECE of predicted churn risks."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    labels = np.asarray(labels, dtype=int)
    risk = np.asarray(risk, dtype=float)
    return {
        "roc_auc": float(roc_auc_score(labels, risk)),
        "pr_auc": float(average_precision_score(labels, risk)),
        "brier": float(brier_score_loss(labels, risk)),
        "ece": expected_calibration_error(labels, risk),
    }
