"""``deskroute bench``: performance benchmarks (medians, and ratios against a baseline in the same run)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from router.cli.common import console, err_console, fail, progress
from router.cli.options import output_file, write_output

app = typer.Typer(help="Performance benchmarks; figures as a table and, with --json, a file.", no_args_is_help=True)


@app.command("embeddings")
def embeddings(
    json_path: Path | None = typer.Option(None, "--json", help="Also write every figure to this JSON file."),
    sizes: str = typer.Option("10k,100k,1M", "--sizes", help="Vector index sizes, e.g. 10k,100k,1M."),
    datasets: Path | None = typer.Option(
        None, "--datasets", help="Folder with support-tickets/ and banking77/ (default: ../shared/datasets)."
    ),
    tickets: int = typer.Option(300, "--tickets", min=10, help="Ticket texts to encode."),
    short_texts: int = typer.Option(600, "--short-texts", min=10, help="Short texts to encode."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Runs per encoder figure (the median is kept)."),
    queries: int = typer.Option(500, "--queries", min=10, help="Held-out queries for latency and recall."),
    encoder: bool = typer.Option(True, "--encoder/--no-encoder", help="Measure the encoder."),
    index: bool = typer.Option(True, "--index/--no-index", help="Measure the vector index."),
    threshold: bool = typer.Option(
        True, "--threshold/--no-threshold", help="Measure exact-search latency by size (the exact_limit)."
    ),
) -> None:
    """Encoder throughput (ours against raw sentence-transformers), speed levers, and the vector index."""
    if json_path is not None:
        output_file(json_path, "--json")
    import argparse
    import json

    from evals.bench_embeddings import DATASETS, BenchConfig, parse_sizes, render_table, run

    try:
        parsed = parse_sizes(sizes)
    except argparse.ArgumentTypeError as exc:
        raise fail(str(exc)) from None
    config = BenchConfig(
        sizes=parsed,
        datasets=datasets or DATASETS,
        tickets=tickets,
        short_texts=short_texts,
        repeats=repeats,
        queries=queries,
        encoder=encoder,
        index=index,
        threshold=threshold,
    )
    report = run(config, log=lambda line: err_console.print(line, soft_wrap=True))
    console.print(render_table(report), soft_wrap=True)
    if json_path is not None:
        write_output(json_path, json.dumps(report, indent=2), "--json")
        err_console.print(f"wrote {json_path}")


@app.command("policy")
def bench_policy(
    decisions: int = typer.Option(2000, "--decisions", min=100, help="Tickets decided per repeat."),
    repeats: int = typer.Option(7, "--repeats", min=1, help="Timed repeats; the median is reported."),
    rules: int = typer.Option(30, "--rules", min=1, max=30, help="How many of the benchmark's 30 rules to use."),
    tickets: Path | None = typer.Option(
        None,
        "--tickets",
        help="CSV with subject, body, language, tags, priority, queue columns "
        "(default: ../shared/datasets/support-tickets/tickets-en-de.csv when present).",
    ),
    synthetic: bool = typer.Option(False, "--synthetic", help="Use synthetic ticket texts instead of a CSV."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Decisions per second of policies.decide for a 30-rule policy on one core (CPU time, median)."""
    if json_path is not None:
        output_file(json_path, "--json")
    from evals.bench_policy import default_dataset, run_policy_benchmark

    dataset = None if synthetic else (tickets or default_dataset())
    if dataset is not None and not dataset.is_file():
        raise fail(f"--tickets: {dataset} is not a readable file")

    # Refreshed by hand, not by rich's background thread, which would compete for the one pinned core.
    with progress(transient=True, auto_refresh=False) as bar:
        task = bar.add_task("deciding", total=repeats)

        def advance() -> None:
            bar.advance(task)
            bar.refresh()

        result = run_policy_benchmark(
            decisions=decisions, repeats=repeats, rules=rules, dataset=dataset, on_repeat=advance
        )
    table = Table(title=f"policy decide(): {result.rules} rules, {decisions} tickets × {repeats} repeats")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("decisions/s (one core, CPU time, median)", f"{result.decisions_per_second:,.0f}")
    table.add_row("µs per decision", f"{result.microseconds_per_decision:.1f}")
    table.add_row("decisions/s by wall clock (median)", f"{result.wall_decisions_per_second:,.0f}")
    table.add_row("baseline: 1-rule policy, decisions/s", f"{result.baseline_decisions_per_second:,.0f}")
    table.add_row("time per decision vs baseline", f"{result.ratio_to_baseline:.2f}×")
    table.add_row("rules fired per decision (mean)", f"{result.mean_rules_fired:.2f}")
    table.add_row("decisions with a note", f"{result.share_with_note:.0%}")
    table.add_row("ticket texts", Path(result.ticket_texts).name)
    table.add_row("reference: sum(range(1000)) on this core, µs", f"{result.reference_loop_us:.1f}")
    table.add_row("CPU affinity", ",".join(map(str, result.cpu_affinity)) or "not pinned")
    console.print(table)
    if json_path is not None:
        write_output(json_path, json.dumps(result.as_dict(), indent=2) + "\n", "--json")
        console.print(f"wrote {json_path}")


