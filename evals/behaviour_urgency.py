"""Behaviour-aware urgency against text-only urgency, on synthetic histories.

No shared dataset joins tickets to the customers who wrote them, so this runs on ``evals.synthetic``: a
demonstration that the stacking uses who is writing where the support policy does, not a measure of accuracy
on real tickets. The text model beneath is a plain TF-IDF + logistic regression; every probability the
stacker learns from or is scored on is out-of-fold (nested cross-validation, folds grouped by customer).

Run: ``python -m evals.behaviour_urgency [--customers N] [--days D] [--seed S] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from connectors import CustomerHistory, Ticket, normalise_priority
from evals.synthetic import SyntheticWorld, generate_world, ranking_pair
from router.behaviour import FeatureValue, behaviour_features
from router.behaviour.churn_model import ChurnModel, training_set
from router.behaviour.urgency_model import UrgencyModel, urgency_features, urgency_score, without_ticket

_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
NOTE = "synthetic histories (a fixture with a known process), not a measure of accuracy on real tickets"


def text_model() -> Any:
    """The plain text priority model: TF-IDF words and word pairs into logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(C=4.0, max_iter=2000)
    )


def out_of_fold_text(
    texts: Sequence[str], labels: np.ndarray, groups: Sequence[str], folds: int, seed: int
) -> np.ndarray:
    """Text probabilities for every ticket from text models that never saw it (columns: sorted classes)."""
    from sklearn.model_selection import StratifiedGroupKFold

    classes = sorted(set(labels.tolist()))
    proba = np.zeros((len(texts), len(classes)))
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(texts, labels, list(groups)):
        model = text_model().fit([texts[i] for i in train], labels[train])
        columns = [classes.index(c) for c in model.classes_]
        proba[np.ix_(test, columns)] = model.predict_proba([texts[i] for i in test])
    return proba


def churn_model_for(world: SyntheticWorld, seed: int) -> ChurnModel:
    """A churn model trained on a separate synthetic world, as production would have one trained earlier."""
    other = generate_world(len(world.customers), (world.end - world.start).days, seed=seed + 1000, source=world.source)
    dataset = training_set(other.histories())
    return ChurnModel(max_iter=100).fit(dataset.rows, dataset.labels, groups=dataset.customers)


def _scores(labels: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, average="macro")),
        "log_loss": float(log_loss(labels, np.clip(proba, 1e-6, 1.0), labels=list(classes))),
    }


