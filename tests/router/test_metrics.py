"""The calibration error shared by the churn and text-classifier reports."""

from __future__ import annotations

import numpy as np
import pytest

from router.behaviour import churn_metrics
from router.predict import classification_metrics
from router.predict.calibration_error import expected_calibration_error


def test_calibration_error_weighs_each_bin_by_its_cases() -> None:
    # Bin [0, 0.5]: claims 0.2 and 0.4 (mean 0.3), one happened (0.5) -> gap 0.2 over 2 cases.
    # Bin (0.5, 1]: claims 0.9 three times, all happened -> gap 0.1 over 3 cases.
    claimed = [0.2, 0.4, 0.9, 0.9, 0.9]
    happened = [0, 1, 1, 1, 1]
    assert expected_calibration_error(claimed, happened, bins=2) == pytest.approx((2 * 0.2 + 3 * 0.1) / 5)
    # The number of bins changes the figure: with ten, 0.2 and 0.4 fall apart (gaps 0.2 and 0.6).
    assert expected_calibration_error(claimed, happened, bins=10) == pytest.approx((0.2 + 0.6 + 3 * 0.1) / 5)
    assert expected_calibration_error([], [], bins=10) == 0.0


def test_churn_and_classifier_reports_keep_their_own_bins() -> None:
    rng = np.random.default_rng(1)
    risk = rng.random(500)
    churned = (rng.random(500) < risk).astype(int)
    assert churn_metrics(churned, risk)["ece"] == expected_calibration_error(risk, churned, bins=10)

    p = rng.dirichlet(np.ones(3), size=400)
    truth = [str(i) for i in rng.integers(0, 4, size=400)]  # label "3" was never seen: always wrong
    codes = np.array([int(t) if t != "3" else -1 for t in truth])
    figures = classification_metrics(truth, p, ["0", "1", "2"])
    assert figures["ece"] == expected_calibration_error(p.max(1), p.argmax(1) == codes, bins=15)
    assert figures["ece"] != expected_calibration_error(p.max(1), p.argmax(1) == codes, bins=10)
