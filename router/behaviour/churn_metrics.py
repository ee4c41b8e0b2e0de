"""Metrics for a churn risk: ranking (ROC-AUC, PR-AUC) and calibration (Brier score, ECE)."""

from __future__ import annotations

import numpy as np

from router.predict.calibration_error import expected_calibration_error

# Ten bins of risk: a churn table has hundreds to thousands of customers, enough for each bin to say something.
CHURN_ECE_BINS = 10


def churn_metrics(labels: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), Brier score and ECE of predicted churn risks."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    labels = np.asarray(labels, dtype=int)
    risk = np.asarray(risk, dtype=float)
    return {
        "roc_auc": float(roc_auc_score(labels, risk)),
        "pr_auc": float(average_precision_score(labels, risk)),
        "brier": float(brier_score_loss(labels, risk)),
        "ece": expected_calibration_error(risk, labels, bins=CHURN_ECE_BINS),
    }
