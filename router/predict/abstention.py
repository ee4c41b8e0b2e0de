"""When to abstain: a confidence threshold chosen from held-out predictions for a target precision.

Tickets whose top probability reaches the threshold are routed automatically; the others go to triage. The
threshold is the lowest confidence at which the automatically routed share stays at least ``target`` precise
on out-of-fold predictions, so it is learnt from data the model did not fit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Fewer accepted tickets than this make a precision estimate too noisy to trust (one error swings it by 5%).
MIN_ACCEPTED = 20


def precision_coverage(
    confidence: ArrayLike, correct: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """For each distinct confidence t (descending): the threshold, the share accepted and their precision."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    if len(conf) == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    order = np.argsort(-conf, kind="stable")
    conf, hit = conf[order], hit[order]
    accepted = np.arange(1, len(conf) + 1, dtype=np.float64)
    precision = np.cumsum(hit) / accepted
    # Ties share one threshold: keep the last index of each run of equal confidence.
    last = np.r_[conf[1:] != conf[:-1], True]
    return conf[last], accepted[last] / len(conf), precision[last]


def coverage_at_precision(confidence: ArrayLike, correct: ArrayLike, target: float = 0.9) -> float:
    """The largest share of tickets that can be accepted, highest confidence first, at ``target`` precision."""
    _, coverage, precision = precision_coverage(confidence, correct)
    ok = precision >= target
    return float(coverage[ok].max()) if ok.any() else 0.0


def threshold_for_precision(
    confidence: ArrayLike, correct: ArrayLike, target: float = 0.9, *, min_accepted: int = MIN_ACCEPTED
) -> float | None:
    """The lowest confidence threshold whose accepted tickets are at least ``target`` precise.

    None when no threshold reaches the target with at least ``min_accepted`` tickets accepted: the model should
    then always abstain.
    """
    thresholds, coverage, precision = precision_coverage(confidence, correct)
    n = len(np.asarray(confidence))
    ok = (precision >= target) & (coverage * n >= min(min_accepted, n))
    if not ok.any():
        return None
    return float(thresholds[ok][-1])
