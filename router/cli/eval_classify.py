"""``deskroute eval classify``: benchmark the text classifier and its baselines on labelled files."""

from __future__ import annotations

import json
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from router.cli.common import console, err_console, fail, progress, warn
from router.cli.options import output_file, write_output

if TYPE_CHECKING:
    from evals.classify import ClassifyRun
    from router.training.labelled import LabelledTickets


def classify(
    train: list[Path] = typer.Option(
        ..., "--train", help="Labelled tickets (CSV or JSONL); repeat the option to concatenate several files."
    ),
    test: Path | None = typer.Option(None, "--test", help="Held-out labelled tickets to score on."),
    cv: int | None = typer.Option(None, "--cv", help="Stratified K-fold cross-validation on --train instead."),
    repeats: int = typer.Option(1, "--repeats", help="Repeat the cross-validation R times (new shuffle each)."),
    text: str = typer.Option(..., "--text", help="Text column(s), comma-separated: e.g. subject,body or text."),
    label: str = typer.Option(..., "--label", help="The label column to predict (matched case-insensitively)."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write every figure to this JSON file."),
    novelty: int | None = typer.Option(
        None,
        "--novelty",
        help="Leave K labels out of training in each split and measure how many of their tickets are abstained on.",
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="With --novelty: write a PNG of novelty recall against coverage cost to this file."
    ),
) -> None:
    """Cross-validate (or train/test) deskroute's classifier beside the majority and TF-IDF baselines.

    Prints accuracy, macro-F1, top-3 accuracy, calibration error (ECE) and the share of tickets that could be
    routed automatically at 90% precision; with --json, writes them (mean and standard deviation over folds
    and repeats with --cv), per-label figures, and the baselines fitted on the same folds.

    With --novelty K, K labels drawn at random are left out of training in each split: it reports the share of
    their tickets abstained on (novelty recall), the familiar tickets' coverage and accuracy before and after
    the novelty detector, and the maximum-probability baseline at the same coverage cost.
    """
    if (test is None) == (cv is None):
        raise fail("give either --test FILE or --cv K (not both)")
    if cv is not None and cv < 2:
        raise fail(f"--cv must be at least 2 folds, got {cv}")
    if repeats < 1:
        raise fail(f"--repeats must be at least 1, got {repeats}")
    if cv is None and repeats != 1:
        raise fail("--repeats applies to --cv only")
    if novelty is not None and novelty < 1:
        raise fail(f"--novelty must leave out at least 1 label, got {novelty}")
    if plot is not None and novelty is None:
        raise fail("--plot draws the --novelty figures: give --novelty K as well")
    if json_path is not None:
        output_file(json_path, "--json")
    if plot is not None:
        output_file(plot, "--plot")

    import numpy as np
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from evals.classify import ClassifyRun, Split, cv_splits, evaluate_split, render, report
    from router.cli.index_cmds import embedding_errors
    from router.cli.models import load_config_quietly
    from router.training.encoder_factory import build_encoder
    from router.training.labelled import DatasetError, parse_columns, read_labelled

    try:
        columns = parse_columns(text)
        train_data = read_labelled(train, text_columns=columns, label_column=label)
        test_data = read_labelled([test], text_columns=columns, label_column=label) if test else None
    except DatasetError as exc:
        raise fail(str(exc)) from None
    _warn_skipped(train_data)
    if test_data is not None:
        _warn_skipped(test_data)
    train_labels = train_data.labelled()
    distinct = sorted(set(train_labels))
    if len(distinct) < 2:
        raise fail(
            f"the label '{label}' has only one value ({distinct[0]!r}) in {', '.join(map(str, train))}: "
            "there is nothing to classify"
        )
    if novelty is not None and novelty > len(distinct) - 2:
        raise fail(
            f"--novelty {novelty} would leave fewer than 2 of the {len(distinct)} labels of '{label}' to train on"
        )
    if cv is not None and len(train_labels) < 2 * cv:
        raise fail(f"{len(train_labels)} labelled tickets are too few for {cv}-fold cross-validation")
    if test_data is not None:
        known = set(distinct)
        unseen = Counter(label for label in test_data.labelled() if label not in known)
        if unseen:
            shown = ", ".join(f"{name!r} ({n})" for name, n in unseen.most_common(5))
            warn(
                f"{sum(unseen.values())} test ticket(s) have labels never seen in training ({shown}); "
                "they count as wrong"
            )

    cfg = load_config_quietly()
    with embedding_errors():
        encoder = build_encoder(cfg)
    everything = train_data.tickets + (test_data.tickets if test_data else [])
    started = time.perf_counter()
    with err_console.status(f"embedding {len(everything)} tickets with {encoder.model_id}"):
        # Token embeddings too, from the same pass: the classifier's attention scorer reads them.
        vectors, tokens = encoder.encode_tickets_with_tokens(everything, show_progress=err_console.is_terminal)
    encode_seconds = time.perf_counter() - started
    with err_console.status(f"detecting the language of {len(everything)} tickets"):
        languages = _languages(everything)

    run = ClassifyRun(train_data, test_data, vectors, encoder.model_id, tokens=tokens, languages=languages)
    if cv is not None:
        run.splits = cv_splits(train_labels, cv, repeats)
        mode: dict[str, Any] = {"mode": "cv", "folds": cv, "repeats": repeats}
    else:
        n = len(train_data)
        run.splits = [Split("train/test", np.arange(n), np.arange(n, n + len(test_data or [])))]
        mode = {"mode": "test", "test_file": str(test)}
    mode["train_files"] = [str(p) for p in train]
    mode["encoding"] = {
        "model_id": encoder.model_id,
        "texts": len(everything),
        "seconds": round(encode_seconds, 2),
        "cache_hits": encoder.stats.cache_hits,
        "encoded": encoder.stats.encoded,
    }

    if novelty is not None:
        _novelty(run, mode, novelty, json_path, plot)
        return
    per_split = []
    with progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("evaluating", total=len(run.splits))
        for split in run.splits:
            per_split.append(
                evaluate_split(
                    run,
                    split,
                    on_step=partial(_show_step, bar, task, split.name),
                )
            )
            bar.advance(task)
    result = report(run, per_split, mode=mode)
    console.print(render(result))
    if json_path is not None:
        write_output(json_path, json.dumps(result, indent=2, sort_keys=False) + "\n", "--json")
        console.print(f"wrote {json_path}")


def _novelty(run: ClassifyRun, mode: dict[str, Any], k: int, json_path: Path | None, plot: Path | None) -> None:
    """The --novelty evaluation: K labels left out of each split's training, figures averaged over splits."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from evals.left_out_labels import evaluate_novelty_split, novelty_plot, render_novelty, summarise_novelty

    per_split = []
    with progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("evaluating", total=len(run.splits))
        for number, split in enumerate(run.splits):
            per_split.append(
                evaluate_novelty_split(run, split, k, number, on_step=partial(_show_step, bar, task, split.name))
            )
            bar.advance(task)
    result: dict[str, Any] = {
        **mode,
        "label": run.train.label_column,
        "text_columns": list(run.train.text_columns),
        "n_labels": len(set(run.train.labelled())),
        "encoder_model_id": run.encoder_model_id,
        "novelty": summarise_novelty(per_split, k),
    }
    console.print(render_novelty(result))
    if json_path is not None:
        write_output(json_path, json.dumps(result, indent=2) + "\n", "--json")
        console.print(f"wrote {json_path}")
    if plot is not None:
        try:
            plot.parent.mkdir(parents=True, exist_ok=True)
            plot.write_bytes(novelty_plot(result))
        except OSError as exc:
            raise fail(f"--plot: cannot write {plot}: {exc.strerror or exc}") from None
        console.print(f"wrote {plot}")


def _languages(tickets: list[tuple[str | None, str | None]]) -> list[str]:
    """Each ticket's language, read from subject and body as ``deskroute predict`` reads it."""
    from evals.classify import UNKNOWN_LANGUAGE
    from router.predict.language_detection import detect_ticket_languages

    found = detect_ticket_languages(tickets)
    return [language.code if language else UNKNOWN_LANGUAGE for language in found]


def _warn_skipped(data: LabelledTickets) -> None:
    for line in data.warnings():
        warn(line)


def _show_step(progress: Any, task: Any, split: str, step: str) -> None:
    progress.update(task, description=f"{split}: {step}")
