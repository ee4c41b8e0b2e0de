"""``/healthz`` (the process answers), ``/readyz`` (it can do its work) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.runtime import Runtime
from router.service import jobs_heartbeat
from router.service.api_auth import metrics_allowed
from router.service.api_models import Check, Health, Problem, Readiness
from router.store import current_revision, head_revision
from router.store.policies import active_policy

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive and answering."""
    return Health(status="ok")


def _check(name: str, runtime: Runtime) -> Check:
    """One readiness check; its failure's message is our own (no driver text, which can quote a URL)."""
    store = runtime.store
    try:
        if name == "database":
            with store.session() as session:
                session.connection()
            return Check(ok=True, detail=store.safe_url)
        if name == "schema":
            current, head = current_revision(store.engine), head_revision()
            ok = current == head
            return Check(
                ok=ok, detail=f"at {current}" if ok else f"at {current}, expected {head}: deskroute db upgrade"
            )
        if name == "models":
            versions = runtime.signal_source().model_versions
            shown = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
            return Check(ok=True, detail=shown or "no trained models: the policy's rules alone")
        if name == "policy":
            runtime.policy()  # seeds the configured policy on first use
            with store.session() as session:
                stored = active_policy(session)
            return Check(ok=stored is not None, detail=stored.version if stored else "no active policy")
        ok, detail = jobs_heartbeat.jobs_running(store)
        return Check(ok=ok, detail=detail)
    except Exception as exc:  # a readiness probe answers whatever broke; the type says which part
        return Check(ok=False, detail=f"{name} check failed ({type(exc).__name__}); see the service log")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request) -> JSONResponse:
    """Ready: the database answers, the schema is current, the models load, a policy is active, jobs run."""
    runtime = request.app.state.runtime
    checks = {name: _check(name, runtime) for name in ("database", "schema", "models", "policy", "jobs")}
    ready = all(c.ok for c in checks.values())
    return JSONResponse(Readiness(ready=ready, checks=checks).model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"},
        401: {"model": Problem},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: open unless the service was started with a metrics token."""
    if not metrics_allowed(request, request.app.state.metrics_token):
        return JSONResponse(Problem(detail="/metrics needs the configured metrics token").model_dump(), status_code=401)
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
