"""Benchmark of deskroute's cycle against a live Request Tracker: sync -> signals -> decide -> apply.

Two cycles are timed with :func:`router.loop.cycle.run_cycle`, each from an empty store (every ticket is new):

- **read path**, ``--tickets`` tickets (default 1,000) in ``shadow`` mode: every ticket is pulled with its
  messages, gets its signals and a decision, and its actions are recorded in the outbox; nothing is written
  to RT, so RT is left as it was and the same tickets serve every run and every repeat (the median of
  ``--repeats`` cycles is reported). The tickets live in a corpus queue that is filled once, untimed, through
  RT's bulk endpoint: RT 5 on SQLite takes roughly half a second to a second per ticket it creates, so 1,000
  fresh tickets per run would cost more than the whole benchmark may take.
- **write path**, ``--write-sample`` fresh tickets (default 50) in ``auto`` mode, in queues created for this
  run from the starter policy's RT queues: the same cycle plus every write (queue, priority, tags, notes).

The share of time in the models is ``seconds["signals"]`` of the cycle (encoding and predicting), and of that
the sentence encoder's own time is ``seconds["encoding"]``; the models
are loaded and warmed on one ticket before the clock starts. Ticket texts come from the support-tickets
dataset when it is present, else from a small synthetic set.

Tickets are created by the RT account the benchmark logs in with; deskroute is told that its own account is
another one (``BENCH_AGENT``), or it would take every ticket for a change of its own and decide nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

from connectors import Ticket
from connectors.rt import RTConnector, RTSettings
from policies import RoutingPolicy, parse_policy
from router.config import Settings, load_settings
from router.loop.cycle import CycleReport, run_cycle
from router.signals.signal_source import load_signal_source
from router.store import Store

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / ".." / "shared" / "datasets"
STARTER_POLICY = ROOT / "policies" / "examples" / "starter.yaml"
DEFAULT_RT_URL = os.environ.get("DESKROUTE_TEST_RT_URL", "http://127.0.0.1:8081")
# The account scripts/rt-setup.sh leaves on a fresh loopback RT; override for any other instance.
RT_USER_ENV, RT_PASSWORD_ENV = "DESKROUTE_TEST_RT_USER", "DESKROUTE_TEST_RT_PASSWORD"
BENCH_AGENT = "deskroute-bench-agent"
CUSTOMERS = 250  # distinct requestors, so that some customers have several tickets
CREATE_BATCH = 50  # tickets per bulk request
STEPS = ("sync", "signals", "decide", "apply")

SYNTHETIC = (
    ("Checkout is down", "Since this morning nobody can pay in our shop. Please help, we are losing orders."),
    ("Refund for invoice {n}", "I was charged twice for order {n}. Please refund the second payment."),
    ("Cannot log in", "After the update my password is rejected and the reset e-mail never arrives."),
    ("Question about delivery", "Do you ship to Norway, and how long does it take?"),
    ("Rechnung {n} ist falsch", "Auf der Rechnung {n} steht ein falscher Betrag. Bitte korrigieren."),
    ("Feature request: export", "Could the reports be exported to CSV? We need them for our accountants."),
    ("Return an item", "The jacket from order {n} does not fit. How do I send it back?"),
    ("VPN not reachable", "Our office VPN has been unavailable since 8:00, twenty people cannot work."),
)


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message says what to do."""


@dataclass(frozen=True)
class EngineBenchConfig:
    tickets: int = 1000
    write_sample: int = 50
    repeats: int = 1
    rt_url: str = DEFAULT_RT_URL
    username: str = "root"
    password: SecretStr = field(default_factory=lambda: SecretStr("password"))
    settings: Settings | None = None  # where the models are (data_dir); default: deskroute.toml / environment
    datasets: Path = DATASETS
    seed: int = 0


