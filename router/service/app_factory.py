"""The FastAPI application: one per process, built on that process's Runtime."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from policies import PolicyError
from router.runtime import Runtime
from router.service import (
    event_routes,
    health_routes,
    outbox_routes,
    policy_routes,
    routing_routes,
    webhook_routes,
)
from router.service.api_models import Problem
from router.service.request_log import REQUEST_ID_HEADER, request_id, request_ids
from router.service.scheduled_jobs import ScheduledJobs
from router.service.service_metrics import ServiceMetrics
from router.store import StoreError
from router.store.policies import PolicyStoreError

log = logging.getLogger("deskroute.service")

DESCRIPTION = """deskroute's HTTP API: route tickets, read decisions, manage routing policies and the outbox,
and receive helpdesk webhooks. Every /v1 endpoint needs an API token (`deskroute tokens create`) of scope
`read`, `write` or `admin`, sent as `Authorization: Bearer TOKEN`."""


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(Problem(detail=detail).model_dump(), status_code=status)


def create_app(runtime: Runtime, *, jobs: ScheduledJobs | None = None, metrics_token: str | None = None) -> FastAPI:
    """The service for ``runtime``; ``jobs`` are the scheduled jobs this process runs (None: other processes do)."""
    app = FastAPI(title="deskroute", version="1", description=DESCRIPTION)
    app.state.runtime = runtime
    app.state.jobs = jobs
    app.state.metrics = ServiceMetrics(runtime.store)
    app.state.metrics_token = metrics_token
    app.middleware("http")(request_ids)
    for area in (webhook_routes, routing_routes, event_routes, policy_routes, outbox_routes, health_routes):
        app.include_router(area.router)

    @app.exception_handler(PolicyStoreError)
    async def _policy_store(request: Request, exc: PolicyStoreError) -> JSONResponse:
        return _problem(409, str(exc))

    @app.exception_handler(PolicyError)
    async def _policy(request: Request, exc: PolicyError) -> JSONResponse:
        problem = Problem(detail="the stored policy is invalid", issues=[str(i) for i in exc.issues])
        return JSONResponse(problem.model_dump(), status_code=409)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store unavailable: %s", exc)
        return _problem(503, "the store cannot be used now; see the service log for this request id")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ident = getattr(request.state, "request_id", "-")
        token = request_id.set(ident)
        try:
            # The type and first line only: a traceback (local values, paths) never reaches a log or a caller.
            log.error("unexpected error", exc_info=exc)
        finally:
            request_id.reset(token)
        answer = _problem(500, f"internal error; the service log has it under request id {ident}")
        answer.headers[REQUEST_ID_HEADER] = ident
        return answer

    return app
