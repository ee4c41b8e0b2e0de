"""``deskroute eval churn``: the churn model against baselines on a labelled customer table.

Either K-fold cross-validation on the training file or one fit on it scored on a test file. Everything the
model learns (feature coding, calibration choice, trees) is fitted on training rows only; the logistic
regression baseline sees the same encoded features and the same folds, fitted in the same run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from router.behaviour import CustomerTable, churn_metrics, read_customer_table
from router.behaviour.churn_model import ChurnModel, ChurnReason, cross_validate, logistic_baseline
from router.store.model_registry import library_versions


def top_reasons(risk: np.ndarray, reasons: Sequence[Sequence[ChurnReason]], share: float = 0.1) -> list[dict[str, Any]]:
    """The most frequent reasons among the riskiest ``share`` of customers, by feature.

    Each comes with the sentence where that feature pushed hardest, as an example.
    """
    riskiest = np.argsort(-np.asarray(risk), kind="stable")[: max(1, round(len(risk) * share))]
    counts: Counter[str] = Counter()
    pushes: dict[str, list[float]] = {}
    example: dict[str, ChurnReason] = {}
    for i in riskiest:
        for reason in reasons[i]:
            counts[reason.feature] += 1
            pushes.setdefault(reason.feature, []).append(reason.contribution)
            if reason.feature not in example or reason.contribution > example[reason.feature].contribution:
                example[reason.feature] = reason
    return [
        {
            "feature": feature,
            "customers": n,
            "share": round(n / len(riskiest), 4),
            "mean_contribution": round(float(np.mean(pushes[feature])), 4),
            "example": example[feature].text,
        }
        for feature, n in counts.most_common(10)
    ]


def _riskiest(
    table: CustomerTable, risk: np.ndarray, reasons: Sequence[Sequence[ChurnReason]], labels: np.ndarray, n: int = 5
) -> list[dict[str, Any]]:
    order = np.argsort(-risk, kind="stable")[:n]
    return [
        {
            "id": table.ids[i],
            "line": table.lines[i],
            "risk": round(float(risk[i]), 4),
            "churned": bool(labels[i]),
            "reasons": [r.text for r in reasons[i]],
        }
        for i in order
    ]


def evaluate_churn(
    train: Path,
    *,
    label: str,
    test: Path | None = None,
    cv: int | None = None,
    id_column: str | None = None,
    drop: Sequence[str] = (),
    params: dict[str, Any] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate the churn model and its baselines; returns the report (see the CLI's ``--json``)."""
    if (test is None) == (cv is None):
        raise ValueError("give exactly one of --test FILE or --cv K")
    if cv is not None and cv < 2:
        raise ValueError(f"--cv must be at least 2, not {cv}")
    started = time.perf_counter()
    table = read_customer_table(train, label=label, id_column=id_column, drop=drop)
    assert table.labels is not None  # read with a label
    report: dict[str, Any] = {
        "task": "churn",
        "train": str(train),
        "label": label,
        "id": id_column,
        "dropped": list(drop),
        "features": table.columns,
        "categorical": [c for c in table.columns if table.kinds[c] == "categorical"],
        "model": "HistGradientBoostingClassifier + CalibratedClassifierCV",
        "params": ChurnModel(**(params or {})).get_params(),
        "attribution": "SHAP TreeExplainer",
    }
    if cv is not None:
        validation = cross_validate(
            table.rows,
            table.labels,
            folds=cv,
            params=params,
            on_fold=(lambda k: on_step(f"fold {k}/{cv}")) if on_step else None,
        )
        labels, risk, baseline, prior = (
            validation.labels,
            validation.risk,
            validation.baseline_risk,
            validation.prior_risk,
        )
        reasons = validation.reasons
        evaluated = table
        report |= {
            "mode": f"{cv}-fold cross-validation",
            "cv": cv,
            "n_train": len(table),
            "n_test": len(table),
            "folds": validation.folds,
            "fold_roc_auc_mean": float(np.mean([f["roc_auc"] for f in validation.folds])),
            "fold_roc_auc_std": float(np.std([f["roc_auc"] for f in validation.folds])),
            "calibration": dict(Counter(f["calibration"] for f in validation.folds)),
        }
    else:
        assert test is not None
        evaluated = read_customer_table(test, label=label, id_column=id_column, drop=drop, expected=table.kinds)
        assert evaluated.labels is not None
        model = ChurnModel(**(params or {})).fit(table.rows, table.labels)
        if on_step:
            on_step("model fitted")
        labels = evaluated.labels
        risk = model.risk(evaluated.rows)
        reasons = model.reasons(evaluated.rows)
        linear = logistic_baseline(model.schema_).fit(model.schema_.encode(table.rows), table.labels)
        baseline = linear.predict_proba(model.schema_.encode(evaluated.rows))[:, 1]
        prior = np.full(len(labels), float(table.labels.mean()))
        report |= {
            "mode": "test file",
            "test": str(test),
            "n_train": len(table),
            "n_test": len(evaluated),
            "calibration": {model.calibration_: 1},
        }
    report |= churn_metrics(labels, risk)
    report["positive_rate"] = float(labels.mean())
    report["baselines"] = {
        "logistic_regression": churn_metrics(labels, baseline),
        "prior": {**churn_metrics(labels, prior), "note": "the training churn rate for everyone"},
    }
    report["top_reasons"] = top_reasons(risk, reasons)
    report["riskiest"] = _riskiest(evaluated, risk, reasons, labels)
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["libraries"] = library_versions()
    return report
