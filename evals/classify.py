"""``deskroute eval classify``: deskroute's text classifier against baselines, on the evaluator's own data.

Either a test file, or stratified K-fold cross-validation repeated R times with a different shuffle each
time. In every split the classifier and the baselines (:mod:`evals.baselines`) are fitted on the same
training part and scored on the same held-out part. Embeddings of all texts (vectors and token embeddings)
are computed once up front, so the figures for training time and prediction speed exclude the sentence
encoder; the encoder's own throughput is reported beside them.

Accuracy is also broken down by each ticket's language, detected as the engine detects it: the default
sentence encoder is English-centric, so how the classifier fares on other languages is worth seeing apart.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from router.predict import TicketClassifier, classification_metrics
from router.predict.attention import TokenMatrix
from router.predict.classifier import TicketText
from router.training.labelled import LabelledTickets

TARGET_PRECISION = 0.9
COVERAGE_KEY = "coverage_at_90_precision"
UNKNOWN_LANGUAGE = "unknown"
# Figures averaged over splits (mean and standard deviation); per-label figures are averaged separately.
SCALAR_METRICS = (
    "accuracy",
    "macro_f1",
    "top3_accuracy",
    "ece",
    COVERAGE_KEY,
    "auto_coverage",
    "auto_precision",
    "n_train",
    "n_test",
    "train_seconds",
    "predict_per_second",
)


class Model(Protocol):
    classes_: list[str]

    def predict_proba(self, tickets: Sequence[TicketText]) -> NDArray[np.float64]: ...


@dataclass
class Split:
    """One evaluation split: which rows train and which are held out, and a name for progress."""

    name: str
    train: NDArray[np.int64]
    test: NDArray[np.int64]


@dataclass
class ClassifyRun:
    """Everything an evaluation needs: the data, where test rows come from, and the precomputed vectors."""

    train: LabelledTickets
    test: LabelledTickets | None
    vectors: NDArray[np.float32]  # rows: train tickets, then test tickets
    encoder_model_id: str
    tokens: list[TokenMatrix] | None = None  # token embeddings, same rows, for the attention scorer
    languages: list[str] | None = None  # detected language code per row (UNKNOWN_LANGUAGE when none)
    splits: list[Split] = field(default_factory=list)


def cv_splits(labels: Sequence[str], folds: int, repeats: int) -> list[Split]:
    """Stratified K-fold splits, repeated with a different shuffle each time."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, dtype=object)
    smallest = min(Counter(labels).values())
    out = []
    with warnings.catch_warnings():
        # A label with fewer tickets than folds cannot be in every fold: it is then unseen in some training
        # parts and counts as wrong there, which is what would happen in production too.
        warnings.simplefilter("ignore", UserWarning)
        for repeat in range(repeats):
            splitter = StratifiedKFold(folds, shuffle=True, random_state=repeat)
            for number, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
                out.append(Split(f"repeat {repeat + 1} fold {number}", np.asarray(train), np.asarray(test)))
    if smallest < folds:
        rare = sorted(label for label, n in Counter(labels).items() if n < folds)
        out[0].name += f" (labels with fewer than {folds} tickets: {', '.join(rare[:5])})"
    return out


