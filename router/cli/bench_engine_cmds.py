"""``deskroute bench engine``: tickets per second of one sync -> decide -> apply cycle against a live RT."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from router.cli.common import ConfigOption, console, err_console, fail, progress, settings
from router.cli.options import output_file, write_output


def engine(
    tickets: int = typer.Option(1000, "--tickets", min=1, help="Tickets in the read-path cycle (shadow mode)."),
    write_sample: int = typer.Option(
        50, "--write-sample", min=0, help="Fresh tickets in the write-path cycle (auto mode); 0 skips it."
    ),
    repeats: int = typer.Option(1, "--repeats", min=1, help="Read-path cycles; the median is reported."),
    rt_url: str | None = typer.Option(
        None,
        "--rt-url",
        help="The RT to benchmark against, a test instance: it gets a corpus queue and per-run queues "
        "(default: $DESKROUTE_TEST_RT_URL or http://127.0.0.1:8081). Account: $DESKROUTE_TEST_RT_USER and "
        "$DESKROUTE_TEST_RT_PASSWORD (default: scripts/rt-setup.sh's root / password).",
    ),
    datasets: Path | None = typer.Option(
        None, "--datasets", help="Folder with support-tickets/ for ticket texts (default: ../shared/datasets)."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Also write every figure to this JSON file."),
    config: Path | None = ConfigOption,
) -> None:
    """Time run_cycle over RT tickets: tickets/s and the share of sync, signals (models), decide and apply.

    Models: those in the configured data_dir (rules only before training), warmed before the clock starts.

    Each cycle starts from an empty temporary store; RT keeps a corpus queue that later runs reuse.
    """
    if json_path is not None:
        output_file(json_path, "--json")
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from evals.bench_engine import DATASETS, DEFAULT_RT_URL, BenchError, config_from_env, render_table, run

    cfg = settings(config)
    bench = config_from_env(
        tickets=tickets,
        write_sample=write_sample,
        repeats=repeats,
        rt_url=rt_url or DEFAULT_RT_URL,
        datasets=datasets or DATASETS,
        settings=cfg,
    )
    columns = (TextColumn("creating the corpus"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with progress(*columns, transient=True) as bar:
        task = bar.add_task("corpus", total=None)

        def created(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = run(bench, log=lambda line: err_console.print(line, soft_wrap=True), progress=created)
        except BenchError as exc:
            raise fail(str(exc)) from None
    console.print(render_table(report), soft_wrap=True)
    if json_path is not None:
        write_output(json_path, json.dumps(report, indent=2), "--json")
        err_console.print(f"wrote {json_path}")
