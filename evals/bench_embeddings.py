"""Benchmark of the embeddings package: encoder throughput, its speed levers, and the vector index.

Run it as ``deskroute bench embeddings`` (or ``python -m evals.bench_embeddings``). Every figure is measured
in this run, on this machine; ratios compare against a baseline measured in the same process.

Sections:
- encoder: texts/s with a cold cache, ours (preparation + cache + encoding) next to raw
  ``SentenceTransformer.encode`` on the same texts, short (Banking77) and ticket-length texts; the warm-cache
  rate.
- window: token window 128 against 256 on tickets: throughput and agreement of the 10 nearest neighbours.
- batching: length-sorted batches against batches in arrival order.
- threshold: exact single-query latency by collection size (where exact search stops being fast enough).
- index: build time, search latency p50/p95 (single and batched queries), recall@10 against exact search and
  memory per vector, on structured synthetic vectors at each ``--sizes``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import DEFAULT_EXACT_LIMIT, Encoder, VectorIndex
from embeddings.native_threads import faiss_threads, load_faiss

DIMENSION = 384
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
THRESHOLD_SIZES = (5_000, 10_000, 15_000, 20_000, 30_000)
LATENCY_BUDGET_MS = 2.0
DATASETS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"


@dataclass
class BenchConfig:
    """What to measure and how much of it."""

    sizes: tuple[int, ...] = DEFAULT_SIZES
    datasets: Path = DATASETS
    tickets: int = 300
    short_texts: int = 600
    repeats: int = 3  # the ours/raw figure
    lever_repeats: int = 2  # window and batching comparisons
    slices: int = 4  # interleaved slices per encoder comparison
    queries: int = 500
    single_queries: int = 300
    batch_size: int = 100
    encoder: bool = True
    index: bool = True
    threshold: bool = True
    seed: int = 20240601
    model: str | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------- helpers
def structured_vectors(n: int, seed: int, dimension: int = DIMENSION, chunk: int = 100_000) -> np.ndarray:
    """Vectors shaped like real sentence embeddings, normalised.

    A 24-dimensional standard Gaussian latent times a fixed random 24×``dimension`` standard Gaussian matrix,
    plus Gaussian noise of σ 0.3 per coordinate. Uniform random vectors would make recall meaningless: in 384
    dimensions every neighbour of a uniform point is nearly equidistant.
    """
    mixing = np.random.default_rng(1234).standard_normal((24, dimension), dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dimension), dtype=np.float32)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        block = rng.standard_normal((rows, 24), dtype=np.float32) @ mixing
        block += 0.3 * rng.standard_normal((rows, dimension), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + rows] = block
    return out


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of timings in seconds, as milliseconds."""
    values = np.asarray(samples, dtype=np.float64) * 1000.0
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def rss_bytes() -> int:
    """Resident memory of this process (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def recall_at(found: Sequence[Sequence[str]], truth: Sequence[Sequence[str]], k: int = 10) -> float:
    """Mean share of the true top-k present in the found top-k."""
    shares = [len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True) if t]
    return float(np.mean(shares)) if shares else float("nan")


@contextmanager
def stage(name: str, log: Callable[[str], None]) -> Iterator[None]:
    started = time.perf_counter()
    log(f"… {name}")
    yield
    log(f"  {name}: {time.perf_counter() - started:.1f} s")


def read_tickets(datasets: Path, limit: int, seed: int) -> list[tuple[str | None, str | None]]:
    """(subject, body) pairs from the support-ticket dataset, a fixed random sample."""
    path = datasets / "support-tickets" / "tickets-en-de.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(row.get("subject") or None, row.get("body") or None) for row in csv.DictReader(handle)]
    order = np.random.default_rng(seed).permutation(len(rows))[:limit]
    return [rows[i] for i in order]


def read_short_texts(datasets: Path, limit: int, seed: int) -> list[str]:
    """Banking77 customer messages (short texts), a fixed random sample."""
    path = datasets / "banking77" / "train.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row["text"] for row in csv.DictReader(handle) if row.get("text")]
    order = np.random.default_rng(seed).permutation(len(rows))[:limit]
    return [rows[i] for i in order]


# ------------------------------------------------------------------------------------------------- encoder
def _timed(run: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``run(*args, **kwargs)``.

    CPU time is reported beside wall time because on shared cores other processes' load moves the wall
    clock from one run to the next; the CPU a run costs moves much less.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    run(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu


def _interleaved(
    sides: Mapping[str, Callable[[int, int], object]], count: int, slices: int, flip: bool
) -> dict[str, Any]:
    """Run every side on the same slices of ``count`` items, alternating which side goes first; total seconds.

    Short back-to-back pairs keep a change in other processes' load from landing on one side only.
    """
    totals = {name: [0.0, 0.0] for name in sides}
    bounds = np.linspace(0, count, max(1, slices) + 1).astype(int).tolist()
    names = list(sides)
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        for name in names if (i + flip) % 2 == 0 else names[::-1]:
            wall, cpu = _timed(sides[name], start, stop)
            totals[name][0] += wall
            totals[name][1] += cpu
    return {name: (wall, cpu) for name, (wall, cpu) in totals.items()}


def _paired(count: int, runs: dict[str, list[tuple[float, float]]], ours: str, base: str) -> dict[str, float]:
    """Medians of rates and of per-repeat ratios ``ours``/``base`` (each pair ran interleaved)."""
    return {
        f"{ours}_texts_per_s": statistics.median(count / wall for wall, _ in runs[ours]),
        f"{base}_texts_per_s": statistics.median(count / wall for wall, _ in runs[base]),
        "ratio": statistics.median(b[0] / o[0] for o, b in zip(runs[ours], runs[base], strict=True)),
        "ratio_cpu": statistics.median(b[1] / o[1] for o, b in zip(runs[ours], runs[base], strict=True)),
    }


def _raw_slice(model: Any, texts: Sequence[str], start: int, stop: int) -> object:
    return model.encode(texts[start:stop], batch_size=64, normalize_embeddings=True, show_progress_bar=False)


def _ours_slice(encoder: Encoder, pairs: Sequence[tuple[str | None, str | None]], start: int, stop: int) -> object:
    return encoder.encode_tickets(pairs[start:stop], show_progress=False)


def bench_encoder(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Ours against raw SentenceTransformer.encode on the same texts, cold cache; then the warm-cache rate."""
    tickets = read_tickets(config.datasets, config.tickets, config.seed)
    short = read_short_texts(config.datasets, config.short_texts, config.seed)
    reference = Encoder(config.model)
    model = reference.model  # one loaded model serves both sides: only our own work differs
    result: dict[str, Any] = {"model": reference.describe(), "sets": {}}
    for name, pairs in (("short", [(None, text) for text in short]), ("tickets", tickets)):
        texts = reference.prepare(pairs)
        tokens = _token_lengths(model, texts)
        runs: dict[str, list[tuple[float, float]]] = {"raw": [], "ours": [], "warm": []}
        with tempfile.TemporaryDirectory() as scratch:
            # Warm-up: first calls pay for lazy initialisation inside torch.
            model.encode(texts[:64], batch_size=64, normalize_embeddings=True, show_progress_bar=False)
            for repeat in range(config.repeats):
                ours = Encoder(config.model, cache_dir=Path(scratch) / f"cold-{repeat}")
                ours._model = model
                sides = {"raw": partial(_raw_slice, model, texts), "ours": partial(_ours_slice, ours, pairs)}
                totals = _interleaved(sides, len(texts), config.slices, flip=repeat % 2 == 1)
                runs["raw"].append(totals["raw"])
                runs["ours"].append(totals["ours"])
                runs["warm"].append(_timed(ours.encode_tickets, pairs, show_progress=False))
                assert ours.stats.encoded == len(set(texts)), "the warm run must not reach the model"
        paired = _paired(len(texts), runs, "ours", "raw")
        warm = statistics.median(len(texts) / wall for wall, _ in runs["warm"])
        result["sets"][name] = {
            "texts": len(texts),
            "mean_chars": float(np.mean([len(t) for t in texts])),
            "mean_tokens": float(np.mean(tokens)),
            "truncated_share": float(np.mean([n > reference.max_seq_length for n in tokens])),
            "raw_texts_per_s": paired["raw_texts_per_s"],
            "ours_cold_texts_per_s": paired["ours_texts_per_s"],
            "ours_over_raw": paired["ratio"],
            "ours_over_raw_cpu": paired["ratio_cpu"],
            "warm_cache_texts_per_s": warm,
            "runs_wall_cpu_s": runs,
        }
        log(
            f"  {name}: raw {paired['raw_texts_per_s']:.0f}/s, ours {paired['ours_texts_per_s']:.0f}/s "
            f"(ratio {paired['ratio']:.3f}, CPU-time ratio {paired['ratio_cpu']:.3f}), warm cache {warm:.0f}/s"
        )
    return result