def nested_cv(
    texts: Sequence[str],
    labels: np.ndarray,
    groups: Sequence[str],
    features: Sequence[dict[str, FeatureValue]],
    classes: list[str],
    folds: int,
    seed: int,
    params: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Out-of-fold text-only and behaviour-aware probabilities (columns ``classes``), folds grouped by customer.

    In each outer fold the stacker learns from inner out-of-fold text probabilities of the training part, and
    is scored on text probabilities from a text model fitted on the whole training part.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    text_only = np.zeros((len(texts), len(classes)))
    stacked = np.zeros((len(texts), len(classes)))
    chosen: list[str] = []
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(texts, labels, list(groups)):
        train_texts = [texts[i] for i in train]
        inner = out_of_fold_text(train_texts, labels[train], [groups[i] for i in train], folds, seed)
        outer_text = text_model().fit(train_texts, labels[train])
        test_text = np.zeros((len(test), len(classes)))
        test_text[:, [classes.index(c) for c in outer_text.classes_]] = outer_text.predict_proba(
            [texts[i] for i in test]
        )
        text_only[test] = test_text
        urgency = UrgencyModel(**(params or {})).fit(
            inner, classes, [features[i] for i in train], labels[train], groups=[groups[i] for i in train]
        )
        proba = urgency.predict_proba(test_text, classes, [features[i] for i in test])
        stacked[np.ix_(test, [classes.index(c) for c in urgency.classes_])] = proba
        chosen.append(urgency.stacker_)
    return text_only, stacked, chosen


def without_history(path: Path, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Real tickets whose writers are unknown: the stacker must not do worse than the text model alone."""
    from connectors.files import read_rows

    texts: list[str] = []
    labels: list[str] = []
    for _, row in read_rows(path):
        priority = normalise_priority(row.get("priority"))
        if priority is not None:
            texts.append(f"{row.get('subject') or ''}\n{row.get('body') or ''}".strip())
            labels.append(priority)
    y = np.asarray(labels)
    classes: list[str] = sorted(set(labels))
    nobody = urgency_features(
        CustomerHistory(), Ticket(source="file", external_id="x", created_at=_EPOCH, updated_at=_EPOCH)
    )
    features = [dict(nobody) for _ in texts]
    text_only, stacked, chosen = nested_cv(
        texts, y, [str(i) for i in range(len(texts))], features, classes, folds, seed
    )
    return {
        "file": str(path),
        "tickets": len(texts),
        "folds": folds,
        "text_only": _scores(y, text_only, classes),
        "behaviour_aware_without_history": _scores(y, stacked, classes),
        "stacker_per_fold": chosen,
    }


def compare(
    customers: int = 400, days: int = 300, seed: int = 0, folds: int = 5, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Text-only vs behaviour-aware urgency on one synthetic world, plus the same-words ranking check.

    ``params`` go to :class:`UrgencyModel` (tests pass smaller models).
    """
    started = time.perf_counter()
    world = generate_world(customers, days, seed=seed)
    churn = churn_model_for(world, seed)
    histories = world.histories()
    tickets = sorted(world.tickets, key=lambda t: t.created_at)
    labels = np.asarray([t.priority for t in tickets])
    groups = [t.requester or "" for t in tickets]
    texts = [t.text for t in tickets]
    features: list[dict[str, FeatureValue]] = []
    for t in tickets:
        history = histories[t.requester or ""]
        risk = float(churn.risk([behaviour_features(without_ticket(history, t), t.created_at)])[0])
        features.append(urgency_features(history, t, churn_risk=risk))
    classes = sorted(set(labels.tolist()))

    text_only, stacked, chosen = nested_cv(texts, labels, groups, features, classes, folds, seed, params)

    raised = np.asarray([t.external_id in world.raised_for_customer for t in tickets])
    report: dict[str, Any] = {
        "note": NOTE,
        "world": {"customers": customers, "days": days, "seed": seed, "tickets": len(tickets)},
        "folds": folds,
        "text_only": _scores(labels, text_only, classes),
        "behaviour_aware": _scores(labels, stacked, classes),
        "stacker_per_fold": chosen,
        "raised_for_customer": {
            "tickets": int(raised.sum()),
            "text_only_accuracy": float((np.asarray(classes)[text_only[raised].argmax(1)] == labels[raised]).mean()),
            "behaviour_aware_accuracy": float(
                (np.asarray(classes)[stacked[raised].argmax(1)] == labels[raised]).mean()
            ),
        },
    }
    report["ranking"] = ranking_check(world, churn, tickets, labels, features, classes, params)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def ranking_check(
    world: SyntheticWorld,
    churn: ChurnModel,
    tickets: Sequence[Any],
    labels: np.ndarray,
    features: list[dict[str, FeatureValue]],
    classes: list[str],
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Models fitted on the whole world score the same words from a high-value at-risk and a new small customer."""
    texts = [t.text for t in tickets]
    groups = [t.requester or "" for t in tickets]
    text = text_model().fit(texts, labels)
    urgency = UrgencyModel(**(params or {})).fit(
        out_of_fold_text(texts, labels, groups, 5, 0), classes, features, labels, groups=groups
    )
    history_a, ticket_a, history_b, ticket_b = ranking_pair(world.end)
    rows = []
    for history, ticket in ((history_a, ticket_a), (history_b, ticket_b)):
        risk = float(churn.risk([behaviour_features(without_ticket(history, ticket), ticket.created_at)])[0])
        rows.append(urgency_features(history, ticket, churn_risk=risk))
    text_proba = np.zeros((2, len(classes)))
    text_proba[:, [classes.index(c) for c in text.classes_]] = text.predict_proba([ticket_a.text, ticket_b.text])
    proba = urgency.predict_proba(text_proba, classes, rows)
    text_scores = urgency_score(text_proba, classes)
    scores = urgency_score(proba, urgency.classes_)
    return {
        "words": ticket_a.text,
        "text_only_score": [round(float(s), 4) for s in text_scores],
        "behaviour_aware_score": [round(float(s), 4) for s in scores],
        "behaviour_aware_priority": [urgency.classes_[int(i)] for i in proba.argmax(1)],
        "churn_risk": [round(float(r["churn_risk"] or 0.0), 4) for r in rows],
        "customers": [history_a.customer.external_id if history_a.customer else "", "demo-new-small"],
        "high_value_ranks_first": bool(scores[0] > scores[1]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--tickets", type=Path, default=None, help="also check real tickets (subject, body, priority) with no history"
    )
    args = parser.parse_args(argv)
    report = compare(args.customers, args.days, args.seed, args.folds)
    if args.tickets is not None:
        report["real_tickets_without_history"] = without_history(args.tickets, args.folds, args.seed)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