# ------------------------------------------------------------------------------------------------- RT setup
class BenchDesk:
    """The benchmark's own view of RT: queues and bulk ticket creation (the timed cycle uses the connector)."""

    def __init__(self, config: EngineBenchConfig):
        self.config = config
        self.http = httpx.Client(
            base_url=config.rt_url.rstrip("/"),
            auth=(config.username, config.password.get_secret_value()),
            timeout=300,
        )
        try:
            # A web session makes each REST call milliseconds instead of a password check.
            self.http.post(
                "/NoAuth/Login.html",
                data={"user": config.username, "pass": config.password.get_secret_value(), "next": ""},
            )
            self.version = str(self.rest("GET", "rt")["Version"])
        except httpx.HTTPError as exc:
            raise BenchError(
                f"Request Tracker at {config.rt_url} is unreachable ({type(exc).__name__}: {exc}); "
                "start it with scripts/rt-setup.sh or pass --rt-url"
            ) from None

    def close(self) -> None:
        self.http.close()

    def rest(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"/REST/2.0/{path}", **kw)
        # RT answers wrong credentials with 401, or with a redirect to its login page after a failed login.
        if response.status_code in (401, 302):
            raise BenchError(
                f"RT at {self.config.rt_url} refused the account {self.config.username!r}: "
                f"set {RT_USER_ENV} and {RT_PASSWORD_ENV}"
            )
        if response.status_code >= 400:
            raise BenchError(f"RT answered {method} {path} with {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError:
            raise BenchError(
                f"RT answered {method} {path} with something other than JSON ({response.status_code}): "
                f"{response.text[:200]!r}; is {self.config.rt_url} a Request Tracker 5?"
            ) from None

    def ensure_queue(self, name: str) -> None:
        found = self.rest("GET", "queues", params={"query": json.dumps([{"field": "Name", "value": name}])})
        if not found["items"]:
            self.rest("POST", "queue", json={"Name": name})

    def ticket_ids(self, query: str) -> list[int]:
        ids: list[int] = []
        page = 1
        while True:
            data = self.rest("GET", "tickets", params={"query": query, "per_page": 100, "page": page})
            ids += [int(item["id"]) for item in data["items"]]
            if len(data["items"]) < 100:
                return sorted(ids)
            page += 1

    def create(self, queue: str, texts: Sequence[tuple[str, str]], first: int, on_batch: Callable[[int], None]) -> None:
        for start in range(0, len(texts), CREATE_BATCH):
            batch = [
                {
                    "Queue": queue,
                    "Subject": subject,
                    "Content": body,
                    "Requestor": f"bench-customer-{(first + start + i) % CUSTOMERS}@example.com",
                }
                for i, (subject, body) in enumerate(texts[start : start + CREATE_BATCH])
            ]
            self.rest("POST", "tickets/bulk", json=batch)
            on_batch(len(batch))


# ------------------------------------------------------------------------------------------------- inputs
def ticket_texts(datasets: Path, count: int, seed: int) -> tuple[str, list[tuple[str, str]]]:
    """(where the texts come from, ``count`` subject/body pairs), the dataset's in a fixed shuffled order."""
    path = datasets / "support-tickets" / "tickets-en-de.csv"
    rng = random.Random(seed)
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [(r.get("subject") or "", r.get("body") or "") for r in csv.DictReader(handle)]
        rng.shuffle(rows)
        return "tickets-en-de", [rows[i % len(rows)] for i in range(count)]
    texts = []
    for i in range(count):
        subject, body = SYNTHETIC[i % len(SYNTHETIC)]
        n = str(rng.randrange(1000, 99999))
        texts.append((subject.format(n=n), body.format(n=n)))
    return "synthetic", texts


def bench_policy(prefix: str) -> tuple[RoutingPolicy, list[str]]:
    """The starter policy with its RT queues renamed ``prefix + name``, and those queue names."""
    data = yaml.safe_load(STARTER_POLICY.read_text(encoding="utf-8"))
    for where in data["queues"].values():
        where["rt"] = f"{prefix}{where['rt']}"
    queues = sorted({where["rt"] for where in data["queues"].values()})
    return parse_policy(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), str(STARTER_POLICY)), queues


