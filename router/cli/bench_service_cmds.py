"""``deskroute bench service``: the real HTTP service in a process of its own, measured from a client on loopback.

Routing: the bundled sample's tickets, one at a time, to ``POST /v1/route`` (p50/p95/p99 and the share of the
service's steps). Webhooks: the acceptance latency of signed deliveries sent one at a time, then the deliveries/s
of concurrent clients; afterwards the store must hold every accepted delivery exactly once.

Nothing of the configured deployment is touched: the service runs with the jobs off on a store, a data dir and a
``file`` connector of its own in a temporary folder, with the configured models (or the demo's, fitted for the
run) linked in. It needs nothing outside this repository (no ``../shared``).
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

import router
from router.cli.bench_route_cmds import bench_models
from router.cli.common import ConfigOption, console, err_console, fail, progress, settings
from router.cli.options import output_file, write_output
from router.config import Settings

CONNECTOR = "bench"
SECRET_ENV = "DESKROUTE_BENCH_WEBHOOK_SECRET"
READY_SECONDS = 180.0  # the models load before /readyz says so: the encoder alone can take a minute on a busy machine
STOP_SECONDS = 20.0
# What must pass on /readyz; "jobs" never does here, since the service runs with the jobs off.
READY_CHECKS = ("database", "schema", "models", "policy")
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class BenchWorkspace:
    """The temporary deployment the service runs on: its config, store, secret and token."""

    folder: Path
    config: Path
    database_url: str
    data_dir: Path
    policy: Path
    secret: str
    token: str

    @property
    def log(self) -> Path:
        return self.folder / "serve.log"

    def env(self) -> dict[str, str]:
        # The service runs this very deskroute, wherever it was imported from (a checkout, not only an install).
        here = str(Path(router.__file__).resolve().parents[1])
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
            "DESKROUTE_CONFIG": str(self.config),
            # Named here as well as in the file: an inherited DESKROUTE_* variable would win over the file.
            "DESKROUTE_DATABASE_URL": self.database_url,
            "DESKROUTE_DATA_DIR": str(self.data_dir),
            "DESKROUTE_POLICY": str(self.policy),
            SECRET_ENV: self.secret,
        }


def service(
    tickets: int = typer.Option(200, "--tickets", min=10, help="Sample tickets to route one by one."),
    deliveries: int = typer.Option(
        1000,
        "--deliveries",
        min=10,
        max=1_000_000,
        help="Webhook deliveries sent one at a time (acceptance latency); the concurrent clients send at most as many.",
    ),
    clients: int = typer.Option(8, "--clients", min=1, max=64, help="Concurrent webhook clients."),
    seconds: float = typer.Option(
        20.0, "--seconds", min=1.0, max=600.0, help="Time limit of the concurrent webhook clients, in seconds."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Also write every figure to this JSON file."),
    config: Path | None = ConfigOption,
) -> None:
    """The HTTP service as a client sees it: route latency, webhook acceptance and deliveries/s, none lost.

    Starts `deskroute serve --no-jobs` on 127.0.0.1 with a temporary store and file connector, and the models of
    the configured data_dir (with none trained there, the demo's, fitted in a temporary folder first: a few
    minutes). Exits 1 when any accepted delivery is missing from the store or stored twice.
    """
    if json_path is not None:
        output_file(json_path, "--json")
    from evals.bench_route import sample_tickets
    from evals.bench_service import WARM_UP
    from router.store.model_registry import list_versions

    cfg = settings(config)
    chosen = sample_tickets(count=tickets + WARM_UP)
    trained = bool(list_versions(cfg.models_dir, "text", "queue"))
    with (
        bench_models(cfg, trained) as (used, origin),
        tempfile.TemporaryDirectory(prefix="deskroute-bench-service-") as folder,
    ):
        workspace = make_workspace(Path(folder), used, _policy(cfg, trained))
        with served(workspace) as url:
            report, accepted = _measure(url, workspace, chosen, deliveries, clients, seconds)
        # Read once the service has stopped: whatever it answered 202 must be in the store by now.
        from evals.bench_service import delivery_check

        report.update(delivery_check(accepted, stored_delivery_ids(workspace.database_url)))
    report["models_from"] = origin
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    console.print(_table(report))
    if json_path is not None:
        write_output(json_path, json.dumps(report, indent=2) + "\n", "--json")
        err_console.print(f"wrote {json_path}")
    problems = delivery_problems(report)
    if problems:
        raise fail("; ".join(problems))


def _policy(cfg: Settings, trained: bool) -> Path:
    """The configured policy file beside the configured models; else the demo's, whose queues its models know."""
    from router.cli import demo

    if trained and cfg.policy is not None:
        return cfg.policy.resolve()
    return demo.DEMO_POLICY


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string, except that TOML wants DEL escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def make_workspace(folder: Path, used: Settings, policy: Path) -> BenchWorkspace:
    """A store with a route token, a data dir holding ``used``'s models, a file connector taking signed webhooks."""
    from connectors.redaction import register_secret
    from router.store import Store
    from router.store.api_tokens import create_token

    data_dir = folder / "data"
    data_dir.mkdir()
    # A data dir of its own, not the models' own: the service's embedding cache starts empty (every sample ticket
    # is new to the encoder, as a helpdesk's new tickets are) and nothing is written where the models live.
    try:
        (data_dir / "models").symlink_to(used.models_dir.resolve(), target_is_directory=True)
    except OSError:  # no symbolic links here (some Windows accounts): a copy serves as well
        shutil.copytree(used.models_dir, data_dir / "models")
    tickets = folder / "tickets.csv"
    tickets.write_text("id,subject,body\n", encoding="utf-8")
    database_url = f"sqlite:///{folder / 'bench.db'}"
    lines = [f"database_url = {_toml_string(database_url)}"]
    lines += [f"data_dir = {_toml_string(str(data_dir))}", f"policy = {_toml_string(str(policy))}", "[embeddings]"]
    # The models' encoder settings: the service must encode as they were trained.
    for key, value in used.embeddings.model_dump().items():
        if value is not None:
            lines.append(f"{key} = {_toml_string(value) if isinstance(value, str) else json.dumps(value)}")
    lines += [
        f"[connectors.{CONNECTOR}]",
        'type = "file"',
        'mode = "shadow"',
        "poll_interval_seconds = 3600",
        f"path = {_toml_string(str(tickets))}",
        f"actions_path = {_toml_string(str(folder / 'actions.jsonl'))}",
        f'webhook_secret_env = "{SECRET_ENV}"',
    ]
    config = folder / "deskroute.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(database_url)
    try:
        with store.session() as session:
            # read is what a dry-run POST /v1/route needs; webhooks are verified by their secret, not a token.
            _, token = create_token(session, "bench-service", "read", "deskroute bench service")
            session.commit()
    finally:
        store.dispose()
    secret = secrets.token_urlsafe(32)
    register_secret(secret)
    register_secret(token)
    return BenchWorkspace(folder, config, database_url, data_dir, policy, secret, token)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines the service wrote, secrets masked."""
    from connectors.redaction import redact

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return redact("\n".join(text.splitlines()[-lines:])) or "(nothing)"


@contextmanager
def served(workspace: BenchWorkspace, ready_seconds: float = READY_SECONDS) -> Iterator[str]:
    """``deskroute serve --no-jobs`` on a free loopback port until the block ends (by any exit, Ctrl-C included)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "router.cli", "serve", "--no-jobs", "--host", "127.0.0.1", "--port", str(port)]
    with workspace.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=workspace.folder, env=workspace.env(), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(process, url, workspace.log, ready_seconds)
            yield url
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the service; killed when it has not exited after STOP_SECONDS."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    last = "no answer"
    with (
        httpx.Client(base_url=url, timeout=10) as http,
        err_console.status("starting deskroute serve --no-jobs (loading the models)"),
    ):
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise fail(
                    f"deskroute serve exited with status {process.returncode} before it was ready; its last "
                    f"lines:\n{log_tail(log)}"
                )
            try:
                answer = http.get("/readyz")
                checks = answer.json().get("checks", {})
                failing = [name for name in READY_CHECKS if not checks.get(name, {}).get("ok")]
                if not failing:
                    return
                last = "; ".join(f"{name}: {checks.get(name, {}).get('detail', '?')}" for name in failing)
            except (httpx.HTTPError, ValueError, AttributeError):
                pass  # not listening yet, or not answering JSON yet
            time.sleep(0.2)
    raise fail(f"deskroute serve was not ready after {seconds:.0f}s ({last}); its last lines:\n{log_tail(log)}")


