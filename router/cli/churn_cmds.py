"""``deskroute train --target churn``: the churn model from a labelled customer table (``--data FILE --label COL``)
or from the store (``--from-store``), trained by :mod:`router.training.churn_training`, with a progress bar and
a summary of its cross-validated figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from router.cli.common import console, fail, open_store, progress, settings, user_errors


def _drop_list(spec: str | None) -> list[str]:
    return [c.strip() for c in (spec or "").split(",") if c.strip()]


def train_churn(
    data: Path | None = None,
    *,
    label: str | None = None,
    id_column: str | None = None,
    drop: str | None = None,
    from_store: bool = False,
    source: str = "file",
    horizon_days: int = 30,
    cv: int = 5,
    out: Path | None = None,
    config: Path | None = None,
) -> dict[str, Any]:
    """Train, cross-validate and save a churn model; returns its metadata. Errors exit 1 with one clear line.

    ``data``/``label``/``id_column``/``drop``: a labelled customer table; or ``from_store`` with ``source`` and
    ``horizon_days`` (the label is "cancels within that many days"). ``cv``: folds for the metrics stored in
    the metadata (0 skips them). ``out``: the model folder (default: ``<data_dir>/models/churn``).
    """
    from router.training.churn_training import fit_churn_model, store_rows, table_rows

    if (data is None) == (not from_store):
        raise fail("give a labelled customer table (--data FILE --label COL) or --from-store, not both or neither")
    if data is not None and not label:
        raise fail("--label COL is required with --data: the column that says whether the customer churned")
    if cv == 1 or cv < 0:
        raise fail(f"--cv must be 0 (no cross-validation) or at least 2, not {cv}")
    cfg = settings(config)
    folder = out or cfg.models_dir / "churn"
    with user_errors():
        if data is not None:
            assert label is not None
            rows = table_rows(data, label=label, id_column=id_column, drop=_drop_list(drop))
        else:
            from router.behaviour.identity import IdentityLinks

            links = IdentityLinks(cfg.events.source, cfg.events.identity_attribute)
            rows = store_rows(open_store(cfg), source=source, horizon_days=horizon_days, links=links)
        with progress(
            TextColumn("training churn model"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("cross-validating" if cv else "fitting", total=(cv or 0) + 1)
            meta = fit_churn_model(
                rows,
                folder,
                cv=cv,
                on_fold=lambda k: bar.update(task, advance=1),
                on_fitting=lambda: bar.update(task, description="fitting on all rows"),
            )
            bar.update(task, advance=1)
    metrics = meta.get("cv_metrics")
    summary = Table(title=f"churn model {meta['version']} saved to {folder}")
    summary.add_column("")
    summary.add_column("value", justify="right")
    summary.add_row("rows", str(meta["n_train"]))
    summary.add_row("churn rate", f"{meta['positive_rate']:.1%}")
    summary.add_row("calibration", str(meta["calibration"]))
    if metrics:
        for key in ("roc_auc", "pr_auc", "brier", "ece"):
            summary.add_row(f"{cv}-fold CV {key}", f"{metrics[key]:.4f}")
    console.print(summary)
    return meta
