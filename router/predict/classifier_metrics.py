"""How good a text classifier is: the figures both the running agent (to gate retraining) and evals report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router.predict.abstention import coverage_at_precision
from router.predict.calibration_error import expected_calibration_error

# Fifteen bins of top-label confidence, the usual choice for classifiers' calibration error.
CLASSIFIER_ECE_BINS = 15


def classification_metrics(
    y_true: Sequence[str],
    probabilities: NDArray[np.floating],
    classes: Sequence[str],
    *,
    target_precision: float = 0.9,
    abstention: bool = False,
    threshold: float | None = None,
    predicted: NDArray[np.integer] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, top-3 accuracy, ECE, coverage at the target precision and per-label figures.

    ``probabilities`` is (n, len(classes)). A true label outside ``classes`` (never seen in training) counts
    as wrong everywhere. With ``abstention``, also the share of tickets the model's own ``threshold`` would route
    automatically and their precision (a None threshold routes none). ``predicted`` is the label index the
    model acts on per ticket when that is not the most probable one (a balanced decision); confidence is then
    that label's probability. Top-3 accuracy and ECE read the probabilities as they are.
    """
    from sklearn.metrics import precision_recall_fscore_support

    p = np.asarray(probabilities, dtype=np.float64)
    truth = [str(t) for t in y_true]
    labels = [str(c) for c in classes]
    if len(truth) != len(p):
        raise ValueError(f"{len(truth)} true labels but {len(p)} probability rows")
    index = {label: i for i, label in enumerate(labels)}
    codes = np.array([index.get(t, -1) for t in truth], dtype=np.int64)
    n = len(truth)
    if n == 0:
        raise ValueError("no tickets to evaluate")
    order = np.argsort(-p, axis=1, kind="stable")
    if predicted is None:
        predicted = order[:, 0]
    elif len(predicted) != n:
        raise ValueError(f"{n} probability rows but {len(predicted)} predicted labels")
    correct = predicted == codes
    confidence = p[np.arange(n), predicted]
    top3 = (order[:, :3] == codes[:, None]).any(axis=1)
    predicted_labels = [labels[i] for i in predicted]
    names = sorted(set(truth) | set(predicted_labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted_labels, labels=names, zero_division=0
    )
    key = f"coverage_at_{round(target_precision * 100)}_precision"
    result: dict[str, Any] = {
        "accuracy": float(correct.mean()),
        "macro_f1": float(np.mean(f1)),
        "top3_accuracy": float(top3.mean()),
        "ece": expected_calibration_error(p.max(axis=1), p.argmax(axis=1) == codes, bins=CLASSIFIER_ECE_BINS),
        key: coverage_at_precision(confidence, correct, target_precision),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
    }
    if abstention:
        accepted = confidence >= threshold if threshold is not None else np.zeros(n, dtype=bool)
        result["auto_coverage"] = float(accepted.mean())
        result["auto_precision"] = float(correct[accepted].mean()) if accepted.any() else None
    return result
