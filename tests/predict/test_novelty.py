"""The novelty detector: threshold learnt with labels left out, verdicts on familiar and new-topic tickets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evals.left_out_labels import left_out, novelty_figures
from router.predict.novelty import (
    FEATURES,
    NoveltyDetector,
    _nearest,
    choose_threshold,
    neighbour_features,
    similarity_score,
)


def _clusters(n_labels: int, per_label: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random centre per label: tickets of one topic are near each other."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, 32))
    y = np.repeat(np.arange(n_labels), per_label)
    v = centres[y] + spread * rng.normal(size=(len(y), 32))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32), y.astype(np.int64)


def _folds(n: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(1).permutation(n)
    parts = np.array_split(order, k)
    return [(np.concatenate(parts[:i] + parts[i + 1 :]), parts[i]) for i in range(k)]


def test_similarity_score_is_the_mean_of_the_k_best_and_ignores_missing_neighbours() -> None:
    s = np.array([[0.2, 0.9, 0.5], [0.7, -np.inf, -np.inf]])
    assert similarity_score(s, 2) == pytest.approx([0.7, 0.7])
    with pytest.raises(ValueError, match="neighbours"):
        similarity_score(np.zeros((2, 0)), 3)


def test_threshold_flags_at_most_the_allowed_share_of_familiar_tickets() -> None:
    familiar = np.linspace(0.5, 1.0, 100)
    novel = np.linspace(0.1, 0.6, 50)
    threshold = choose_threshold(familiar, novel, max_familiar=0.05)
    assert (familiar < threshold).mean() <= 0.05
    # Every novel ticket below the familiar ones is flagged: the threshold is not left low.
    assert (novel < threshold).mean() >= (novel < 0.5).mean()


def test_detector_flags_an_unseen_topic_and_not_the_familiar_ones() -> None:
    v, y = _clusters(8, 40, spread=0.6)
    known = y < 7  # the last topic is never trained on
    detector = NoveltyDetector(max_familiar=0.04).fit(v[known], y[known], _folds(int(known.sum())))
    assert detector.threshold_ is not None and detector.expected_recall_ is not None
    reference = v[known]
    similarities = v @ reference.T
    verdicts = detector.verdicts(np.sort(similarities, axis=1)[:, ::-1][:, :10])
    flagged = np.array([verdict.novel for verdict in verdicts])
    assert flagged[~known].mean() >= 0.9
    assert flagged[known].mean() <= 0.1


def test_without_enough_tickets_the_detector_never_flags() -> None:
    v, y = _clusters(2, 4, spread=0.3)
    detector = NoveltyDetector().fit(v, y, _folds(len(y), 2))
    assert detector.threshold_ is None
    assert not any(verdict.novel for verdict in detector.verdicts(np.full((3, 5), -0.5)))


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="max_familiar"):
        NoveltyDetector(max_familiar=0)
    with pytest.raises(ValueError, match="k >= 1"):
        NoveltyDetector(k=0)
    with pytest.raises(ValueError, match="search"):
        NoveltyDetector(search=3)


def test_neighbour_features_read_the_best_label_and_the_vote() -> None:
    # Unsorted on purpose; label 1 has three near tickets, label 0 one (its missing two count at the floor, 0.1).
    s = np.array([[0.8, 0.9, 0.1, 0.85, 0.7, -np.inf]])
    labels = np.array([[1, 1, 2, 0, 1, -1]])
    f = dict(zip(FEATURES, neighbour_features(s, labels)[0], strict=True))
    assert f["nearest"] == pytest.approx(0.9)
    assert f["mean of 5"] == pytest.approx(np.mean([0.9, 0.85, 0.8, 0.7, 0.1]))
    assert f["best label's 3"] == pytest.approx(0.8)
    assert f["margin to second label"] == pytest.approx(0.8 - (0.85 + 0.1 + 0.1) / 3)
    weights = np.exp((np.array([0.9, 0.85, 0.8, 0.7, 0.1]) - 0.9) / 0.05)
    assert f["vote share"] == pytest.approx((weights[0] + weights[2] + weights[3]) / weights.sum())
    with pytest.raises(ValueError, match="same"):
        neighbour_features(s, labels[:, :3])


def test_with_enough_tickets_the_detector_learns_its_score_from_the_neighbours_labels() -> None:
    v, y = _clusters(24, 30, spread=0.7)
    known = y < 21  # three topics are never trained on
    detector = NoveltyDetector().fit(v[known], y[known], _folds(int(known.sum()), 3))
    assert detector.weights_ is not None and detector.threshold_ is not None
    assert detector.neighbours_needed == detector.search
    similarities, codes = _nearest(v, v[known], y[known], detector.neighbours_needed)
    flagged = np.array([verdict.novel for verdict in detector.verdicts(similarities, codes)])
    assert flagged[~known].mean() >= 0.8
    assert flagged[known].mean() <= 0.1
    with pytest.raises(ValueError, match="labels="):
        detector.verdicts(similarities)


def test_a_detector_saved_before_the_learnt_score_keeps_the_mean_similarity() -> None:
    v, y = _clusters(24, 30, spread=0.7)
    detector = NoveltyDetector().fit(v, y, _folds(len(y), 3))
    old = NoveltyDetector.__new__(NoveltyDetector)
    old.__dict__.update({"k": 5, "left_out_share": 0.15, "max_familiar": 0.04, "random_state": 0})
    old.__dict__.update({"threshold_": 0.5, "expected_recall_": 0.3, "expected_familiar_": 0.04})
    assert old.neighbours_needed == 5 and not old.reads_confidence
    similarities, codes = _nearest(v[:4], v, y, detector.search)
    verdicts = old.verdicts(similarities, codes)
    assert [verdict.score for verdict in verdicts] == pytest.approx(similarity_score(similarities, 5))


def _fitted_with_confidence(routed_share: float = 1.0) -> tuple[NoveltyDetector, np.ndarray, np.ndarray]:
    """A learnt detector given every training ticket's held-out confidence (familiar tickets confident)."""
    v, y = _clusters(24, 30, spread=0.7)
    known = y < 21
    rng = np.random.default_rng(2)
    detector = NoveltyDetector(max_familiar=0.05).fit(v[known], y[known], _folds(int(known.sum()), 3))
    confidence = rng.uniform(0.6, 0.99, size=int(known.sum()))
    routed = rng.uniform(size=len(confidence)) < routed_share
    detector.use_confidence(confidence, routed)
    return detector, v, y


