"""``deskroute serve``: the HTTP API, webhooks and metrics on uvicorn, with the scheduled jobs unless --no-jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectors.redaction import register_secret
from router.cli.common import ConfigOption, console, fail, open_store, settings, user_errors
from router.runtime import Runtime

if TYPE_CHECKING:
    from router.service import ScheduledJobs

METRICS_TOKEN_ENV = "DESKROUTE_METRICS_TOKEN"


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port to listen on."),
    no_jobs: bool = typer.Option(
        False, "--no-jobs", help="Serve requests only: separate `deskroute worker` processes run the scheduled jobs."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Serve the HTTP API (see /docs) and, unless --no-jobs, run each connector's sync -> decide -> apply cycle.

    /metrics is open unless $DESKROUTE_METRICS_TOKEN is set; then Prometheus must send it as a bearer token.
    """
    import uvicorn

    from router.service import create_app
    from router.service.request_log import configure_logging

    cfg = settings(config)
    metrics_token = os.environ.get(METRICS_TOKEN_ENV) or None
    if metrics_token is not None:
        if len(metrics_token) < 16:
            raise fail(f"${METRICS_TOKEN_ENV} is shorter than 16 characters; use a long random value")
        register_secret(metrics_token)
    with user_errors():
        runtime = Runtime(cfg, store=open_store(cfg))
    with runtime:
        jobs = None if no_jobs else _start_jobs(runtime)
        app = create_app(runtime, jobs=jobs, metrics_token=metrics_token)
        configure_logging()
        console.print(f"deskroute serving on http://{host}:{port} ({'no jobs' if no_jobs else 'with the jobs'})")
        try:
            uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, server_header=False)
        finally:
            if jobs is not None:
                jobs.shutdown()


def _start_jobs(runtime: Runtime) -> ScheduledJobs:
    """The scheduled work, started in this process: the one call a worker pool replaces (serve --no-jobs)."""
    from router.service import ScheduledJobs

    jobs = ScheduledJobs(runtime)
    jobs.start()
    return jobs
