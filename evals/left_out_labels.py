"""``deskroute eval classify --novelty K``: does the classifier abstain on tickets of topics it never saw?

In every split, K labels drawn at random are left out of training entirely (the novelty detector's threshold is
chosen inside training, so it never sees them either); the held-out part keeps them. Tickets of the left-out
labels stand for new topics. Reported per split and averaged:

* novelty recall: the share of new-topic tickets abstained on, before the detector (the confidence threshold
  alone) and after it (either reason), and the share the detector itself flagged;
* on the familiar tickets (known labels): accuracy, the share routed automatically (coverage) and the accuracy
  of those routed, before and after the detector;
* the maximum-probability baseline at the same coverage cost: the confidence threshold raised until exactly as
  many familiar tickets lose automatic routing as the detector took from them, and its novelty recall;
* both as curves of novelty recall against coverage cost, for the plot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evals.classify import ClassifyRun, Split
from router.predict import TicketClassifier

# Coverage costs (points of familiar tickets no longer routed automatically) at which the curves are read.
COST_GRID = np.round(np.arange(0.0, 0.2001, 0.005), 3)
SCALARS = (
    "novelty_recall",
    "novelty_recall_before",
    "flagged_novel",
    "familiar_flagged",
    "accuracy",
    "coverage_before",
    "coverage_after",
    "coverage_cost",
    "routed_accuracy_before",
    "routed_accuracy_after",
    "baseline_novelty_recall",
    "baseline_routed_accuracy",
    "train_seconds",
)


def left_out(labels: list[str], k: int, seed: int) -> list[str]:
    """``k`` distinct labels drawn at random (reproducibly, by ``seed``) from those present."""
    present = sorted(set(labels))
    if k >= len(present) - 1:
        raise ValueError(f"--novelty {k} leaves fewer than 2 of the {len(present)} labels to train on")
    rng = np.random.default_rng(seed)
    return sorted(str(c) for c in rng.choice(present, size=k, replace=False))


def evaluate_novelty_split(
    run: ClassifyRun, split: Split, k: int, seed: int, *, on_step: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Fit without ``k`` labels on one split's training rows; figures on its held-out rows."""
    say = on_step or (lambda message: None)
    tickets = run.train.tickets + (run.test.tickets if run.test else [])
    labels = run.train.labelled() + (run.test.labelled() if run.test else [])
    ids = run.train.ids + (run.test.ids if run.test else [])
    new_labels = left_out([labels[i] for i in split.train], k, seed)
    unseen = set(new_labels)
    train = np.asarray([i for i in split.train if labels[i] not in unseen], dtype=np.int64)
    test = split.test
    started = time.perf_counter()
    classifier = TicketClassifier(target=run.train.label_column or "label").fit(
        [tickets[i] for i in train],
        [labels[i] for i in train],
        vectors=run.vectors[train],
        tokens=[run.tokens[i] for i in train] if run.tokens is not None else None,
        ids=[ids[i] for i in train],
        on_step=lambda step: say(f"deskroute classifier: {step}"),
    )
    train_seconds = time.perf_counter() - started
    say("scoring held-out tickets")
    test_tickets = [tickets[i] for i in test]
    probabilities = classifier.predict_proba(
        test_tickets,
        vectors=run.vectors[test],
        tokens=[run.tokens[i] for i in test] if run.tokens is not None else None,
    )
    decided = classifier.decided(probabilities)
    confidence = probabilities[np.arange(len(test)), decided]
    verdicts = classifier.novelty_verdicts(run.vectors[test], confidence)
    predicted = np.asarray(classifier.classes_, dtype=object)[decided]
    truth = np.asarray([labels[i] for i in test], dtype=object)
    novel = np.isin(truth, new_labels)
    scores = np.asarray([v.score if v is not None else np.inf for v in verdicts], dtype=np.float64)
    flagged = np.asarray([v is not None and v.novel for v in verdicts], dtype=bool)
    threshold = classifier.threshold_
    figures = novelty_figures(
        confidence=confidence,
        correct=predicted == truth,
        novel=novel,
        flagged=flagged,
        scores=scores,
        threshold=threshold,
    )
    figures["left_out_labels"] = new_labels
    figures["n_train"] = len(train)
    figures["n_familiar"] = int((~novel).sum())
    figures["n_novel"] = int(novel.sum())
    figures["train_seconds"] = train_seconds
    detector = classifier.novelty_
    figures["detector"] = {
        "threshold": None if detector is None else detector.threshold_,
        "expected_recall": None if detector is None else detector.expected_recall_,
    }
    return figures


def _share(mask: NDArray[np.bool_], within: NDArray[np.bool_]) -> float:
    return float(mask[within].mean()) if within.any() else 0.0