def _token_lengths(model: Any, texts: Sequence[str]) -> list[int]:
    encoded = model.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return [len(ids) for ids in encoded]


def bench_window(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Token window 128 vs 256 on tickets: throughput, and how many of the 10 nearest neighbours agree."""
    tickets = read_tickets(config.datasets, config.tickets, config.seed)
    encoder = Encoder(config.model)
    model = encoder.model
    texts = encoder.prepare(tickets)
    original = model.max_seq_length
    runs: dict[str, list[tuple[float, float]]] = {"128": [], "256": []}

    vectors = {w: np.zeros((len(texts), encoder.dimension), dtype=np.float32) for w in (128, 256)}

    def encode(window: int, start: int, stop: int) -> None:
        model.max_seq_length = window
        vectors[window][start:stop] = np.asarray(_raw_slice(model, texts, start, stop))

    try:
        for repeat in range(config.lever_repeats):
            sides = {"128": partial(encode, 128), "256": partial(encode, 256)}
            totals = _interleaved(sides, len(texts), config.slices, flip=repeat % 2 == 1)
            runs["128"].append(totals["128"])
            runs["256"].append(totals["256"])
    finally:
        model.max_seq_length = original
    neighbours = {w: _neighbour_lists(v, 10) for w, v in vectors.items()}
    agreement = float(
        np.mean([len(set(a) & set(b)) / 10 for a, b in zip(neighbours[128], neighbours[256], strict=True)])
    )
    tokens = _token_lengths(model, texts)
    paired = _paired(len(texts), runs, "128", "256")
    result = {
        "texts": len(texts),
        "longer_than_128_tokens": float(np.mean([n > 128 for n in tokens])),
        "longer_than_256_tokens": float(np.mean([n > 256 for n in tokens])),
        "texts_per_s_128": paired["128_texts_per_s"],
        "texts_per_s_256": paired["256_texts_per_s"],
        "speedup_128_over_256": paired["ratio"],
        "speedup_128_over_256_cpu": paired["ratio_cpu"],
        "neighbour_agreement_at_10": agreement,
        "cosine_128_vs_256_mean": float(np.mean(np.sum(vectors[128] * vectors[256], axis=1))),
    }
    log(
        f"  window 128: {result['texts_per_s_128']:.0f}/s, 256: {result['texts_per_s_256']:.0f}/s "
        f"(speed-up {paired['ratio']:.2f}, CPU time {paired['ratio_cpu']:.2f}), 10-NN agreement {agreement:.3f}"
    )
    return result


def _neighbour_lists(vectors: np.ndarray, k: int) -> list[list[int]]:
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    top = np.argsort(-scores, axis=1)[:, :k]
    return [row.tolist() for row in top]


def bench_batching(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Length-sorted batches against arrival order, cold cache, on tickets."""
    tickets = read_tickets(config.datasets, config.tickets, config.seed)
    reference = Encoder(config.model)
    model = reference.model
    runs: dict[str, list[tuple[float, float]]] = {"sorted": [], "arrival": []}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(config.lever_repeats):
            for label in ("sorted", "arrival") if repeat % 2 == 0 else ("arrival", "sorted"):
                ours = Encoder(
                    config.model, cache_dir=Path(scratch) / f"{label}-{repeat}", length_sorted=label == "sorted"
                )
                ours._model = model
                runs[label].append(_timed(ours.encode_tickets, tickets, show_progress=False))
    paired = _paired(len(tickets), runs, "sorted", "arrival")
    result = {
        "texts": len(tickets),
        "sorted_texts_per_s": paired["sorted_texts_per_s"],
        "arrival_texts_per_s": paired["arrival_texts_per_s"],
        "speedup_sorted": paired["ratio"],
        "speedup_sorted_cpu": paired["ratio_cpu"],
    }
    log(
        f"  length-sorted {result['sorted_texts_per_s']:.0f}/s, arrival order {result['arrival_texts_per_s']:.0f}/s "
        f"(speed-up {paired['ratio']:.2f}, CPU time {paired['ratio_cpu']:.2f})"
    )
    return result


# --------------------------------------------------------------------------------------------------- index
def _ids(n: int) -> list[str]:
    return [f"ticket:{i}" for i in range(n)]


def _exact_truth(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    faiss = load_faiss()
    _, labels = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    return np.asarray(labels)


def _single_latencies(index: VectorIndex, queries: np.ndarray, count: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of one-query searches.

    A single query runs on one thread, so its thread CPU time is its latency on a core of its own; the wall
    clock adds whatever time other processes held the core (preemption shows in p95 first).
    """
    walls, cpus = [], []
    for i in range(min(count, len(queries))):
        wall, cpu = time.perf_counter(), time.thread_time()
        index.search(queries[i : i + 1], k=10)
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return walls, cpus


def bench_threshold(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Exact single-query latency by size: where exact search leaves the latency budget."""
    queries = structured_vectors(200, seed=config.seed + 1)
    rows: list[dict[str, Any]] = []
    for n in THRESHOLD_SIZES:
        index = VectorIndex(DIMENSION, "synthetic", exact_limit=10**12)
        index.add(_ids(n), structured_vectors(n, seed=config.seed))
        walls, cpus = _single_latencies(index, queries, 200)
        rows.append({"vectors": n, **percentiles(walls), "cpu": percentiles(cpus)})
        del index
        gc.collect()
    within = [row["vectors"] for row in rows if row["p95_ms"] <= LATENCY_BUDGET_MS]
    within_cpu = [row["vectors"] for row in rows if row["cpu"]["p95_ms"] <= LATENCY_BUDGET_MS]
    result = {
        "budget_ms": LATENCY_BUDGET_MS,
        "exact_limit": DEFAULT_EXACT_LIMIT,
        "rows": rows,
        "largest_size_within_budget": max(within) if within else None,
        "largest_size_within_budget_cpu": max(within_cpu) if within_cpu else None,
    }
    log(
        "  exact p95 wall (CPU): "
        + ", ".join(f"{r['vectors']:,}: {r['p95_ms']:.2f} ({r['cpu']['p95_ms']:.2f}) ms" for r in rows)
    )
    return result


def bench_index_size(n: int, config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Build, search and recall at one collection size, against exact search on the same vectors."""
    vectors = structured_vectors(n, seed=config.seed)
    queries = structured_vectors(config.queries, seed=config.seed + 1)
    ids = _ids(n)
    with faiss_threads(None):
        truth_labels = _exact_truth(vectors, queries, 10)
    truth = [[ids[j] for j in row if j >= 0] for row in truth_labels]

    gc.collect()
    before = rss_bytes()
    index = VectorIndex(DIMENSION, "synthetic")
    build_s, build_cpu_s = _timed(index.add, ids, vectors)
    held = rss_bytes() - before
    info = index.describe()

    single, single_cpu = _single_latencies(index, queries, config.single_queries)
    batched = []
    found: list[list[str]] = []
    for start in range(0, len(queries), config.batch_size):
        batch = queries[start : start + config.batch_size]
        began = time.perf_counter()
        hits = index.search(batch, k=10)
        batched.append((time.perf_counter() - began) / len(batch))
        found.extend([t for t, _ in row] for row in hits)
    recall = recall_at(found, truth)

    # The exact baseline at this size, single-threaded as the index runs single queries (fewer queries where
    # each one is slow: about 10 s in all).
    faiss = load_faiss()
    flat = faiss.IndexFlatIP(DIMENSION)
    flat.add(vectors)
    exact_rows: list[float] = []
    with faiss_threads(1):
        for i in range(min(max(20, int(6e7 / n)), config.single_queries, len(queries))):
            began = time.perf_counter()
            flat.search(queries[i : i + 1], 10)
            exact_rows.append(time.perf_counter() - began)
    del flat

    row = {
        "vectors": n,
        "kind": info["kind"],
        "reason": info["reason"],
        "hnsw": info.get("hnsw"),
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "single": percentiles(single),
        "single_cpu": percentiles(single_cpu),
        "batched_per_query": percentiles(batched),
        "recall_at_10": recall,
        "calibrated_recall_at_10": info["recall_at_10"],
        "exact_single": {**percentiles(exact_rows), "queries": len(exact_rows)},
        "faiss_bytes_per_vector": index.memory_bytes() / n,
        "process_bytes_per_vector": held / n if held > 0 else None,
    }
    log(
        f"  {n:,}: {row['kind']} built in {build_s:.1f} s, single p50/p95 {row['single']['p50_ms']:.2f}/"
        f"{row['single']['p95_ms']:.2f} ms, recall@10 {recall:.4f}"
    )
    del index, vectors
    gc.collect()
    return row


# ------------------------------------------------------------------------------------------------- running
def run(config: BenchConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected sections and return every figure, with the machine they were measured on."""
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
    }
    # Other processes' load moves every wall-clock figure: it is recorded with them.
    report["machine"]["load_average_before"] = os.getloadavg()
    started, started_cpu = time.perf_counter(), time.process_time()
    if config.encoder:
        if (config.datasets / "support-tickets").is_dir() and (config.datasets / "banking77").is_dir():
            import torch

            report["machine"]["torch_threads"] = torch.get_num_threads()
            with stage("encoder throughput", log):
                report["encoder"] = bench_encoder(config, log)
            with stage("token window", log):
                report["window"] = bench_window(config, log)
            with stage("batching", log):
                report["batching"] = bench_batching(config, log)
        else:
            note = f"encoder sections skipped: datasets not found under {config.datasets} (use --datasets)"
            config.notes.append(note)
            log(note)
    if config.index and config.threshold:
        with stage("exact-search threshold", log):
            report["threshold"] = bench_threshold(config, log)
    if config.index:
        report["index"] = []
        for n in config.sizes:
            with stage(f"index at {n:,} vectors", log):
                report["index"].append(bench_index_size(n, config, log))
    report["machine"]["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    report["machine"]["load_average_after"] = os.getloadavg()
    report["notes"] = config.notes
    report["total_s"] = time.perf_counter() - started
    report["total_cpu_s"] = time.process_time() - started_cpu
    return report


def render_table(report: dict[str, Any]) -> str:
    """The figures as Markdown tables."""
    lines: list[str] = []
    if "encoder" in report:
        model = report["encoder"]["model"]
        lines += [
            f"Encoder: {model['model_id']}, window {model['max_seq_length']} tokens, "
            f"{report['machine'].get('torch_threads')} torch threads",
            "",
            "| texts | n | mean tokens | raw texts/s | ours texts/s (cold cache) | ours/raw | ours/raw by CPU time "
            "| warm cache texts/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, s in report["encoder"]["sets"].items():
            lines.append(
                f"| {name} | {s['texts']} | {s['mean_tokens']:.0f} | {s['raw_texts_per_s']:.0f} | "
                f"{s['ours_cold_texts_per_s']:.0f} | {s['ours_over_raw']:.3f} | {s['ours_over_raw_cpu']:.3f} | "
                f"{s['warm_cache_texts_per_s']:,.0f} |"
            )
        lines.append("")
    if "window" in report:
        w = report["window"]
        lines += [
            "| token window | texts/s | tickets longer than window |",
            "|---|---:|---:|",
            f"| 128 | {w['texts_per_s_128']:.0f} | {w['longer_than_128_tokens']:.1%} |",
            f"| 256 | {w['texts_per_s_256']:.0f} | {w['longer_than_256_tokens']:.1%} |",
            "",
            f"128 vs 256: {w['speedup_128_over_256']:.2f}x throughput ({w['speedup_128_over_256_cpu']:.2f}x by CPU "
            f"time), 10-NN agreement "
            f"{w['neighbour_agreement_at_10']:.3f}, mean cosine {w['cosine_128_vs_256_mean']:.3f}",
            "",
        ]
    if "batching" in report:
        b = report["batching"]
        lines += [
            f"Batching: length-sorted {b['sorted_texts_per_s']:.0f} texts/s, arrival order "
            f"{b['arrival_texts_per_s']:.0f} texts/s ({b['speedup_sorted']:.2f}x, {b['speedup_sorted_cpu']:.2f}x by "
            "CPU time)",
            "",
        ]
    if "threshold" in report:
        t = report["threshold"]
        lines += [
            "| exact search, vectors | single p50/p95 ms | single p50/p95 ms CPU |",
            "|---:|---:|---:|",
        ]
        lines += [
            f"| {r['vectors']:,} | {r['p50_ms']:.3f}/{r['p95_ms']:.3f} | "
            f"{r['cpu']['p50_ms']:.3f}/{r['cpu']['p95_ms']:.3f} |"
            for r in t["rows"]
        ]
        lines += [
            "",
            f"Largest size within the {t['budget_ms']} ms p95 budget: {t['largest_size_within_budget']} by wall "
            f"clock, {t['largest_size_within_budget_cpu']} by CPU time; configured exact_limit {t['exact_limit']:,}",
            "",
        ]
    if report.get("index"):
        lines += [
            "| vectors | index | build s (CPU s) | single p50/p95 ms | single p50/p95 ms CPU | "
            "batched p50/p95 ms/query | recall@10 | exact single p50/p95 ms | FAISS B/vector | process B/vector |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in report["index"]:
            kind = r["kind"] if not r["hnsw"] else f"hnsw M={r['hnsw']['links']} ef={r['hnsw']['ef_search']}"
            process = f"{r['process_bytes_per_vector']:.0f}" if r["process_bytes_per_vector"] else "n/a"
            lines.append(
                f"| {r['vectors']:,} | {kind} | {r['build_s']:.1f} ({r['build_cpu_s']:.0f}) | "
                f"{r['single']['p50_ms']:.3f}/"
                f"{r['single']['p95_ms']:.3f} | {r['single_cpu']['p50_ms']:.3f}/{r['single_cpu']['p95_ms']:.3f} | "
                f"{r['batched_per_query']['p50_ms']:.3f}/"
                f"{r['batched_per_query']['p95_ms']:.3f} | {r['recall_at_10']:.4f} | "
                f"{r['exact_single']['p50_ms']:.2f}/{r['exact_single']['p95_ms']:.2f} | "
                f"{r['faiss_bytes_per_vector']:.0f} | {process} |"
            )
        lines.append("")
    load = report["machine"]
    lines += [
        *(f"Note: {note}" for note in report.get("notes", [])),
        f"Total {report['total_s']:.0f} s wall, {report['total_cpu_s']:.0f} s CPU on {load['cpus']} CPUs; load average "
        f"before {load['load_average_before'][0]:.1f}, after {load['load_average_after'][0]:.1f} (other processes' "
        "load moves wall-clock figures)",
    ]
    return "\n".join(lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    """'10k,100k,1M' or '10000,100000' → sizes."""
    sizes = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1].lower(), 1)
        number = part[:-1] if scale != 1 else part
        try:
            value = int(float(number) * scale)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--sizes: {part!r} is not a size like 10000, 10k or 1M") from None
        if value < 20:
            raise argparse.ArgumentTypeError(f"--sizes: {part!r} is too small (at least 20 vectors)")
        sizes.append(value)
    return tuple(sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench_embeddings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="index sizes, e.g. 10k,100k,1M")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="folder with support-tickets/, banking77/")
    parser.add_argument("--tickets", type=int, default=300, help="ticket texts to encode")
    parser.add_argument("--short-texts", type=int, default=600, help="short texts to encode")
    parser.add_argument("--repeats", type=int, default=3, help="runs per encoder measurement (median kept)")
    parser.add_argument("--queries", type=int, default=500, help="held-out queries for latency and recall")
    parser.add_argument("--no-encoder", action="store_true", help="skip the encoder sections")
    parser.add_argument("--no-index", action="store_true", help="skip the index sections")
    parser.add_argument("--no-threshold", action="store_true", help="skip the exact-search threshold ladder")
    parser.add_argument("--model", default=None, help="embedding model (default: the installed all-MiniLM-L6-v2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run, print the tables, optionally write JSON."""
    args = build_parser().parse_args(argv)
    config = BenchConfig(
        sizes=args.sizes,
        datasets=args.datasets,
        tickets=args.tickets,
        short_texts=args.short_texts,
        repeats=max(1, args.repeats),
        queries=args.queries,
        encoder=not args.no_encoder,
        index=not args.no_index,
        threshold=not args.no_threshold,
        model=args.model,
    )
    report = run(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(render_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
