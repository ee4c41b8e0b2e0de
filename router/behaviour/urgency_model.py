"""Behaviour-aware urgency: the text priority model's probabilities, stacked with who is writing.

The text model reads the words; this model reads its calibrated probabilities together with the customer's
behaviour features and churn risk, so an angry repeat contact from a high-value, at-risk customer can rank
above the same words from a new, low-value one. It takes the text model's probability matrix as input, so any
text model (the project's own, or a plain TF-IDF + logistic regression) can sit beneath it.

The stacker reads the log text probabilities and the encoded features; see :class:`UrgencyModel` for how it is
chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from connectors import PRIORITIES, CustomerHistory, Ticket
from router.behaviour import FeatureSchema, FeatureValue, baseline_preprocessor, behaviour_features
from router.behaviour.reasons import describe
from router.store.model_registry import load_folder_model, save_folder_model

Stacker = Literal["auto", "boosting", "linear"]
# Where the saved model lives under the models folder, and the text model (``text/priority``) it stacks on.
URGENCY_FOLDER = "urgency"
TEXT_TARGET = "priority"
MODEL_FILE = "urgency.skops"
METADATA_FILE = "urgency.json"
TRUSTED_TYPES: list[str] = [
    "numpy.dtype",  # the linear stacker's one-hot encoder keeps its output dtype
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]
_FLOOR = 1e-4
# What says "who is writing" for urgency: value, repeat contact, recent dissatisfaction and drift. A short list
# keeps the stacker from fitting noise in the rest of the behaviour features.
URGENCY_FEATURES: tuple[str, ...] = (
    "tickets_7d",
    "tickets_30d",
    "customer_replies_7d",
    "days_since_last_ticket",
    "bad_ratings_90d",
    "last_rating",
    "escalated_tickets_90d",
    "reopened_tickets_90d",
    "usage_trend",
    "logins_30d",
    "plan",
    "mrr",
)  # text probabilities are clipped before the log so a confident text model stays finite


def without_ticket(history: CustomerHistory, ticket: Ticket) -> CustomerHistory:
    """The history minus ``ticket`` and its comments and ratings: what is known about its writer.

    Leaving the ticket out keeps its own priority, the label, from reaching its features (or the churn risk
    computed for it).
    """
    return CustomerHistory(
        history.customer,
        tuple(t for t in history.tickets if t.external_id != ticket.external_id),
        tuple(c for c in history.comments if c.ticket_external_id != ticket.external_id),
        tuple(r for r in history.ratings if r.ticket_external_id != ticket.external_id),
        history.events,
    )


def urgency_features(
    history: CustomerHistory, ticket: Ticket, churn_risk: float | None = None
) -> dict[str, FeatureValue]:
    """The requester's behaviour features when ``ticket`` arrived (the ticket itself left out), plus churn risk."""
    features = behaviour_features(without_ticket(history, ticket), ticket.created_at)
    chosen: dict[str, FeatureValue] = {name: features[name] for name in URGENCY_FEATURES}
    chosen["churn_risk"] = churn_risk
    return chosen


def nobody_features() -> dict[str, FeatureValue]:
    """The urgency features of a writer nothing is known about: the baseline the reasons are measured from."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return urgency_features(CustomerHistory(), Ticket(source="-", external_id="-", created_at=epoch, updated_at=epoch))


def urgency_score(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Expected priority level per ticket (0 = low ... 3 = urgent): the order to work tickets in."""
    levels = np.asarray([PRIORITIES.index(c) if c in PRIORITIES else 0 for c in classes], dtype=float)
    return np.asarray(proba, dtype=float) @ levels


def _priority_order(label: str) -> tuple[int, str]:
    return (PRIORITIES.index(label), label) if label in PRIORITIES else (len(PRIORITIES), label)


