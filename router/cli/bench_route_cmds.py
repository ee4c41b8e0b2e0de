"""``deskroute bench route``: one ticket at a time through Runtime.route with warm models (p50/p95/p99, steps)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path

import typer
from rich.table import Table

from router.cli.common import ConfigOption, console, err_console, fail, progress, settings
from router.cli.options import output_file, write_output
from router.config import Settings


def route(
    tickets: int = typer.Option(200, "--tickets", min=10, help="Sample tickets to route one by one."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write every figure to this JSON file."),
    config: Path | None = ConfigOption,
) -> None:
    """Milliseconds to route one ticket with warm models, and the share of encode, classify, language, decide.

    Models: those in the configured data_dir; with none trained there, the demo's, fitted in a temporary folder
    first (a few minutes). Nothing is recorded.
    """
    if json_path is not None:
        output_file(json_path, "--json")
    from evals.bench_route import measure_route, render_lines, sample_tickets
    from router.runtime import Runtime
    from router.store.model_registry import list_versions

    cfg = settings(config)
    chosen = sample_tickets(count=tickets + 3)
    trained = bool(list_versions(cfg.models_dir, "text", "queue"))
    with bench_models(cfg, trained) as (used, origin), Runtime(used) as runtime, progress(transient=True) as bar:
        task = bar.add_task("routing one ticket at a time", total=len(chosen) - 3)
        try:
            report = measure_route(runtime, chosen, on_ticket=lambda n: bar.update(task, completed=n))
        except ValueError as exc:
            raise fail(str(exc)) from None
    report["models_from"] = origin
    table = Table(title="Runtime.route, one ticket at a time, warm models")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for measure, value in render_lines(report):
        table.add_row(measure, value)
    console.print(table)
    if json_path is not None:
        write_output(json_path, json.dumps(report, indent=2) + "\n", "--json")
        err_console.print(f"wrote {json_path}")


@contextmanager
def bench_models(cfg: Settings, trained: bool) -> Iterator[tuple[Settings, str]]:
    """The settings to route with: the configured ones when models are trained, else the demo's in a temp folder."""
    if trained:
        yield cfg, str(cfg.data_dir)
        return
    from router.cli import demo

    with tempfile.TemporaryDirectory(prefix="deskroute-bench-route-") as folder:
        out = Path(folder) / "demo"
        err_console.print("no trained models configured: fitting the demo's in a temporary folder (a few minutes)")
        db = out / "deskroute.db"
        demo.claim_folder(out)  # before the demo's environment names it as the configured store
        with (
            demo._environment(DESKROUTE_DATABASE_URL=f"sqlite:///{db}", DESKROUTE_DATA_DIR=str(out / "data")),
            redirect_stdout(StringIO()),
        ):
            # The demo prints its walk-through on the console; only its models and store are wanted here.
            with console.capture():
                demo._run(
                    out,
                    tickets_csv=demo.SAMPLE_DIR / "tickets.csv",
                    policy_file=demo.DEMO_POLICY,
                    held_back=60,
                    seed=7,
                    target_precision=0.9,
                )
            used = Settings()
        yield used, "the demo's models (fitted for this run)"