def test_the_confidence_joins_the_score_and_the_threshold_counts_routed_familiar_tickets() -> None:
    detector, v, y = _fitted_with_confidence()
    assert detector.reads_confidence and detector.threshold_ is not None
    assert detector.expected_familiar_ is not None and detector.expected_familiar_ <= 0.05
    known = y < 21
    similarities, codes = _nearest(v, v[known], y[known], detector.neighbours_needed)
    sure = detector.verdicts(similarities, codes, np.full(len(v), 0.99))
    unsure = detector.verdicts(similarities, codes, np.full(len(v), 0.3))
    # Same neighbours, less confidence: a lower score (more novel), never the other way round.
    assert all(b.score < a.score for a, b in zip(sure, unsure, strict=True))
    assert sum(b.novel for b in unsure) > sum(a.novel for a in sure)
    assert np.mean([a.novel for a in sure][: int(known.sum())]) <= 0.1
    with pytest.raises(ValueError, match="confidence="):
        detector.verdicts(similarities, codes)
    with pytest.raises(ValueError, match="confidences"):
        detector.verdicts(similarities, codes, np.full(3, 0.9))


def test_familiar_tickets_abstained_on_anyway_cost_nothing_and_are_not_counted() -> None:
    everything, _, _ = _fitted_with_confidence(1.0)
    half, _, _ = _fitted_with_confidence(0.5)
    # Counting only the routed half changes which familiar tickets set the threshold, not the share allowed.
    assert half.expected_familiar_ is not None and half.expected_familiar_ <= 0.05
    assert half.threshold_ != everything.threshold_