def novelty_figures(
    *,
    confidence: NDArray[np.float64],
    correct: NDArray[np.bool_],
    novel: NDArray[np.bool_],
    flagged: NDArray[np.bool_],
    scores: NDArray[np.float64],
    threshold: float | None,
) -> dict[str, Any]:
    """The figures of one split from per-ticket confidence, correctness, truth (novel) and the detector's say."""
    familiar = ~novel
    routed_before = confidence >= threshold if threshold is not None else np.zeros(len(confidence), dtype=bool)
    routed_after = routed_before & ~flagged
    n_familiar = int(familiar.sum())
    cost = _share(routed_before, familiar) - _share(routed_after, familiar)
    baseline_routed = _baseline_routed(confidence, routed_before, familiar, round(cost * n_familiar))
    return {
        "novelty_recall": _share(~routed_after, novel),
        "novelty_recall_before": _share(~routed_before, novel),
        "flagged_novel": _share(flagged, novel),
        "familiar_flagged": _share(flagged, familiar),
        "accuracy": _share(correct, familiar),
        "coverage_before": _share(routed_before, familiar),
        "coverage_after": _share(routed_after, familiar),
        "coverage_cost": cost,
        "routed_accuracy_before": _share(correct, familiar & routed_before),
        "routed_accuracy_after": _share(correct, familiar & routed_after),
        "baseline_novelty_recall": _share(~baseline_routed, novel),
        "baseline_routed_accuracy": _share(correct, familiar & baseline_routed),
        "curve": {
            "cost": COST_GRID.tolist(),
            "detector": _detector_curve(scores, routed_before, familiar, novel),
            "baseline": [
                _share(~_baseline_routed(confidence, routed_before, familiar, round(c * n_familiar)), novel)
                for c in COST_GRID
            ],
        },
    }


def _baseline_routed(
    confidence: NDArray[np.float64], routed: NDArray[np.bool_], familiar: NDArray[np.bool_], drop: int
) -> NDArray[np.bool_]:
    """Routing with the confidence threshold raised until ``drop`` more familiar tickets are not routed."""
    kept = np.sort(confidence[routed & familiar])
    if drop <= 0 or len(kept) == 0:
        return routed.copy()
    if drop >= len(kept):
        return np.zeros(len(confidence), dtype=bool)
    return routed & (confidence >= kept[drop])


def _detector_curve(
    scores: NDArray[np.float64], routed: NDArray[np.bool_], familiar: NDArray[np.bool_], novel: NDArray[np.bool_]
) -> list[float]:
    """Novelty recall at each cost of the grid, the detector's threshold moved to take exactly that cost."""
    familiar_routed = np.sort(scores[routed & familiar])
    n_familiar = int(familiar.sum())
    out = []
    for cost in COST_GRID:
        drop = round(cost * n_familiar)
        if drop <= 0 or len(familiar_routed) == 0:
            cut = -np.inf
        elif drop >= len(familiar_routed):
            cut = np.inf
        else:
            cut = familiar_routed[drop]
        out.append(_share(~(routed & (scores >= cut)), novel))
    return out


def summarise_novelty(per_split: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Mean and standard deviation of each figure over splits, and the mean curves."""
    out: dict[str, Any] = {"left_out_per_split": k}
    for key in SCALARS:
        values = np.asarray([s[key] for s in per_split], dtype=np.float64)
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out["curve"] = {
        "cost": COST_GRID.tolist(),
        "detector": np.mean([s["curve"]["detector"] for s in per_split], axis=0).tolist(),
        "baseline": np.mean([s["curve"]["baseline"] for s in per_split], axis=0).tolist(),
    }
    out["splits"] = [{k: v for k, v in s.items() if k != "curve"} for s in per_split]
    return out


_ROWS = (
    ("novelty_recall", "new-topic tickets abstained on (novelty recall)"),
    ("novelty_recall_before", "  by the confidence threshold alone"),
    ("flagged_novel", "  flagged novel by the detector"),
    ("baseline_novelty_recall", "  max-probability baseline at equal coverage cost"),
    ("familiar_flagged", "familiar tickets flagged novel"),
    ("accuracy", "familiar tickets: accuracy"),
    ("coverage_before", "familiar routed automatically, before"),
    ("coverage_after", "familiar routed automatically, after"),
    ("coverage_cost", "coverage cost"),
    ("routed_accuracy_before", "accuracy of those routed, before"),
    ("routed_accuracy_after", "accuracy of those routed, after"),
    ("baseline_routed_accuracy", "  max-probability baseline at equal cost"),
)


def render_novelty(result: dict[str, Any]) -> Any:
    """A readable table of the novelty figures (mean ± std over splits)."""
    from rich.table import Table

    novelty = result["novelty"]
    table = Table(
        title=f"{novelty['left_out_per_split']} labels left out of training in each split (mean ± std)",
        title_justify="left",
    )
    table.add_column("")
    table.add_column("deskroute", justify="right")
    for key, caption in _ROWS:
        table.add_row(caption, f"{100 * novelty[key]:.1f}% ± {100 * novelty[key + '_std']:.1f}")
    table.add_row("training time", f"{novelty['train_seconds']:.1f} s ± {novelty['train_seconds_std']:.1f}")
    return table


def novelty_plot(result: dict[str, Any]) -> bytes:
    """PNG of novelty recall against coverage cost: the detector beside the maximum-probability baseline."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["novelty"]["curve"]
    cost = 100 * np.asarray(curve["cost"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(cost, 100 * np.asarray(curve["detector"]), label="novelty detector")
    ax.plot(cost, 100 * np.asarray(curve["baseline"]), label="maximum probability", linestyle="--")
    ax.axvline(100 * result["novelty"]["coverage_cost"], color="grey", linewidth=0.8, label="chosen threshold")
    ax.set_xlabel("coverage cost (points of familiar tickets not routed)")
    ax.set_ylabel("new-topic tickets abstained on (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right")
    ax.set_title(f"'{result['label']}': {result['novelty']['left_out_per_split']} labels left out per split")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