class UrgencyModel:
    """Priority from the text model's probabilities plus behaviour features; learned state ends in ``_``.

    Two stackers compete, chosen by cross-validated log-loss on the training tickets (``stacker="auto"``):
    calibrated gradient boosting, which learns interactions such as "high value and at risk", and multinomial
    logistic regression, which cannot but never does worse than the words when nothing is known about the
    writer (on real tickets without customer history, boosting lost accuracy re-learning the text model's
    probabilities, the linear stacker did not).
    """

    def __init__(
        self,
        *,
        stacker: Stacker = "auto",
        learning_rate: float = 0.05,
        max_iter: int = 150,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        folds: int = 3,
        random_state: int = 0,
    ):
        self.stacker = stacker
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.folds = folds
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "stacker": self.stacker,
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "folds": self.folds,
            "random_state": self.random_state,
        }

    def _inputs(
        self, text_proba: np.ndarray, text_classes: Sequence[str], features: Sequence[Mapping[str, FeatureValue]]
    ) -> np.ndarray:
        proba = np.asarray(text_proba, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(text_classes):
            raise ValueError(
                f"text probabilities have shape {proba.shape}; expected (tickets, {len(text_classes)} classes)"
            )
        if len(features) != proba.shape[0]:
            raise ValueError(f"{proba.shape[0]} rows of text probabilities but {len(features)} feature rows")
        if hasattr(self, "text_classes_"):
            missing = [c for c in self.text_classes_ if c not in text_classes]
            if missing:
                raise ValueError(f"the text model lacks class(es) {missing} this urgency model was trained with")
            proba = proba[:, [list(text_classes).index(c) for c in self.text_classes_]]
        text = np.log(np.clip(proba, _FLOOR, 1.0))
        return np.hstack([text, self.schema_.encode(features)])

    def _candidate(self, name: str, n_text: int, folds: int) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        if name == "linear":
            return make_pipeline(
                baseline_preprocessor(self.schema_, passthrough=n_text), LogisticRegression(max_iter=5000)
            )
        booster = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            random_state=self.random_state,
        )
        return CalibratedClassifierCV(booster, method="sigmoid", cv=folds)

    def fit(
        self,
        text_proba: np.ndarray,
        text_classes: Sequence[str],
        features: Sequence[Mapping[str, FeatureValue]],
        labels: Sequence[str] | np.ndarray,
        groups: Sequence[str] | None = None,
    ) -> UrgencyModel:
        """Fit on out-of-fold text probabilities (columns ``text_classes``), feature rows and priority labels.

        ``groups`` (the requester of each ticket) keeps one customer's tickets in one fold while choosing the
        stacker, so it is not chosen for memorising customers.
        """
        from sklearn.metrics import log_loss
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict

        y = np.asarray([str(label) for label in labels])
        present, counts = np.unique(y, return_counts=True)
        if len(present) < 2:
            raise ValueError("the priority labels have one class only; urgency needs at least two")
        self.schema_ = FeatureSchema.infer(features)
        X = self._inputs(text_proba, text_classes, features)
        self.text_classes_ = list(text_classes)
        folds = max(2, int(min(self.folds, counts.min())))
        self.selection_log_loss_: dict[str, float] = {}
        if self.stacker == "auto":
            if groups is not None:
                splitter: Any = StratifiedGroupKFold(folds, shuffle=True, random_state=self.random_state)
                splits = list(splitter.split(X, y, list(groups)))
            else:
                splits = list(StratifiedKFold(folds, shuffle=True, random_state=self.random_state).split(X, y))
            for name in ("linear", "boosting"):
                held_out = cross_val_predict(
                    self._candidate(name, len(text_classes), folds), X, y, cv=splits, method="predict_proba"
                )
                self.selection_log_loss_[name] = float(log_loss(y, held_out, labels=present))
            self.stacker_ = min(self.selection_log_loss_, key=lambda n: self.selection_log_loss_[n])
        else:
            self.stacker_ = self.stacker
        self.estimator_ = self._candidate(self.stacker_, len(text_classes), folds).fit(X, y)
        self.classes_ = sorted((str(c) for c in self.estimator_.classes_), key=_priority_order)
        return self

    def predict_proba(
        self, text_proba: np.ndarray, text_classes: Sequence[str], features: Sequence[Mapping[str, FeatureValue]]
    ) -> np.ndarray:
        """Calibrated probabilities per ticket, columns in ``classes_`` (low → urgent) order."""
        if not hasattr(self, "estimator_"):
            raise RuntimeError("the urgency model is not fitted; call fit() or load a saved model")
        raw = self.estimator_.predict_proba(self._inputs(text_proba, text_classes, features))
        order = [list(map(str, self.estimator_.classes_)).index(c) for c in self.classes_]
        return np.asarray(raw)[:, order]

    def predict(
        self, text_proba: np.ndarray, text_classes: Sequence[str], features: Sequence[Mapping[str, FeatureValue]]
    ) -> list[tuple[str, float]]:
        """The most likely priority per ticket with its probability (``Signals.urgency`` and its probability)."""
        proba = self.predict_proba(text_proba, text_classes, features)
        best = proba.argmax(axis=1)
        return [(self.classes_[b], float(proba[i, b])) for i, b in enumerate(best)]

    def save(self, directory: Path, **metadata: Any) -> dict[str, Any]:
        """Write ``urgency.skops`` (no pickle) and ``urgency.json`` to a folder."""
        created = datetime.now(UTC)
        meta = {
            "kind": "urgency",
            "version": f"urgency-{created:%Y%m%d%H%M%S}",
            "created": created.isoformat(),
            "params": self.get_params(),
            "stacker": self.stacker_,
            "selection_log_loss": self.selection_log_loss_,
            "classes": self.classes_,
            "text_classes": self.text_classes_,
            "features": self.schema_.to_json(),
            **metadata,
        }
        return save_folder_model(
            directory,
            model_file=MODEL_FILE,
            metadata_file=METADATA_FILE,
            parts={"stacker": self.estimator_},
            metadata=meta,
        )

    @classmethod
    def load(cls, directory: Path) -> tuple[UrgencyModel, dict[str, Any]]:
        """A saved urgency model and its metadata; refuses any type outside ``TRUSTED_TYPES``."""
        parts, meta = load_folder_model(
            directory,
            model_file=MODEL_FILE,
            metadata_file=METADATA_FILE,
            trusted=TRUSTED_TYPES,
            what="urgency model",
        )
        model = cls(**{k: v for k, v in meta.get("params", {}).items() if k in cls().get_params()})
        model.estimator_ = parts["stacker"]
        model.stacker_ = str(meta["stacker"])
        model.selection_log_loss_ = dict(meta.get("selection_log_loss", {}))
        model.schema_ = FeatureSchema.from_json(meta["features"])
        model.classes_ = list(meta["classes"])
        model.text_classes_ = list(meta["text_classes"])
        return model, meta


