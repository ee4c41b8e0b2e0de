"""Churn risk with its reasons: calibrated gradient boosting over customer features.

The model is scikit-learn's histogram gradient boosting, calibrated with ``CalibratedClassifierCV``; whether
the calibration map is sigmoid (Platt) or isotonic is chosen by cross-validated Brier score on the training
data. Reasons come from SHAP's tree explainer (exact Shapley values of the trees' log-odds, averaged over the
calibration ensemble): the features that pushed this customer's risk up the most, in words.

It trains on any rows of features: a labelled customer table (``router.behaviour.read_customer_table``) or the
store's histories (:func:`store_training_set`), where a ``cancellation`` event is the label.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlmodel import Session

from connectors import Customer, CustomerHistory, Ticket
from connectors.records import as_utc
from router.behaviour import (
    FEATURE_NAMES,
    FeatureSchema,
    FeatureValue,
    baseline_preprocessor,
    behaviour_features,
    churn_metrics,
    describe,
    load_histories,
)
from router.behaviour.history import writer_history
from router.behaviour.identity import IdentityLinks
from router.store.model_registry import load_folder_model, save_folder_model

Calibration = Literal["auto", "sigmoid", "isotonic"]
MODEL_FILE = "churn.skops"
METADATA_FILE = "churn.json"
ATTRIBUTION = "SHAP TreeExplainer (exact tree Shapley values of the log-odds), averaged over the calibration folds"

# The types beyond skops' own safe defaults (public scikit-learn estimators, numpy) that a saved churn model
# holds; loading refuses any other type, so a file cannot smuggle in code.
TRUSTED_TYPES: list[str] = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


@dataclass(frozen=True)
class ChurnReason:
    """One feature that pushed a customer's risk up: its value, its push (log-odds) and the sentence."""

    feature: str
    value: FeatureValue
    contribution: float
    text: str


@dataclass(frozen=True)
class ChurnAssessment:
    """A customer's churn risk at a time, with the reasons and the features it was computed from."""

    risk: float
    reasons: list[ChurnReason]
    features: dict[str, FeatureValue]

    def as_signals(self) -> dict[str, Any]:
        """The ``Signals`` fields this fills: ``churn_risk``, ``churn_reasons`` (sentences) and ``features``."""
        return {"churn_risk": self.risk, "churn_reasons": [r.text for r in self.reasons], "features": self.features}