# ------------------------------------------------------------------------------------------------- cycles
@contextmanager
def fresh_store() -> Iterator[Store]:
    """An empty SQLite store in a temporary folder, so that every ticket is new to the cycle."""
    with tempfile.TemporaryDirectory(prefix="deskroute-bench-") as folder:
        store = Store(f"sqlite:///{Path(folder) / 'deskroute.db'}")
        try:
            yield store
        finally:
            store.dispose()


def timed_cycle(
    config: EngineBenchConfig,
    cfg: Settings,
    policy: RoutingPolicy,
    *,
    mode: str,
    ticket_filter: str,
    outreach_queue: str,
    warm_text: tuple[str, str],
) -> tuple[CycleReport, dict[str, str]]:
    """One cycle from an empty store, models loaded and warmed first; returns it and the model versions."""
    with fresh_store() as store:
        source = load_signal_source(cfg, store)
        now = datetime.now(UTC)
        warm = Ticket(
            source="rt", external_id="warm-up", subject=warm_text[0], body=warm_text[1], created_at=now, updated_at=now
        )
        with store.session() as session:
            versions = dict(source.signals(session, warm, None, now).model_versions)
        connector = RTConnector(
            "rt",
            RTSettings(
                base_url=config.rt_url,
                username=config.username,
                password=config.password,
                ticket_filter=ticket_filter,
                agent_user=BENCH_AGENT,
                outreach_queue=outreach_queue,
            ),
        )
        encoders = _encoders(source)
        for encoder in encoders:
            # New tickets are never in the embedding cache; a cache warmed by an earlier run would hide encoding.
            encoder.cache = None
        encoding_before = sum(e.stats.model_seconds for e in encoders)
        try:
            report = run_cycle(store, connector, mode=mode, policy=policy, signal_source=source, now=now)
        finally:
            connector.close()
        # Time inside the sentence encoder, part of the signals step: what a GPU or a smaller model would cut.
        report.seconds["encoding"] = sum(e.stats.model_seconds for e in encoders) - encoding_before
    return report, versions


def _encoders(source: Any) -> list[Any]:
    """The distinct sentence encoders the signal source's text models use (none with rules only)."""
    text = getattr(source, "text", None)
    found: dict[int, Any] = {}
    for model in (getattr(text, "intent", None), getattr(text, "urgency", None)):
        encoder = getattr(model, "_encoder", None)
        if encoder is not None:
            found[id(encoder)] = encoder
    return list(found.values())


