"""Training the churn model: the one path from labelled customers to a saved, versioned churn model.

Customers come from a labelled customer table, or from the store, where a customer's first ``cancellation``
event is the label and features are taken at snapshot times before it. The model is cross-validated first (the
figures go into its metadata), then fitted on everything and saved (skops, no pickle) with its metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from router.behaviour.customer_features import FeatureValue
from router.behaviour.identity import IdentityLinks
from router.store import Store


@dataclass(frozen=True)
class ChurnRows:
    """Feature rows, their labels, the customer each row belongs to (for grouped folds) and where they came from."""

    rows: Sequence[Mapping[str, FeatureValue]]
    labels: Sequence[int] | np.ndarray
    groups: list[str] | None
    origin: dict[str, Any]


def table_rows(path: Path, *, label: str, id_column: str | None, drop: Sequence[str]) -> ChurnRows:
    """A labelled customer table's rows; ValueError names the file and column at fault."""
    from router.behaviour import read_customer_table

    table = read_customer_table(path, label=label, id_column=id_column, drop=list(drop))
    assert table.labels is not None
    origin = {"file": str(path), "label": label, "id": id_column, "dropped": list(drop)}
    return ChurnRows(table.rows, table.labels, None, origin)


def store_rows(store: Store, *, source: str, horizon_days: int, links: IdentityLinks | None = None) -> ChurnRows:
    """Snapshots of the stored customers of ``source``, labelled "cancels within ``horizon_days``".

    With ``links``, each customer's product events (stored under another source) are part of their history.
    """
    from router.behaviour.churn_model import store_training_set

    with store.session() as session:
        dataset = store_training_set(session, source, horizon_days=horizon_days, links=links)
    origin = {
        "store": store.safe_url,
        "source": source,
        "label": f"cancellation within {horizon_days} days of a snapshot",
        "horizon_days": horizon_days,
        "snapshots": [s.isoformat() for s in dataset.snapshots],
        "customers": len(set(dataset.customers)),
    }
    return ChurnRows(dataset.rows, dataset.labels, dataset.customers, origin)


def fit_churn_model(
    data: ChurnRows,
    folder: Path,
    *,
    cv: int = 5,
    on_fold: Callable[[int], None] | None = None,
    on_fitting: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Cross-validate (``cv`` folds; 0 skips it), fit on every row and save in ``folder``; returns the metadata."""
    from router.behaviour.churn_model import ChurnModel, cross_validate

    if cv == 1 or cv < 0:
        raise ValueError(f"cross-validation needs 0 (none) or at least 2 folds, not {cv}")
    metrics: dict[str, Any] | None = None
    if cv:
        validation = cross_validate(data.rows, data.labels, folds=cv, groups=data.groups, on_fold=on_fold)
        metrics = {"folds": cv, **validation.metrics()}
    if on_fitting is not None:
        on_fitting()
    model = ChurnModel().fit(data.rows, data.labels, groups=data.groups)
    return model.save(folder, training_data=data.origin, cv_metrics=metrics)