def test_without_the_learnt_score_or_routed_tickets_the_confidence_is_not_read() -> None:
    v, y = _clusters(8, 40, spread=0.6)
    plain = NoveltyDetector().fit(v, y, _folds(len(y)))
    plain.use_confidence(np.full(len(y), 0.9), np.ones(len(y), dtype=bool))
    assert not plain.reads_confidence
    detector, _, _ = _fitted_with_confidence(0.0)  # nothing routed: nothing to count the cost on
    assert not detector.reads_confidence


def test_the_inner_folds_scores_are_not_saved_with_the_detector() -> None:
    import pickle

    v, y = _clusters(24, 30, spread=0.7)
    detector = NoveltyDetector().fit(v, y, _folds(len(y), 3))
    assert getattr(detector, "_fold_scores", None) is not None
    restored = pickle.loads(pickle.dumps(detector))
    assert getattr(restored, "_fold_scores", None) is None
    assert restored.threshold_ == detector.threshold_


def test_left_out_labels_leave_at_least_two_to_train_on() -> None:
    labels = ["a", "b", "c", "d"]
    assert left_out(labels, 2, 0) == left_out(labels, 2, 0)
    assert len(set(left_out(labels, 2, 3))) == 2
    with pytest.raises(ValueError, match="fewer than 2"):
        left_out(labels, 3, 0)


def test_novelty_figures_compare_with_the_baseline_at_equal_coverage_cost() -> None:
    # Six familiar tickets, all routed; four new-topic ones, routed too (confident, as a classifier is).
    confidence = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.99, 0.97, 0.95, 0.93])
    novel = np.array([False] * 6 + [True] * 4)
    flagged = np.array([False, False, False, False, False, True, True, True, True, False])
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.4, 0.3, 0.3, 0.3, 0.6])
    figures = novelty_figures(
        confidence=confidence,
        correct=np.array([True] * 5 + [False] + [False] * 4),
        novel=novel,
        flagged=flagged,
        scores=scores,
        threshold=0.9,
    )
    assert figures["novelty_recall_before"] == 0.0
    assert figures["novelty_recall"] == pytest.approx(0.75)
    assert figures["coverage_cost"] == pytest.approx(1 / 6)
    assert figures["routed_accuracy_before"] == pytest.approx(5 / 6)
    assert figures["routed_accuracy_after"] == 1.0
    # The baseline drops the least confident familiar ticket (0.94): only the new-topic one below 0.95 goes too.
    assert figures["baseline_novelty_recall"] == pytest.approx(0.25)
    curve = figures["curve"]
    assert curve["detector"][0] == curve["baseline"][0] == 0.0


def test_eval_classify_refuses_novelty_options_that_cannot_work(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from router.cli import app

    data = tmp_path / "labelled.csv"
    data.write_text("text,label\n" + "".join(f"ticket {i},{'abc'[i % 3]}\n" for i in range(30)), encoding="utf-8")
    runner = CliRunner()
    common = ["eval", "classify", "--train", str(data), "--cv", "2", "--text", "text", "--label", "label"]
    too_many = runner.invoke(app, [*common, "--novelty", "2"])
    assert too_many.exit_code == 1 and "fewer than 2 of the 3 labels" in too_many.output
    no_novelty = runner.invoke(app, [*common, "--plot", str(tmp_path / "p.png")])
    assert no_novelty.exit_code == 1 and "--plot" in no_novelty.output and "--novelty" in no_novelty.output
    zero = runner.invoke(app, [*common, "--novelty", "0"])
    assert zero.exit_code == 1 and "at least 1 label" in zero.output
