"""``deskroute bench``: performance benchmarks (medians, and ratios against a baseline in the same run)."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.common import console, err_console, fail

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
    report = run(config, log=lambda line: err_console.print(line, highlight=False))
    console.print(render_table(report), highlight=False, soft_wrap=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        err_console.print(f"wrote {json_path}", highlight=False)