@app.command("workers")
def bench_workers(
    json_path: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    database_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test",
        "--database-url",
        help="PostgreSQL to measure on; the benchmark works in a throw-away schema of its own and drops it.",
    ),
    tickets: int = typer.Option(1000, "--tickets", min=50, max=100_000, help="Queued tickets in the backlog."),
    repeats: int = typer.Option(3, "--repeats", min=1, max=20, help="Timed runs per worker count (the median)."),
) -> None:
    """Tickets/s of 1 and 2 `deskroute worker` processes on one backlog of queued tickets, and their ratio
    (file connector, shadow mode, rules-only policy: deskroute's own work, not a helpdesk's write speed)."""
    if json_path is not None:
        output_file(json_path, "--json")
    from evals.bench_workers import BenchError, WorkerBenchConfig, run_worker_bench

    config = WorkerBenchConfig(database_url=database_url, tickets=tickets, repeats=repeats)
    with progress(transient=True) as bar:
        task = bar.add_task("timing workers", total=len(config.workers) * repeats)

        def advance(workers: int, repeat: int, rate: float) -> None:
            bar.update(task, advance=1, description=f"{workers} worker(s), run {repeat + 1}: {rate:,.0f} tickets/s")

        try:
            result = run_worker_bench(config, on_run=advance)
        except BenchError as exc:
            raise fail(str(exc)) from None
    table = Table(title=f"deskroute worker: {tickets} queued tickets, median of {repeats} (file connector, shadow)")
    table.add_column("workers", justify="right")
    table.add_column("tickets/s (median)", justify="right")
    table.add_column("runs", justify="right")
    for workers, runs in result.runs.items():
        table.add_row(str(workers), f"{result.median(workers):,.1f}", ", ".join(f"{r:,.1f}" for r in runs))
    console.print(table)
    ratio = result.ratio
    console.print(
        f"2-worker/1-worker ratio: {ratio:.2f} on {result.as_dict()['cpu_count']} CPUs ({result.database})"
        if ratio is not None
        else "no ratio: one of the runs is missing",
        soft_wrap=True,
    )
    if json_path is not None:
        write_output(json_path, json.dumps(result.as_dict(), indent=2) + "\n", "--json")
        console.print(f"wrote {json_path}")


from router.cli import bench_engine_cmds as bench_engine  # noqa: E402  (a module of its own: live RT, not a micro-benchmark)

app.command("engine")(bench_engine.engine)

from router.cli import bench_route_cmds as bench_route  # noqa: E402  (a module of its own: trains the demo if needed)

app.command("route")(bench_route.route)

from router.cli import bench_service_cmds as bench_service  # noqa: E402  (a module of its own: starts the service)

app.command("service")(bench_service.service)