class ChurnModel:
    """Calibrated churn probability from customer features, with per-customer reasons.

    Parameters are the gradient-boosting ones, the calibration (``auto`` picks sigmoid or isotonic by
    cross-validated Brier score) and the folds used for calibration. Learned state ends in ``_``.

    The defaults came out of repeated 5-fold cross-validation on a telecom churn table: deeper trees, more
    or slower boosting, L2 regularisation and feature subsampling all did no better.
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_features: float = 1.0,
        calibration: Calibration = "auto",
        folds: int = 5,
        random_state: int = 0,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.calibration = calibration
        self.folds = folds
        self.random_state = random_state
        self._explainers: list[Any] | None = None

    def get_params(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "max_features": self.max_features,
            "calibration": self.calibration,
            "folds": self.folds,
            "random_state": self.random_state,
        }

    def _booster(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_features=self.max_features,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _splits(self, X: np.ndarray, y: np.ndarray, groups: Sequence[str] | None) -> list[tuple[Any, Any]]:
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        smallest = int(min(np.bincount(y, minlength=2)))
        folds = min(self.folds, smallest)
        if folds < 2:
            raise ValueError(
                f"only {smallest} customer(s) in the smaller class; calibration needs at least 2 churned "
                "and 2 retained customers"
            )
        if groups is not None:
            splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            return list(splitter.split(X, y, groups=list(groups)))
        return list(StratifiedKFold(folds, shuffle=True, random_state=self.random_state).split(X, y))

    def fit(
        self,
        rows: Sequence[Mapping[str, FeatureValue]],
        labels: Sequence[int] | np.ndarray,
        groups: Sequence[str] | None = None,
    ) -> ChurnModel:
        """Fit on feature rows and 0/1 labels; ``groups`` keeps one customer's rows in one fold."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import cross_val_predict

        y = np.asarray(labels, dtype=int)
        if len(y) != len(rows):
            raise ValueError(f"{len(rows)} rows but {len(y)} labels")
        if len(np.unique(y)) < 2:
            raise ValueError("the labels have one class only; churn needs customers who churned and who stayed")
        self.schema_ = FeatureSchema.infer(rows)
        if not self.schema_.specs:
            raise ValueError("no feature has a value for any customer; there is nothing to learn churn from")
        X = self.schema_.encode(rows)
        splits = self._splits(X, y, groups)
        if self.calibration == "auto":
            scores = cross_val_predict(self._booster(), X, y, cv=splits, method="decision_function")
            self.calibration_briers_ = {m: _calibrated_brier(scores, y, splits, m) for m in ("sigmoid", "isotonic")}
            self.calibration_ = min(self.calibration_briers_, key=lambda m: self.calibration_briers_[m])
        else:
            self.calibration_briers_ = {}
            self.calibration_ = self.calibration
        self.calibrated_ = CalibratedClassifierCV(self._booster(), method=self.calibration_, cv=splits)
        self.calibrated_.fit(X, y)
        self.n_train_ = len(y)
        self.positive_rate_ = float(y.mean())
        self.fingerprint_ = _fingerprint(self.schema_.names, X, y)
        self._explainers = None
        return self

    def _matrix(self, rows: Sequence[Mapping[str, FeatureValue]]) -> np.ndarray:
        if not hasattr(self, "calibrated_"):
            raise RuntimeError("the churn model is not fitted; call fit() or load a saved model")
        return self.schema_.encode(rows)

    def predict_proba(self, rows: Sequence[Mapping[str, FeatureValue]]) -> np.ndarray:
        """Calibrated (stays, churns) probabilities, one row per customer."""
        return np.asarray(self.calibrated_.predict_proba(self._matrix(rows)))

    def risk(self, rows: Sequence[Mapping[str, FeatureValue]]) -> np.ndarray:
        """Calibrated probability of churn per customer."""
        return self.predict_proba(rows)[:, 1]

    def contributions(self, rows: Sequence[Mapping[str, FeatureValue]]) -> np.ndarray:
        """SHAP values (log-odds) per customer and feature, averaged over the calibration folds' trees."""
        X = self._matrix(rows)
        if self._explainers is None:
            with warnings.catch_warnings():  # shap's plotting colours warn about matplotlib on import
                warnings.simplefilter("ignore")
                import shap  # slow to import: only when reasons are asked for

            self._explainers = [shap.TreeExplainer(c.estimator) for c in self.calibrated_.calibrated_classifiers_]
        values = [np.asarray(e.shap_values(X, check_additivity=False)) for e in self._explainers]
        return np.mean(values, axis=0).reshape(X.shape)

    def reasons(
        self, rows: Sequence[Mapping[str, FeatureValue]], top: int = 3, min_contribution: float = 0.05
    ) -> list[list[ChurnReason]]:
        """Per customer, up to ``top`` features that pushed the risk up (by at least ``min_contribution``)."""
        X = self._matrix(rows)
        shap_values = self.contributions(rows)
        found: list[list[ChurnReason]] = []
        for i in range(len(rows)):
            order = np.argsort(-shap_values[i])
            mine = []
            for j in order[:top]:
                push = float(shap_values[i, j])
                if push < min_contribution:
                    break
                spec = self.schema_.specs[j]
                value = spec.value_of(float(X[i, j]))
                mine.append(ChurnReason(spec.name, value, round(push, 4), describe(spec, value)))
            found.append(mine)
        return found

    def version(self, created: datetime) -> str:
        return f"churn-{created:%Y%m%d%H%M%S}-{self.fingerprint_[:8]}"

    def save(self, directory: Path, **metadata: Any) -> dict[str, Any]:
        """Write ``churn.skops`` (the fitted estimators, no pickle) and ``churn.json`` (what and how) to a folder."""
        created = datetime.now(UTC)
        meta = {
            "kind": "churn",
            "version": self.version(created),
            "created": created.isoformat(),
            "data_fingerprint": self.fingerprint_,
            "n_train": self.n_train_,
            "positive_rate": self.positive_rate_,
            "params": self.get_params(),
            "calibration": self.calibration_,
            "calibration_brier": self.calibration_briers_,
            "attribution": ATTRIBUTION,
            "features": self.schema_.to_json(),
            **metadata,
        }
        return save_folder_model(
            directory,
            model_file=MODEL_FILE,
            metadata_file=METADATA_FILE,
            parts={"calibrated": self.calibrated_},
            metadata=meta,
        )

    @classmethod
    def load(cls, directory: Path) -> tuple[ChurnModel, dict[str, Any]]:
        """A saved model and its metadata; refuses files that hold any type outside ``TRUSTED_TYPES``."""
        loaded, meta = load_folder_model(
            directory,
            model_file=MODEL_FILE,
            metadata_file=METADATA_FILE,
            trusted=TRUSTED_TYPES,
            what="churn model",
            train_hint="deskroute train --target churn",
        )
        params = {k: v for k, v in meta.get("params", {}).items() if k in cls().get_params()}
        model = cls(**params)
        model.calibrated_ = loaded["calibrated"]
        model.schema_ = FeatureSchema.from_json(meta["features"])
        model.calibration_ = meta["calibration"]
        model.calibration_briers_ = meta.get("calibration_brier", {})
        model.n_train_ = int(meta["n_train"])
        model.positive_rate_ = float(meta["positive_rate"])
        model.fingerprint_ = str(meta["data_fingerprint"])
        return model, meta