def summarise(reports: Sequence[CycleReport], tickets: int) -> dict[str, Any]:
    """Per-step seconds of the median run, its tickets/s and each step's share of the cycle."""
    runs: list[dict[str, Any]] = [
        {
            "seconds": dict(r.seconds),
            "tickets_per_second": tickets / r.seconds["total"],
            "outcomes": dict(r.engine.outcomes),
            "pulled": r.sync.tickets,
            "outbox": {
                "applied": r.outbox.applied,
                "already_applied": r.outbox.already_applied,
                "skipped": r.outbox.skipped,
                "failed": r.outbox.failed,
                "dead": r.outbox.dead,
                "errors": r.outbox.errors[:5],
            },
        }
        for r in reports
    ]
    # The median run (by total time; the lower one of an even count) gives every figure, so that its steps add
    # up to its total; the spread over all runs is kept beside it.
    totals = sorted(r.seconds["total"] for r in reports)
    middle = totals[(len(totals) - 1) // 2]
    median = next(dict(r.seconds) for r in reports if r.seconds["total"] == middle)
    return {
        "tickets": tickets,
        "mode": reports[0].mode,
        "repeats": len(reports),
        "median_seconds": median,
        "tickets_per_second": tickets / median["total"],
        "share": {k: median[k] / median["total"] for k in (*STEPS, "encoding") if k in median},
        "ms_per_ticket": {k: 1000 * median[k] / tickets for k in (*STEPS, "encoding", "total") if k in median},
        "total_seconds_all_runs": totals,
        "runs": runs,
    }


Progress = Callable[[int, int], None]  # (tickets created so far, tickets to create)


def run(
    config: EngineBenchConfig, log: Callable[[str], None] = print, progress: Progress | None = None
) -> dict[str, Any]:
    """Fill the corpus if needed, time the read-path cycles and the write-path cycle; every figure as a dict."""
    cfg = config.settings or load_settings()
    desk = BenchDesk(config)
    try:
        return _run(config, cfg, desk, log, progress)
    finally:
        desk.close()


def _run(
    config: EngineBenchConfig, cfg: Settings, desk: BenchDesk, log: Callable[[str], None], progress: Progress | None
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    origin, texts = ticket_texts(config.datasets, config.tickets + config.write_sample + 1, config.seed)
    report: dict[str, Any] = {
        "benchmark": "engine",
        "rt": {"url": config.rt_url, "version": desk.version},
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "texts": origin,
        "cycles": {},
    }

    # Read path: the corpus, filled once.
    corpus = f"deskroute-bench-{origin}"
    desk.ensure_queue(corpus)
    have = desk.ticket_ids(f"Queue = '{corpus}'")
    missing = config.tickets - len(have)
    started = time.perf_counter()
    if missing > 0:
        log(f"… creating {missing} tickets in RT queue {corpus!r} (once; later runs reuse them)")
        made = 0

        def created(n: int) -> None:
            nonlocal made
            made += n
            if progress is not None:
                progress(made, missing)
            else:
                log(f"  {made}/{missing} created, {time.perf_counter() - started:.0f} s")

        desk.create(corpus, texts[len(have) : config.tickets], len(have), created)
        have = desk.ticket_ids(f"Queue = '{corpus}'")
    report["corpus"] = {
        "queue": corpus,
        "tickets": config.tickets,
        "created_now": max(missing, 0),
        "create_seconds": time.perf_counter() - started,
    }
    chosen = have[: config.tickets]
    policy, team_queues = bench_policy(f"deskroute-bench-{run_id}-")
    read_filter = f"Queue = '{corpus}' AND id >= {chosen[0]} AND id <= {chosen[-1]}"
    reads: list[CycleReport] = []
    versions: dict[str, str] = {}
    for repeat in range(config.repeats):
        log(f"… read path: cycle {repeat + 1}/{config.repeats} over {config.tickets} tickets (shadow mode)")
        cycle, versions = timed_cycle(
            config, cfg, policy, mode="shadow", ticket_filter=read_filter, outreach_queue=corpus, warm_text=texts[-1]
        )
        reads.append(cycle)
        log(f"  {config.tickets / cycle.seconds['total']:.1f} tickets/s, {cycle.seconds['total']:.1f} s")
    report["models"] = versions
    report["cycles"]["read"] = summarise(reads, config.tickets)

    # Write path: fresh tickets in this run's queues, every action written.
    if config.write_sample > 0:
        prefix = f"deskroute-bench-{run_id}-"
        inbox = f"{prefix}Inbox"
        log(f"… write path: {len(team_queues) + 1} queues and {config.write_sample} tickets for run {run_id}")
        for queue in (inbox, *team_queues):
            desk.ensure_queue(queue)
        desk.create(inbox, texts[config.tickets : config.tickets + config.write_sample], 0, lambda n: None)
        log(f"… write path: cycle over {config.write_sample} tickets (auto mode)")
        cycle, _ = timed_cycle(
            config,
            cfg,
            policy,
            mode="auto",
            ticket_filter=f"Queue LIKE '{prefix}%'",
            outreach_queue=inbox,
            warm_text=texts[-1],
        )
        report["cycles"]["write"] = summarise([cycle], config.write_sample)
        report["cycles"]["write"]["queue_prefix"] = prefix
        log(f"  {config.write_sample / cycle.seconds['total']:.1f} tickets/s, {cycle.seconds['total']:.1f} s")
    return report


# ------------------------------------------------------------------------------------------------- report
def render_table(report: dict[str, Any]) -> str:
    """The figures as Markdown: one row per cycle, each step's share of the time and ms per ticket."""
    models = ", ".join(f"{k} {v}" for k, v in sorted(report["models"].items())) or "none (rules only)"
    lines = [
        f"deskroute cycle against RT {report['rt']['version']} at {report['rt']['url']}; "
        f"{report['machine']['cpus']} CPUs; models: {models}; texts: {report['texts']}",
        "",
        "| cycle | tickets | tickets/s | sync | signals (encoding, models) | decide | apply | total s (range) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"read": "read path: shadow, nothing written", "write": "write path: auto, every action written"}
    for key, c in report["cycles"].items():
        cells = [f"{c['share'][s]:.1%} ({c['ms_per_ticket'][s]:.1f} ms/t)" for s in STEPS]
        median = f", median of {c['repeats']} runs" if c["repeats"] > 1 else ""
        spread = c.get("total_seconds_all_runs") or []
        total = f"{c['median_seconds']['total']:.1f}"
        if len(spread) > 1:
            total += f" ({spread[0]:.1f}–{spread[-1]:.1f})"
        lines.append(
            f"| {names[key]}{median} | {c['tickets']} | {c['tickets_per_second']:.2f} | {' | '.join(cells)} | {total} |"
        )
    lines.append("")
    for key, c in report["cycles"].items():
        if c["share"].get("encoding"):
            lines.append(
                f"{key}: sentence encoding {c['share']['encoding']:.1%} of the cycle "
                f"({c['ms_per_ticket']['encoding']:.1f} ms/t); everything else "
                f"{1 - c['share']['encoding']:.1%}"
            )
    for key, c in report["cycles"].items():
        last = c["runs"][-1]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(last["outcomes"].items())) or "none"
        box = last["outbox"]
        lines.append(
            f"{key}: pulled {last['pulled']}; decisions: {outcomes}; outbox: {box['applied']} applied, "
            f"{box['already_applied']} already there, {box['skipped']} skipped by mode, "
            f"{box['failed']} failed, {box['dead']} dead"
        )
    corpus = report["corpus"]
    created = ""
    if corpus["created_now"]:
        created = f", {corpus['created_now']} created now in {corpus['create_seconds']:.0f} s"
    lines.append(f"corpus: {corpus['tickets']} tickets in {corpus['queue']!r}{created}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench_engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000, help="tickets in the read-path cycle")
    parser.add_argument("--write-sample", type=int, default=50, help="fresh tickets in the write-path cycle")
    parser.add_argument("--repeats", type=int, default=1, help="read-path cycles (the median is reported)")
    parser.add_argument("--rt-url", default=DEFAULT_RT_URL, help="the RT to benchmark against (a test instance)")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="folder with support-tickets/")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return parser


def config_from_env(**kwargs: Any) -> EngineBenchConfig:
    """The configuration with RT credentials from DESKROUTE_TEST_RT_USER / _PASSWORD (rt-setup.sh's defaults)."""
    return EngineBenchConfig(
        username=os.environ.get(RT_USER_ENV, "root"),
        password=SecretStr(os.environ.get(RT_PASSWORD_ENV, "password")),
        **kwargs,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run, print the table, optionally write JSON."""
    args = build_parser().parse_args(argv)
    if args.tickets < 1 or args.write_sample < 0 or args.repeats < 1:
        print("--tickets and --repeats must be at least 1, --write-sample at least 0", file=sys.stderr)
        return 2
    config = config_from_env(
        tickets=args.tickets,
        write_sample=args.write_sample,
        repeats=args.repeats,
        rt_url=args.rt_url,
        datasets=args.datasets,
    )
    try:
        report = run(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
