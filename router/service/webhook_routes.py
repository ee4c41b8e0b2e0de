"""``POST /webhooks/{connector}``: a helpdesk's hint that tickets changed, verified, stored, answered at once."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from connectors.errors import WebhookUnsupported, excerpt
from connectors.webhooks import MAX_WEBHOOK_BYTES, WebhookDelivery, WebhookRefused
from router.config import ConfigError
from router.runtime import Runtime
from router.service.api_models import Problem, WebhookAnswer, WebhookRefusal
from router.store.webhook_inbox import Accepted, accept_delivery

log = logging.getLogger("deskroute.service")
router = APIRouter(tags=["webhooks"])

# Forged and stale deliveries are the sender's credentials or clock at fault; the others its request.
_STATUS = {"forged": 401, "stale": 401, "too_large": 413, "malformed": 400}


def _verify(runtime: Runtime, name: str, headers: dict[str, str], body: bytes) -> WebhookDelivery:
    return runtime.connector(name).verify_webhook(headers, body, runtime.clock())


def _store(runtime: Runtime, name: str, delivery: WebhookDelivery) -> Accepted:
    with runtime.store.session() as session:
        return accept_delivery(session, name, delivery, now=runtime.clock())


class _TooLarge(Exception):
    pass


async def _bounded_body(request: Request) -> bytes:
    """The body, read no further than one byte past the limit (a declared length over it is refused unread)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal(request: Request, connector: str, result: str, status: int, detail: str) -> JSONResponse:
    request.app.state.metrics.webhooks.labels(connector, result).inc()
    log.info("webhook refused: %s", detail, extra={"connector": connector, "result": result})
    return JSONResponse(WebhookRefusal(result=result, detail=detail).model_dump(), status_code=status)


@router.post(
    "/webhooks/{connector}",
    status_code=202,
    response_model=WebhookAnswer,
    responses={
        200: {"model": WebhookAnswer, "description": "the same delivery id was accepted before; nothing changed"},
        400: {"model": WebhookRefusal, "description": "malformed: a missing header, a body that is not JSON"},
        401: {"model": WebhookRefusal, "description": "forged (bad secret or signature) or stale (replay window)"},
        404: {"model": WebhookRefusal, "description": "no such connector, or it takes no webhooks"},
        413: {"model": WebhookRefusal, "description": "the body is larger than the limit"},
        503: {"model": Problem, "description": "the store cannot be reached; the sender should retry"},
    },
)
async def receive_webhook(connector: str, request: Request) -> JSONResponse:
    """Verify a delivery the connector's way, store it durably and answer at once; the loop re-reads the tickets."""
    runtime: Runtime = request.app.state.runtime
    name = connector if connector in runtime.settings.connectors else "(unknown)"
    if name == "(unknown)":
        return _refusal(request, name, "unknown_connector", 404, f"no connector is named {excerpt(connector, 60)}")
    try:
        body = await _bounded_body(request)
    except _TooLarge:
        return _refusal(request, name, "too_large", 413, f"the body is larger than {MAX_WEBHOOK_BYTES:,} bytes")
    except ClientDisconnect:
        return _refusal(request, name, "malformed", 400, "the sender closed the connection before the body ended")
    try:
        # Building a connector and storing a delivery are blocking calls: off the event loop, in the thread pool.
        delivery = await run_in_threadpool(_verify, runtime, name, dict(request.headers), body)
    except WebhookRefused as exc:
        return _refusal(request, name, exc.reason, _STATUS[exc.reason], str(exc))
    except (WebhookUnsupported, ConfigError) as exc:  # the connector takes no webhooks as configured
        return _refusal(request, name, "unsupported", 404, str(exc))
    accepted = await run_in_threadpool(_store, runtime, name, delivery)
    result = "accepted" if accepted.new else "already_accepted"
    request.app.state.metrics.webhooks.labels(name, result).inc()
    log.info("webhook %s", result, extra={"connector": name, "result": result, "delivery_id": delivery.delivery_id})
    if accepted.new and request.app.state.jobs is not None:
        request.app.state.jobs.wake(name)
    answer = WebhookAnswer(result=result, delivery_id=delivery.delivery_id, tickets=list(delivery.ticket_ids))
    return JSONResponse(answer.model_dump(), status_code=202 if accepted.new else 200)