def _calibrated_brier(scores: np.ndarray, y: np.ndarray, splits: list[tuple[Any, Any]], method: str) -> float:
    """Brier score of a calibration map fitted and tested across folds of out-of-fold scores."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    squared = np.zeros(len(y))
    for train, test in splits:
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores[train], y[train])
            predicted = iso.predict(scores[test])
        else:
            platt = LogisticRegression(C=1e4).fit(scores[train].reshape(-1, 1), y[train])
            predicted = platt.predict_proba(scores[test].reshape(-1, 1))[:, 1]
        squared[test] = (predicted - y[test]) ** 2
    return float(squared.mean())


def _fingerprint(names: Sequence[str], X: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(list(names)).encode())
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


@dataclass
class ChurnTrainingSet:
    """Feature rows and labels built from the store, one row per customer and snapshot time."""

    rows: list[dict[str, FeatureValue]]
    labels: np.ndarray
    customers: list[str]
    snapshots: list[datetime]
    horizon_days: int
    times: list[datetime] = field(default_factory=list)


def _first_seen(history: CustomerHistory) -> datetime | None:
    times = [t.created_at for t in history.tickets]
    times += [e.occurred_at for e in history.events] + [r.created_at for r in history.ratings]
    if history.customer is not None and history.customer.created_at is not None:
        times.append(history.customer.created_at)
    return min(times) if times else None


def store_training_set(
    session: Session,
    source: str,
    *,
    horizon_days: int = 30,
    snapshots: Sequence[datetime] | None = None,
    max_snapshots: int = 6,
    links: IdentityLinks | None = None,
) -> ChurnTrainingSet:
    """Labelled rows from the store's customers of ``source`` (see :func:`training_set` for the design).

    With ``links``, a customer's product events (a ``cancellation`` among them) count as in their history.
    """
    histories = load_histories(session, source, links=links)
    if not histories:
        raise ValueError(f"no customers in the store for source '{source}'; import customers and events first")
    return training_set(histories, horizon_days=horizon_days, snapshots=snapshots, max_snapshots=max_snapshots)


def training_set(
    histories: Mapping[str, CustomerHistory],
    *,
    horizon_days: int = 30,
    snapshots: Sequence[datetime] | None = None,
    max_snapshots: int = 6,
) -> ChurnTrainingSet:
    """Labelled rows from customer histories, where a customer's first ``cancellation`` event is the churn label.

    The design avoids leakage: at each snapshot time T, every customer who was already known and had not
    cancelled gets features computed at T (nothing later is read) and the label "cancels within
    ``horizon_days`` after T". The model so learns to warn ``horizon_days`` ahead, from the same kind of
    history it sees in production, and never from the cancellation itself or what led up to it afterwards.
    Snapshots default to every ``horizon_days`` going back from the last activity minus the horizon.
    """
    horizon = timedelta(days=horizon_days)
    cancelled: dict[str, datetime] = {}
    last_activity: datetime | None = None
    first_activity: datetime | None = None
    for cid, history in histories.items():
        cancels = [e.occurred_at for e in history.events if e.kind == "cancellation"]
        if cancels:
            cancelled[cid] = min(cancels)
        seen = _first_seen(history)
        dated = [e.occurred_at for e in history.events] + [t.created_at for t in history.tickets]
        if dated:
            last_activity = max([*dated, last_activity] if last_activity else dated)
        if seen is not None:
            first_activity = min(seen, first_activity) if first_activity else seen
    if not cancelled:
        raise ValueError(
            "no customer has a 'cancellation' event, so there is no churn to learn from; "
            "import behaviour events with kind=cancellation"
        )
    if snapshots is None:
        if last_activity is None or first_activity is None:
            raise ValueError("the customers have no dated activity to take snapshots of")
        times_back: list[datetime] = []
        t = last_activity - horizon
        while t - first_activity >= horizon and len(times_back) < max_snapshots:
            times_back.append(t)
            t -= horizon
        snapshots = sorted(times_back)
    snapshots = [as_utc(s) for s in snapshots]
    if not snapshots:
        raise ValueError(f"the history covers less than two horizons ({2 * horizon_days} days) of history")
    rows: list[dict[str, FeatureValue]] = []
    labels: list[int] = []
    customers: list[str] = []
    times: list[datetime] = []
    for at in snapshots:
        for cid, history in histories.items():
            seen = _first_seen(history)
            if seen is None or seen > at:
                continue  # not a customer yet
            gone = cancelled.get(cid)
            if gone is not None and gone <= at:
                continue  # already left
            rows.append(behaviour_features(history, at))
            labels.append(int(gone is not None and gone <= at + horizon))
            customers.append(cid)
            times.append(at)
    y = np.asarray(labels, dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"the snapshots hold one class only ({len(y)} rows); try a longer --horizon-days or import more history"
        )
    return ChurnTrainingSet(rows, y, customers, list(snapshots), horizon_days, times)


def churn_signals(
    session: Session,
    model: ChurnModel,
    version: str,
    ticket: Ticket,
    customer: Customer | None,
    now: datetime,
    links: IdentityLinks | None = None,
) -> dict[str, Any]:
    """The ``Signals`` fields for a ticket's writer: churn risk and reasons from their history up to ``now``.

    Empty when the writer is unknown. ``version`` is the saved model's (``churn.json``), for ``model_versions``.
    """
    if customer is None and not ticket.requester:
        return {}
    history = writer_history(session, ticket, customer, now, links)
    return {**assess_customer(model, history, now).as_signals(), "model_versions": {"churn": version}}


def assess_customer(model: ChurnModel, history: CustomerHistory, at: datetime, top: int = 3) -> ChurnAssessment:
    """Churn risk and reasons for one customer at ``at``, from a model trained on the store's features."""
    unknown = [n for n in model.schema_.names if n not in FEATURE_NAMES]
    if unknown:
        raise ValueError(
            "this churn model was trained on a customer table (columns such as "
            f"{', '.join(unknown[:3])}), not on the store's behaviour features; train one with "
            "`deskroute train --target churn --from-store`"
        )
    features = behaviour_features(history, at)
    risk = float(model.risk([features])[0])
    return ChurnAssessment(risk, model.reasons([features], top=top)[0], features)


