"""The score blend: calibrated probabilities from held-out scores, with per-label biases."""

from __future__ import annotations

import numpy as np
import pytest

from router.predict import ScoreBlend
from router.predict.calibration_error import expected_calibration_error


def test_label_biases_learn_what_the_scores_miss() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.2).astype(np.int64)  # label 1 is rare
    noise = rng.normal(size=(4000, 2))
    scores = noise + np.eye(2)[y] * 1.0  # informative, but blind to how rare label 1 is
    plain = ScoreBlend().fit([scores], y)
    biased = ScoreBlend(label_bias=True).fit([scores], y)
    assert plain.bias_ is None and biased.bias_ is not None
    assert biased.bias_[0] > biased.bias_[1]
    p_plain, p_biased = plain.transform([scores]), biased.transform([scores])
    assert (p_biased.argmax(1) == y).mean() > (p_plain.argmax(1) == y).mean()
    assert p_biased[:, 1].mean() == pytest.approx(0.2, abs=0.02)  # matches the label's share
    ece_biased = expected_calibration_error(p_biased.max(1), p_biased.argmax(1) == y, bins=15)
    ece_plain = expected_calibration_error(p_plain.max(1), p_plain.argmax(1) == y, bins=15)
    assert ece_biased < ece_plain


def test_the_blend_refuses_mismatched_scores() -> None:
    with pytest.raises(ValueError, match="n label indices"):
        ScoreBlend().fit([np.zeros((3, 2))], [0, 1])