def _metrics_for(
    model: Model,
    tickets: Sequence[TicketText],
    truth: Sequence[str],
    predict: Callable[[], NDArray[np.float64]],
    languages: Sequence[str] | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    probabilities = predict()
    seconds = time.perf_counter() - started
    threshold = getattr(model, "threshold_", None)
    # The classifier may act on a label other than the most probable one (priority levels: balanced decision).
    decided = model.decided(probabilities) if isinstance(model, TicketClassifier) else probabilities.argmax(axis=1)
    result = classification_metrics(
        truth,
        probabilities,
        model.classes_,
        target_precision=TARGET_PRECISION,
        abstention=isinstance(model, TicketClassifier),
        threshold=threshold,
        predicted=decided,
    )
    result["predict_per_second"] = len(tickets) / seconds if seconds > 0 else float("inf")
    if languages is not None:
        predicted = np.asarray(model.classes_, dtype=object)[decided]
        result["by_language"] = by_language(predicted, truth, languages)
    return result


def by_language(
    predicted: Sequence[str] | NDArray[np.object_], truth: Sequence[str], languages: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """Accuracy and ticket count per language code (a test label unseen in training counts as wrong)."""
    correct = np.asarray(predicted, dtype=object) == np.asarray(truth, dtype=object)
    codes = np.asarray(languages, dtype=object)
    return {
        str(code): {"accuracy": float(correct[codes == code].mean()), "support": int((codes == code).sum())}
        for code in sorted(set(languages))
    }


def evaluate_split(
    run: ClassifyRun, split: Split, *, on_step: Callable[[str], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Fit the classifier and the baselines on one split's training rows; score them on its held-out rows."""
    from evals.baselines import MajorityBaseline, TfidfBaseline

    say = on_step or (lambda message: None)
    all_tickets = run.train.tickets + (run.test.tickets if run.test else [])
    all_labels = run.train.labelled() + (run.test.labelled() if run.test else [])
    all_ids = run.train.ids + (run.test.ids if run.test else [])
    train_tickets = [all_tickets[i] for i in split.train]
    train_labels = [all_labels[i] for i in split.train]
    test_tickets = [all_tickets[i] for i in split.test]
    test_labels = [all_labels[i] for i in split.test]
    test_languages = [run.languages[i] for i in split.test] if run.languages is not None else None
    results: dict[str, dict[str, Any]] = {}

    say("deskroute classifier")
    started = time.perf_counter()
    classifier = TicketClassifier(target=run.train.label_column or "label").fit(
        train_tickets,
        train_labels,
        vectors=run.vectors[split.train],
        tokens=[run.tokens[i] for i in split.train] if run.tokens is not None else None,
        ids=[all_ids[i] for i in split.train],
        on_step=lambda step: say(f"deskroute classifier: {step}"),
    )
    train_seconds = time.perf_counter() - started
    test_vectors = run.vectors[split.test]
    test_tokens = [run.tokens[i] for i in split.test] if run.tokens is not None else None
    results["deskroute"] = _metrics_for(
        classifier,
        test_tickets,
        test_labels,
        lambda: classifier.predict_proba(test_tickets, vectors=test_vectors, tokens=test_tokens),
        test_languages,
    )
    results["deskroute"]["train_seconds"] = train_seconds
    results["deskroute"]["hyperparameters"] = {**classifier.chosen_, "decision": classifier.decision_}

    for name, baseline in (("majority", MajorityBaseline()), ("tfidf", TfidfBaseline())):
        say(f"{name} baseline")
        started = time.perf_counter()
        baseline.fit(train_tickets, train_labels)
        seconds = time.perf_counter() - started
        results[name] = _metrics_for(
            baseline, test_tickets, test_labels, partial(baseline.predict_proba, test_tickets), test_languages
        )
        results[name]["train_seconds"] = seconds
        if isinstance(baseline, TfidfBaseline):
            results[name]["hyperparameters"] = {"C": baseline.c_, "chosen_on": baseline.objective_}
    for figures in results.values():
        figures["n_train"] = len(split.train)
        figures["n_test"] = len(split.test)
    return results


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def summarise(per_split: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean (and ``<metric>_std``) of each figure over splits, and the per-label figures averaged."""
    out: dict[str, Any] = {}
    for key in SCALAR_METRICS:
        values = [s[key] for s in per_split if key in s]
        if not values:
            continue
        mean, std = _mean_std(values)
        out[key] = mean
        if len(per_split) > 1:
            out[f"{key}_std"] = std
    labels = sorted({label for s in per_split for label in s["per_class"]})
    per_class: dict[str, dict[str, float | int]] = {}
    for label in labels:
        rows = [s["per_class"][label] for s in per_split if label in s["per_class"]]
        per_class[label] = {
            "precision": float(np.mean([r["precision"] for r in rows])),
            "recall": float(np.mean([r["recall"] for r in rows])),
            "f1": float(np.mean([r["f1"] for r in rows])),
            "support": int(sum(r["support"] for r in rows)),
        }
    out["per_class"] = per_class
    if any("by_language" in s for s in per_split):
        out["per_language"] = _per_language([s["by_language"] for s in per_split if "by_language" in s])
    chosen = [s["hyperparameters"] for s in per_split if "hyperparameters" in s]
    if chosen:
        out["hyperparameters"] = {
            key: dict(Counter(str(c[key]) for c in chosen)) for key in sorted({k for c in chosen for k in c})
        }
    return out


def _per_language(splits: list[dict[str, dict[str, float | int]]]) -> dict[str, dict[str, Any]]:
    """Accuracy per language, mean (and std) over the splits that held tickets in it; support summed."""
    codes = sorted(
        {code for s in splits for code in s}, key=lambda c: -sum(s.get(c, {}).get("support", 0) for s in splits)
    )
    out: dict[str, dict[str, Any]] = {}
    for code in codes:
        rows = [s[code] for s in splits if code in s]
        mean, std = _mean_std([float(r["accuracy"]) for r in rows])
        out[code] = {"accuracy": mean, "support": int(sum(r["support"] for r in rows))}
        if len(splits) > 1:
            out[code]["accuracy_std"] = std
    return out


def report(run: ClassifyRun, per_split: list[dict[str, dict[str, Any]]], *, mode: dict[str, Any]) -> dict[str, Any]:
    """The evaluation result: deskroute's figures at the top level, baselines under ``baselines``."""
    ours = summarise([s["deskroute"] for s in per_split])
    result: dict[str, Any] = {
        **mode,
        "label": run.train.label_column,
        "text_columns": list(run.train.text_columns),
        "n_labels": len(set(run.train.labelled())),
        "target_precision": TARGET_PRECISION,
        "encoder_model_id": run.encoder_model_id,
        **ours,
        "baselines": {name: summarise([s[name] for s in per_split]) for name in per_split[0] if name != "deskroute"},
        "splits": [
            {
                name: {k: v for k, v in figures.items() if k not in ("per_class", "by_language")}
                for name, figures in s.items()
            }
            for s in per_split
        ],
    }
    return result


_ROWS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "accuracy", "percent"),
    ("macro_f1", "macro-F1", "ratio"),
    ("top3_accuracy", "top-3 accuracy", "percent"),
    ("ece", "calibration error (ECE)", "ratio"),
    (COVERAGE_KEY, "routable at 90% precision", "percent"),
    ("auto_coverage", "routed by own threshold", "percent"),
    ("auto_precision", "  precision of those", "percent"),
    ("train_seconds", "training time", "seconds"),
    ("predict_per_second", "predictions per second", "rate"),
)
_PER_LABEL_ROWS = 25


def _cell(figures: dict[str, Any], key: str, kind: str) -> str:
    value = figures.get(key)
    if value is None:
        return "—"
    std = figures.get(f"{key}_std")
    if kind == "percent":
        text = f"{100 * value:.1f}%"
        return text + (f" ± {100 * std:.1f}" if std is not None else "")
    if kind == "ratio":
        return f"{value:.3f}" + (f" ± {std:.3f}" if std is not None else "")
    if kind == "seconds":
        return f"{value:.1f} s" + (f" ± {std:.1f}" if std is not None else "")
    return f"{value:,.0f}"


def render(result: dict[str, Any]) -> Any:
    """A readable table of the result: deskroute beside each baseline, then per-label figures."""
    from rich.console import Group
    from rich.table import Table

    if result["mode"] == "cv":
        how = f"{result['folds']}-fold cross-validation × {result['repeats']} (mean ± std)"
    else:
        how = f"test file {result['test_file']}"
    title = (
        f"'{result['label']}' from {', '.join(result['text_columns'])} — {result['n_labels']} labels, "
        f"{round(result['n_train'])} train / {round(result['n_test'])} test tickets, {how}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("")
    names = ["deskroute", *result["baselines"]]
    for name in names:
        table.add_column(name if name == "deskroute" else f"{name} baseline", justify="right")
    for key, caption, kind in _ROWS:
        cells = [_cell(result, key, kind)] + [_cell(result["baselines"][b], key, kind) for b in result["baselines"]]
        if all(c == "—" for c in cells):
            continue
        table.add_row(caption, *cells)

    per_label = Table(title="deskroute per label", title_justify="left")
    for column in ("label", "precision", "recall", "F1", "support"):
        per_label.add_column(column, justify="left" if column == "label" else "right")
    rows = sorted(result["per_class"].items(), key=lambda item: item[1]["f1"])
    note = ""
    if len(rows) > _PER_LABEL_ROWS:
        note = f"(the {_PER_LABEL_ROWS} weakest of {len(rows)} labels by F1; all are in the JSON report)"
        rows = rows[:_PER_LABEL_ROWS]
    else:
        rows = sorted(rows, key=lambda item: -item[1]["support"])
    for name, figures in rows:
        per_label.add_row(
            name,
            f"{figures['precision']:.2f}",
            f"{figures['recall']:.2f}",
            f"{figures['f1']:.2f}",
            str(figures["support"]),
        )
    encoding = result.get("encoding", {})
    languages = _language_table(result)
    footer = (
        f"embeddings: {encoding.get('model_id')} — {encoding.get('texts')} texts in {encoding.get('seconds')} s "
        f"({encoding.get('cache_hits')} from the cache); training and prediction figures exclude encoding"
    )
    parts: list[Any] = [table, per_label] + ([languages] if languages is not None else [])
    if note:
        parts.append(note)
    parts.append(footer)
    return Group(*parts)


def _language_table(result: dict[str, Any]) -> Any:
    """Accuracy by detected language, deskroute beside each baseline; None when there is one language only."""
    from rich.table import Table

    ours = result.get("per_language") or {}
    if len(ours) < 2:
        return None
    table = Table(title="accuracy by detected language", title_justify="left")
    table.add_column("language")
    table.add_column("tickets", justify="right")
    table.add_column("deskroute", justify="right")
    for name in result["baselines"]:
        table.add_column(f"{name} baseline", justify="right")
    for code, figures in ours.items():
        cells = [_cell(figures, "accuracy", "percent")]
        cells += [
            _cell(b.get("per_language", {}).get(code, {}), "accuracy", "percent") for b in result["baselines"].values()
        ]
        table.add_row(code, str(figures["support"]), *cells)
    return table