def _measure(
    url: str, workspace: BenchWorkspace, tickets: Sequence[Any], deliveries: int, clients: int, seconds: float
) -> tuple[dict[str, Any], list[str]]:
    """Routing, then webhook acceptance, then concurrent deliveries; the report and every accepted delivery id."""
    from evals.bench_service import (
        WARM_UP,
        ServiceBenchError,
        measure_service,
        measure_webhook_acceptance,
        measure_webhook_throughput,
    )

    with progress(transient=True) as bar:
        try:
            routing = bar.add_task("routing one ticket at a time", total=len(tickets) - WARM_UP)
            report = measure_service(
                url, workspace.token, tickets, on_ticket=lambda n: bar.update(routing, completed=n)
            )
            one = bar.add_task("webhook deliveries one at a time", total=deliveries)
            accept, sequential = measure_webhook_acceptance(
                url, CONNECTOR, workspace.secret, deliveries, on_delivery=lambda n: bar.update(one, completed=n)
            )
            many = bar.add_task(f"webhook deliveries from {clients} clients", total=deliveries)
            rate, concurrent = measure_webhook_throughput(
                url,
                CONNECTOR,
                workspace.secret,
                deliveries=deliveries,
                clients=clients,
                seconds=seconds,
                on_delivery=lambda n: bar.update(many, completed=n),
            )
        except ServiceBenchError as exc:
            raise fail(f"{exc}; the service's last lines:\n{log_tail(workspace.log)}") from None
    share = report.get("share", {})
    if share:
        # The rest of the time the client waited: HTTP, request validation, the answer's JSON, the event loop.
        report["other_share"] = round(max(1.0 - sum(share.values()), 0.0), 3)
    report.update(accept)
    report.update(rate)
    report["webhook_accept_deliveries"] = len(sequential.answers)
    refused = sequential.refused() + concurrent.refused()
    report["webhook_refused"] = sum(refused.values())
    report["webhook_refused_by_status"] = {str(status): n for status, n in sorted(refused.items())}
    return report, [*sequential.accepted, *concurrent.accepted]


