"""``POST /v1/events``: product events from an analytics tool (Segment-style batches), validated and stored once.

A batch is all or nothing: it is validated whole before anything is written, then its events are inserted in
one transaction, each once by its message id, so a sender retrying a batch (after a timeout, or with a batch
that partly went through in another process) stores nothing twice.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from connectors.product_events import MAX_BATCH_BYTES, EventBatch, EventBatchError, parse_event_batch
from router.runtime import Runtime
from router.service.api_auth import TOKEN_ERRORS, require
from router.service.api_models import EventsAnswer, EventsRefusal, Problem
from router.store import insert_new, upsert
from router.store.api_tokens import ApiToken

log = logging.getLogger("deskroute.service")
router = APIRouter(prefix="/v1", tags=["events"], responses=TOKEN_ERRORS)


class _TooLarge(Exception):
    pass


async def _bounded_body(request: Request) -> bytes:
    """The body, read no further than one byte past the limit (a declared length over it is refused unread)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _store(runtime: Runtime, batch: EventBatch) -> tuple[int, int]:
    """Store the batch in one transaction; returns (new events, people)."""
    with runtime.store.session() as session:
        new = insert_new(session, batch.events)
        people = upsert(session, batch.people)
        session.commit()
    return new, people


def _refused(status: int, where: str, detail: str) -> JSONResponse:
    return JSONResponse(EventsRefusal(field=where, detail=detail).model_dump(), status_code=status)


@router.post(
    "/events",
    response_model=EventsAnswer,
    responses={
        400: {"model": EventsRefusal, "description": "malformed: the field at fault is named; nothing was stored"},
        413: {"model": EventsRefusal, "description": "the batch is larger than the limit; nothing was stored"},
        503: {"model": Problem, "description": "the store cannot be reached; send the batch again later"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["batch"],
                        "properties": {
                            "batch": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["type", "messageId", "timestamp"],
                                    "properties": {
                                        "type": {"type": "string", "enum": ["track", "identify"]},
                                        "messageId": {"type": "string"},
                                        "userId": {"type": "string"},
                                        "event": {"type": "string"},
                                        "timestamp": {"type": "string", "format": "date-time"},
                                        "properties": {"type": "object"},
                                        "traits": {"type": "object"},
                                        "context": {"type": "object"},
                                    },
                                },
                            }
                        },
                    }
                }
            },
        }
    },
)
async def receive_events(request: Request, token: ApiToken = Depends(require("write"))) -> JSONResponse:
    """Store a batch of track and identify calls; event names become kinds through the configuration's mapping."""
    runtime: Runtime = request.app.state.runtime
    try:
        body = await _bounded_body(request)
    except _TooLarge:
        return _refused(413, "(body)", f"the batch is larger than {MAX_BATCH_BYTES:,} bytes; send smaller batches")
    except ClientDisconnect:
        return _refused(400, "(body)", "the sender closed the connection before the body ended")
    config = runtime.settings.events
    try:
        batch = parse_event_batch(body, source=config.source, kinds=config.kinds, keep_unmapped=config.keep_unmapped)
    except EventBatchError as exc:
        log.info("event batch refused: %s", exc.field, extra={"token": token.name})
        return _refused(400, exc.field, exc.problem)
    new, people = await run_in_threadpool(_store, runtime, batch)
    answer = EventsAnswer(
        messages=len(batch.message_ids),
        stored=new,
        repeated=len(batch.events) - new,
        people=people,
        unmapped=dict(batch.unmapped),
    )
    log.info("event batch stored", extra={"token": token.name, "stored": new})
    return JSONResponse(answer.model_dump(), status_code=200)
