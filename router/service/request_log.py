"""Structured logs for the service: one JSON object per line, each with the id of the request it belongs to.

A log line holds no stack trace and no secret: exceptions are logged by type and first line, and every message
goes through :func:`connectors.redaction.redact` (URL credentials and configured secrets masked).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from connectors.redaction import redact, strip_control

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is kept when it looks like one (so logs join up across services), else replaced.
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
log = logging.getLogger("deskroute.service")


class JsonLines(logging.Formatter):
    """A log record as one JSON line: time, level, logger, request id, message and the record's extra fields."""

    EXTRA = ("method", "path", "status", "duration_ms", "connector", "result", "delivery_id")

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": request_id.get(),
            "message": redact(strip_control(record.getMessage())),
        }
        for key in self.EXTRA:
            if hasattr(record, key):
                value = getattr(record, key)
                data[key] = redact(strip_control(value)) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            data["error"] = redact(strip_control(f"{type(exc).__name__}: {first}"))
        return json.dumps(data, ensure_ascii=True)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for deskroute's loggers and uvicorn's, replacing their own formats."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    for name in ("deskroute", "router", "connectors", "uvicorn", "uvicorn.error", "apscheduler"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level if name != "apscheduler" else logging.WARNING)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our own access line carries the request id


async def request_ids(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Give every request an id (the caller's when sane), answer it in a header, and log one access line."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    ident = given if _GOOD_ID.fullmatch(given) else uuid.uuid4().hex
    # Kept on the request too: the handler of an unexpected error runs outside this middleware's context.
    request.state.request_id = ident
    token = request_id.set(ident)
    started = time.perf_counter()
    try:
        response = await call_next(request)
    finally:
        request_id.reset(token)
    response.headers[REQUEST_ID_HEADER] = ident
    token = request_id.set(ident)
    try:
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path[:300],
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
    finally:
        request_id.reset(token)
    return response
