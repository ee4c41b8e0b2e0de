"""The decision rule: most probable label for queues, label weights learnt for balance on priority levels."""

from __future__ import annotations

import numpy as np
import pytest

from router.predict import TicketClassifier
from router.predict.decision import balanced_weights, decide, decision_for, macro_f1
from tests.predict.conftest import labelled_rows


def test_priority_levels_are_decided_for_balance_and_other_labels_by_probability() -> None:
    assert decision_for(["high", "low", "medium"]) == "balanced"
    assert decision_for(["Critical", "Minor", "normal"]) == "balanced"  # vendors' words for the same levels
    assert decision_for(["Access", "Billing"]) == "accuracy"
    assert decision_for(["high", "Billing"]) == "accuracy"  # not a priority scale
    assert decision_for(["Access", "Billing"], "balanced") == "balanced"
    assert decision_for(["high", "low"], "accuracy") == "accuracy"
    with pytest.raises(ValueError, match="decision must be one of auto, accuracy, balanced"):
        decision_for(["high", "low"], "recall")
    with pytest.raises(ValueError, match="decision must be one of"):
        TicketClassifier(decision="fairest")


def _drowned_minority(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three labels; the rare third is never the most probable, though its probability rises when it is true."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=900, p=[0.45, 0.4, 0.15])
    p = rng.dirichlet([4, 4, 1], size=900)
    p[np.arange(900), y] += 0.25
    p[:, 2] = np.minimum(p[:, 2], p[:, :2].max(axis=1) * 0.9)  # label 2 always loses the argmax
    return p / p.sum(axis=1, keepdims=True), y


def test_balanced_weights_let_a_drowned_label_be_chosen_and_raise_macro_f1() -> None:
    p, y = _drowned_minority()
    plain = decide(p)
    assert not (plain == 2).any()
    weights = balanced_weights(p, y)
    balanced = decide(p, weights)
    assert weights[0] == 1.0 and weights[2] > 1.0
    assert (balanced == 2).any()
    assert macro_f1(balanced, y, 3) > macro_f1(plain, y, 3) + 0.05
    # Learnt on one sample, the weights carry over to another drawn the same way.
    p2, y2 = _drowned_minority(seed=1)
    assert macro_f1(decide(p2, weights), y2, 3) > macro_f1(decide(p2), y2, 3) + 0.05


def test_weights_stay_one_when_the_most_probable_label_is_already_best() -> None:
    y = np.array([0, 1, 2] * 30)
    p = np.full((90, 3), 0.1)
    p[np.arange(90), y] = 0.8
    assert np.array_equal(balanced_weights(p, y), np.ones(3))


def test_a_priority_classifier_acts_on_its_balanced_decision() -> None:
    rows = labelled_rows()
    # Priority follows the queue here, with "low" rarer: a learnable, imbalanced scale.
    level = {"Billing": "high", "Access": "normal", "Shipping": "low"}
    labels = [level[r["queue"]] if i % 4 else "normal" for i, r in enumerate(rows)]
    tickets = [(r["subject"], r["body"]) for r in rows]
    # The SVMs and neighbour votes suffice to show the decision (the attention network would only add minutes).
    evidence = ("pairwise", "neighbours")
    model = TicketClassifier(target="priority", scorers=evidence).fit(tickets, labels)
    assert model.decision_ == "balanced" and model.label_weights_ is not None
    assert model.pairwise_ is not None and model.pairwise_.balanced  # label costs balanced in training too
    described = model.describe()
    assert described["decision"] == "balanced"
    assert set(described["label_weights"]) == {"high", "low", "normal"}
    probabilities = model.predict_proba(tickets)
    expected = [model.classes_[i] for i in (probabilities * model.label_weights_).argmax(axis=1)]
    assert model.predict(tickets) == expected
    predictions = model.predict_tickets([s for s, _ in tickets], [b for _, b in tickets], neighbours=0)
    assert [p.label for p in predictions] == expected
    for prediction, row in zip(predictions, probabilities, strict=True):
        assert prediction.probability == pytest.approx(row[model.classes_.index(prediction.label)])
    # Asked for the most probable label, the same data gives plain argmax decisions.
    plain = TicketClassifier(target="priority", scorers=evidence, decision="accuracy").fit(tickets, labels)
    assert plain.label_weights_ is None and plain.describe()["label_weights"] is None
    assert plain.pairwise_ is not None and not plain.pairwise_.balanced