@dataclass(frozen=True)
class UrgencyExplanation:
    """Behaviour-aware urgency for one ticket beside what the words alone said, and why they differ."""

    priority: str
    probability: float
    text_priority: str
    reasons: list[str]

    def summary(self) -> str:
        """One line for the agent: "text says normal; raised to high: 3 tickets in 7 days, ..."."""
        said = f"text says {self.text_priority}"
        if self.priority == self.text_priority:
            verb = "kept at"
        elif _priority_order(self.priority) > _priority_order(self.text_priority):
            verb = "raised to"
        else:
            verb = "lowered to"
        because = f": {', '.join(self.reasons)}" if self.reasons else ""
        return f"{said}; {verb} {self.priority}{because}"


def _churn_words(value: FeatureValue) -> str:
    return "churn risk unknown" if value is None else f"churn risk {float(value):.0%}"


def explain_urgency(
    model: UrgencyModel,
    text_proba: Sequence[float],
    text_classes: Sequence[str],
    text_priority: str,
    features: Mapping[str, FeatureValue],
    *,
    top: int = 3,
    min_shift: float = 0.05,
) -> UrgencyExplanation:
    """The model's priority for one ticket, with the features that moved it from the words' level.

    Each feature is set back to what it is for a writer nothing is known about, one at a time; its reason is
    how far the expected level (0 low ... 3 urgent) falls or rises without it. The features that moved the
    level the way the decision went, by at least ``min_shift``, are the reasons, largest first. This reads any
    stacker the same way (linear or boosted), so the words shown are what the saved model does.
    """
    names = [n for n in model.schema_.names if n in features]
    baseline = nobody_features()
    rows = [dict(features)]
    for name in names:
        rows.append({**features, name: baseline.get(name)})
    proba_in = np.repeat(np.asarray([text_proba], dtype=float), len(rows), axis=0)
    proba = model.predict_proba(proba_in, text_classes, rows)
    scores = urgency_score(proba, model.classes_)
    best = int(proba[0].argmax())
    priority = model.classes_[best]
    direction = 1.0 if _priority_order(priority) >= _priority_order(text_priority) else -1.0
    shifts = sorted(
        ((direction * float(scores[0] - scores[i + 1]), name) for i, name in enumerate(names)), reverse=True
    )
    specs = {s.name: s for s in model.schema_.specs}
    reasons = [
        _churn_words(features[name]) if name == "churn_risk" else describe(specs[name], features[name])
        for shift, name in shifts[:top]
        if shift >= min_shift
    ]
    return UrgencyExplanation(priority, float(proba[0, best]), text_priority, reasons)
