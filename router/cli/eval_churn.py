"""``deskroute eval churn``: the churn model against its baselines, as a table and, with --json, a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from router.cli.common import console, fail, progress, user_errors
from router.cli.options import output_file, write_output


def _drop_list(spec: str | None) -> list[str]:
    return [c.strip() for c in (spec or "").split(",") if c.strip()]


def _metrics_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"churn: {report['mode']} on {report['train']} (n_train={report['n_train']}, n_test={report['n_test']})"
    )
    table.add_column("model")
    for name in ("ROC-AUC", "PR-AUC", "Brier", "ECE"):
        table.add_column(name, justify="right")
    rows = [("gradient boosting (calibrated)", report)] + [
        (name.replace("_", " "), values) for name, values in report["baselines"].items()
    ]
    for name, values in rows:
        table.add_row(name, *(f"{values[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece")))
    return table


def _reasons_table(report: dict[str, Any]) -> Table:
    table = Table(title="most frequent reasons among the riskiest 10% (SHAP)")
    table.add_column("feature")
    table.add_column("customers", justify="right")
    table.add_column("share", justify="right")
    table.add_column("example")
    for reason in report["top_reasons"]:
        table.add_row(reason["feature"], str(reason["customers"]), f"{reason['share']:.0%}", reason["example"])
    return table


def churn(
    train: Path = typer.Option(..., "--train", help="Labelled customer table (CSV or JSONL), one row per customer."),
    test: Path | None = typer.Option(None, "--test", help="Score a separate labelled file (instead of --cv)."),
    cv: int | None = typer.Option(None, "--cv", help="K-fold cross-validation on --train (instead of --test)."),
    label: str = typer.Option(..., "--label", help="The churn column: yes/no, true/false or 1/0."),
    id_column: str | None = typer.Option(None, "--id", help="Customer id column (must be unique; not a feature)."),
    drop: str | None = typer.Option(None, "--drop", help="Columns to leave out, comma-separated: COL[,COL...]."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the full report as JSON here."),
) -> None:
    """Evaluate the calibrated churn model and a logistic-regression baseline (same features, same folds).

    Text columns are encoded as categories automatically; the label may be yes/no, true/false or 1/0.

    Prints ROC-AUC, PR-AUC, Brier score and ECE, and the commonest reasons (SHAP) in the riskiest decile.
    """
    if (test is None) == (cv is None):
        raise fail("give exactly one of --test FILE or --cv K")
    if cv is not None and cv < 2:
        raise fail(f"--cv must be at least 2, not {cv}")
    if json_path is not None:
        output_file(json_path, "--json")
    from evals.churn_eval import evaluate_churn

    with (
        user_errors(),
        progress(
            TextColumn("evaluating churn"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("reading", total=cv or 1)

        def step(what: str) -> None:
            bar.update(task, advance=1, description=what)

        report = evaluate_churn(
            train, label=label, test=test, cv=cv, id_column=id_column, drop=_drop_list(drop), on_step=step
        )
    console.print(_metrics_table(report))
    console.print(_reasons_table(report))
    if json_path is not None:
        write_output(json_path, json.dumps(report, indent=2), "--json")
        console.print(f"report written to {json_path}")