@dataclass
class ChurnValidation:
    """Out-of-fold churn risks of the model and of a logistic-regression baseline on the same folds."""

    risk: np.ndarray
    baseline_risk: np.ndarray
    prior_risk: np.ndarray
    labels: np.ndarray
    reasons: list[list[ChurnReason]]
    folds: list[dict[str, Any]]

    def metrics(self) -> dict[str, float]:
        return churn_metrics(self.labels, self.risk)


def logistic_baseline(schema: FeatureSchema) -> Any:
    """The linear baseline: the same encoded features, imputed, scaled and one-hot, into logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(baseline_preprocessor(schema), LogisticRegression(max_iter=5000))


def cross_validate(
    rows: Sequence[Mapping[str, FeatureValue]],
    labels: Sequence[int] | np.ndarray,
    *,
    folds: int = 5,
    groups: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    top: int = 3,
    random_state: int = 0,
    on_fold: Callable[[int], None] | None = None,
) -> ChurnValidation:
    """K-fold cross-validation of the churn model and its baseline, with reasons for every held-out customer.

    Each fold fits everything (feature coding, calibration choice, model, baseline) on its training part only.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(labels, dtype=int)
    smallest = int(min(np.bincount(y, minlength=2)))
    if smallest < folds:
        raise ValueError(
            f"{folds}-fold cross-validation needs at least {folds} customers of each class; "
            f"the smaller class has {smallest}. Use fewer folds (--cv) or more data"
        )
    if groups is not None:
        splits = StratifiedGroupKFold(folds, shuffle=True, random_state=random_state).split(rows, y, list(groups))
    else:
        splits = StratifiedKFold(folds, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y)
    risk = np.zeros(len(y))
    baseline = np.zeros(len(y))
    prior = np.zeros(len(y))
    reasons: list[list[ChurnReason]] = [[] for _ in range(len(y))]
    per_fold: list[dict[str, Any]] = []
    for k, (train, test) in enumerate(splits):
        train_rows = [rows[i] for i in train]
        test_rows = [rows[i] for i in test]
        model = ChurnModel(**dict(params or {})).fit(
            train_rows, y[train], groups=[groups[i] for i in train] if groups is not None else None
        )
        risk[test] = model.risk(test_rows)
        for i, found in zip(test, model.reasons(test_rows, top=top), strict=True):
            reasons[i] = found
        linear = logistic_baseline(model.schema_).fit(model.schema_.encode(train_rows), y[train])
        baseline[test] = linear.predict_proba(model.schema_.encode(test_rows))[:, 1]
        prior[test] = y[train].mean()
        per_fold.append(
            {
                "fold": k + 1,
                "n_train": len(train),
                "n_test": len(test),
                "calibration": model.calibration_,
                **churn_metrics(y[test], risk[test]),
            }
        )
        if on_fold is not None:
            on_fold(k + 1)
    return ChurnValidation(risk, baseline, prior, y, reasons, per_fold)