def stored_delivery_ids(database_url: str) -> list[str]:
    """Every stored delivery id of the benchmark's connector, one per row (a duplicate shows twice)."""
    from sqlmodel import select

    from router.store import Store
    from router.store.tables import WebhookDeliveryRow

    store = Store(database_url)
    try:
        with store.session() as session:
            query = select(WebhookDeliveryRow.delivery_id).where(WebhookDeliveryRow.connector == CONNECTOR)
            return [str(ident) for ident in session.exec(query).all()]
    finally:
        store.dispose()


def delivery_problems(report: dict[str, Any]) -> list[str]:
    """What makes the run a failure: accepted deliveries lost or stored twice, deliveries not accepted."""
    problems = []
    if report.get("webhook_lost"):
        problems.append(f"{report['webhook_lost']} accepted webhook deliveries are missing from the store")
    if report.get("webhook_duplicated"):
        problems.append(f"{report['webhook_duplicated']} webhook deliveries are stored more than once")
    if report.get("webhook_refused"):
        statuses = ", ".join(
            f"{n} answered {status if status != '0' else 'nothing'}"
            for status, n in report.get("webhook_refused_by_status", {}).items()
        )
        problems.append(f"{report['webhook_refused']} webhook deliveries were not accepted ({statuses})")
    return problems


def _table(report: dict[str, Any]) -> Table:
    from evals.bench_route import render_lines

    table = Table(title="deskroute serve --no-jobs from a loopback client")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for measure, value in render_lines(report):
        table.add_row(measure, value)
    if "other_share" in report:
        table.add_row("share: HTTP, validation, JSON", f"{report['other_share']:.0%}")
    table.add_row("webhook deliveries one at a time", str(report["webhook_accept_deliveries"]))
    table.add_row("webhook acceptance p50 ms", f"{report['webhook_accept_p50_ms']:.1f}")
    table.add_row("webhook acceptance p95 ms", f"{report['webhook_accept_p95_ms']:.1f}")
    table.add_row(f"webhook deliveries by {report['clients']} clients", str(report["deliveries"]))
    table.add_row("webhook deliveries/s (accepted)", f"{report['webhook_deliveries_per_s']:,.1f}")
    table.add_row("webhook deliveries not accepted", str(report["webhook_refused"]))
    table.add_row("accepted deliveries lost", str(report["webhook_lost"]))
    table.add_row("accepted deliveries stored twice", str(report["webhook_duplicated"]))
    table.add_row("models", str(report["models_from"]))
    return table
