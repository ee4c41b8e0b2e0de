"""Behaviour-aware urgency: who is writing changes the ranking where the support policy says it should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evals.behaviour_urgency import compare, out_of_fold_text
from evals.synthetic import SyntheticWorld, ranking_pair
from router.behaviour.urgency_model import Stacker, UrgencyModel, urgency_features, urgency_score


@pytest.mark.slow
def test_behaviour_aware_urgency_beats_text_only_and_reorders_the_same_words() -> None:
    report = compare(customers=150, days=240, seed=3, folds=3, params={"max_iter": 60})
    assert report["behaviour_aware"]["accuracy"] > report["text_only"]["accuracy"]
    raised = report["raised_for_customer"]
    assert raised["behaviour_aware_accuracy"] > raised["text_only_accuracy"] + 0.1
    ranking = report["ranking"]
    assert ranking["text_only_score"][0] == ranking["text_only_score"][1]  # the same words
    assert ranking["high_value_ranks_first"]


def fitted(
    world: SyntheticWorld, stacker: Stacker = "boosting"
) -> tuple[UrgencyModel, np.ndarray, list[str], list[dict], np.ndarray]:
    histories = world.histories()
    tickets = world.tickets
    labels = np.asarray([t.priority for t in tickets])
    classes = sorted(set(labels.tolist()))
    text = out_of_fold_text([t.text for t in tickets], labels, [t.requester or "" for t in tickets], 3, 0)
    features = [urgency_features(histories[t.requester or ""], t, churn_risk=0.1) for t in tickets]
    model = UrgencyModel(stacker=stacker, max_iter=40).fit(text, classes, features, labels)
    return model, text, classes, features, labels


@pytest.mark.parametrize("stacker", ["boosting", "linear"])
def test_probabilities_are_ordered_low_to_urgent_and_survive_save_and_load(
    small_world: SyntheticWorld, tmp_path: Path, stacker: Stacker
) -> None:
    model, text, classes, features, _ = fitted(small_world, stacker)
    assert model.classes_ == ["low", "normal", "high", "urgent"]
    proba = model.predict_proba(text[:30], classes, features[:30])
    assert np.allclose(proba.sum(axis=1), 1.0)
    # Columns of the text model may come in any order: they are matched by class name.
    reversed_proba = model.predict_proba(text[:30, ::-1], classes[::-1], features[:30])
    assert np.allclose(proba, reversed_proba)
    model.save(tmp_path)
    loaded, meta = UrgencyModel.load(tmp_path)
    assert meta["text_classes"] == classes and loaded.stacker_ == stacker
    assert np.allclose(loaded.predict_proba(text[:30], classes, features[:30]), proba)
    label, probability = loaded.predict(text[:1], classes, features[:1])[0]
    assert label in classes and 0 < probability <= 1
    assert urgency_score(np.eye(4), model.classes_).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_inputs_are_checked(small_world: SyntheticWorld) -> None:
    model, text, classes, features, _ = fitted(small_world)
    with pytest.raises(ValueError, match="expected \\(tickets, 4 classes\\)"):
        model.predict_proba(text[:5, :3], classes, features[:5])
    with pytest.raises(ValueError, match="lacks class"):
        model.predict_proba(text[:5, :3], classes[:3], features[:5])
    with pytest.raises(ValueError, match="5 rows of text probabilities but 4 feature rows"):
        model.predict_proba(text[:5], classes, features[:4])


def test_the_ticket_itself_never_reaches_its_features(small_world: SyntheticWorld) -> None:
    a, ticket_a, _, _ = ranking_pair(small_world.end)
    features = urgency_features(a, ticket_a)
    assert features["tickets_7d"] == 3.0  # the three earlier tickets, not the one being ranked
    assert features["mrr"] == 520.0 and features["last_rating"] == "bad"
    assert features["churn_risk"] is None


def test_the_stacker_is_chosen_by_held_out_log_loss(small_world: SyntheticWorld) -> None:
    histories = small_world.histories()
    tickets = small_world.tickets
    labels = np.asarray([t.priority for t in tickets])
    classes = sorted(set(labels.tolist()))
    groups = [t.requester or "" for t in tickets]
    text = out_of_fold_text([t.text for t in tickets], labels, groups, 3, 0)
    features = [urgency_features(histories[t.requester or ""], t) for t in tickets]
    model = UrgencyModel(max_iter=40).fit(text, classes, features, labels, groups=groups)
    assert set(model.selection_log_loss_) == {"linear", "boosting"}
    assert model.stacker_ == min(model.selection_log_loss_, key=model.selection_log_loss_.__getitem__)
