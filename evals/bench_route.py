"""Latency of routing one ticket at a time with warm models: ``Runtime.route`` in this process.

The tickets are the bundled sample's (examples/sample/tickets.csv), whose lengths run from a subject line to a
long thread, routed one after another as a helpdesk app or a webhook sends them. Every ticket is new to the
encoder (its embedding cache is off for the run), as a helpdesk's new tickets are. Reported: p50/p95/p99 of the
whole call in milliseconds, and each step's share of the time summed over all calls: ``encode`` (the sentence
encoder), ``language`` (language detection), ``classify`` (the rest of the models: classifiers, churn) and
``decide`` (the policy, the outreach history and the actions as they would be queued).
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from connectors import Ticket
from connectors.files import RowMapper, read_rows
from router.runtime import Runtime
from router.signals.signal_source import ModelSignals

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TICKETS = ROOT / "examples" / "sample" / "tickets.csv"
STEPS = ("encode", "classify", "language", "decide")
WARM_UP = 3  # routed before the clock starts: models load, first-call allocations happen


def sample_tickets(path: Path = SAMPLE_TICKETS, count: int | None = None, *, source: str = "bench") -> list[Ticket]:
    """``count`` tickets of the sample CSV spread evenly over it (all of them when None), so lengths vary."""
    mapper = RowMapper("tickets", path=path, source=source)
    tickets: list[Ticket] = []
    for line, row in read_rows(path):
        parsed = mapper.map(line, row)
        record = getattr(parsed, "record", None)
        if isinstance(record, Ticket):
            tickets.append(record)
    if not tickets:
        raise ValueError(f"{path}: no ticket rows (expected columns id, subject, body)")
    if count is None or count >= len(tickets):
        return tickets
    step = len(tickets) / count
    return [tickets[int(i * step)] for i in range(count)]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0-100) by the nearest-rank method: a value that was measured."""
    if not values:
        raise ValueError("no values to take a percentile of")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_figures(milliseconds: Sequence[float], prefix: str) -> dict[str, float]:
    """``{prefix}_p50_ms``, ``_p95_ms``, ``_p99_ms`` and ``_max_ms``, rounded to 0.1 ms."""
    return {
        f"{prefix}_p50_ms": round(percentile(milliseconds, 50), 1),
        f"{prefix}_p95_ms": round(percentile(milliseconds, 95), 1),
        f"{prefix}_p99_ms": round(percentile(milliseconds, 99), 1),
        f"{prefix}_max_ms": round(max(milliseconds), 1),
    }


def _encoders(runtime: Runtime) -> list[Any]:
    """The distinct sentence encoders of the runtime's text models (none with rules only)."""
    source = runtime.signal_source()
    text = source.text if isinstance(source, ModelSignals) else None
    return text.encoders() if text is not None else []


def measure_route(
    runtime: Runtime, tickets: Sequence[Ticket], *, on_ticket: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Route ``tickets`` one at a time after a warm-up; latency percentiles and each step's share."""
    from router.predict.language_detection import default_detector

    if len(tickets) <= WARM_UP:
        raise ValueError(f"give more than {WARM_UP} tickets: the first {WARM_UP} only warm the models up")
    encoders = _encoders(runtime)
    for encoder in encoders:
        encoder.cache = None  # every ticket new to the encoder, as in a helpdesk
    for ticket in tickets[:WARM_UP]:
        runtime.route(ticket)
    detector = default_detector()
    encode_before = sum(e.stats.model_seconds for e in encoders)
    language_before = detector.seconds
    total_ms: list[float] = []
    signals = decide = 0.0
    # CPU time of this process (all its threads): on cores shared with other work, wall times measure the
    # neighbours too, CPU time per ticket measures deskroute.
    cpu_started = time.process_time()
    for i, ticket in enumerate(tickets[WARM_UP:], start=1):
        started = time.perf_counter()
        routed = runtime.route(ticket)
        total_ms.append((time.perf_counter() - started) * 1000)
        signals += routed.seconds.get("signals", 0.0)
        decide += routed.seconds.get("decide", 0.0)
        if on_ticket is not None:
            on_ticket(i)
    cpu = time.process_time() - cpu_started
    encode = sum(e.stats.model_seconds for e in encoders) - encode_before
    language = detector.seconds - language_before
    spent = {
        "encode": encode,
        "language": language,
        "classify": max(signals - encode - language, 0.0),
        "decide": decide,
    }
    whole = sum(total_ms) / 1000
    lengths = [len(t.text) for t in tickets[WARM_UP:]]
    return {
        "benchmark": "route",
        "tickets": len(total_ms),
        **latency_figures(total_ms, "route"),
        "cpu_ms_per_ticket": round(cpu * 1000 / len(total_ms), 1),
        "share": {step: round(spent[step] / whole, 3) if whole else 0.0 for step in STEPS},
        "step_ms_mean": {step: round(spent[step] * 1000 / len(total_ms), 1) for step in STEPS},
        "other_share": round(max(whole - sum(spent.values()), 0.0) / whole, 3) if whole else 0.0,
        "text_chars": {"min": min(lengths), "median": sorted(lengths)[len(lengths) // 2], "max": max(lengths)},
        "models": runtime.signal_source().model_versions,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def render_lines(report: dict[str, Any], prefix: str = "route") -> list[tuple[str, str]]:
    """(measure, value) rows for a table."""
    rows = [
        ("tickets routed one at a time", str(report["tickets"])),
        ("p50 ms", f"{report[f'{prefix}_p50_ms']:.1f}"),
        ("p95 ms", f"{report[f'{prefix}_p95_ms']:.1f}"),
        ("p99 ms", f"{report[f'{prefix}_p99_ms']:.1f}"),
        ("max ms", f"{report[f'{prefix}_max_ms']:.1f}"),
    ]
    if "cpu_ms_per_ticket" in report:
        rows.append(("CPU ms per ticket (all threads)", f"{report['cpu_ms_per_ticket']:.1f}"))
    for step, share in report.get("share", {}).items():
        mean = report.get("step_ms_mean", {}).get(step)
        rows.append((f"share: {step}", f"{share:.0%}" + (f" ({mean:.1f} ms/ticket)" if mean is not None else "")))
    return rows
