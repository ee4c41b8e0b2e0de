"""Latency of routing one ticket at a time through the HTTP service: sequential ``POST /v1/route`` calls.

Given the base URL of a running deskroute service and a token, each ticket of the bundled sample (lengths from a
subject line to a long thread, see evals.bench_route) is sent alone, the next only after the answer, with
``dry_run`` so nothing is recorded or written to a helpdesk. Reported: ``route_p50_ms``, ``route_p95_ms``,
``route_p99_ms`` (the whole request as a client sees it) and, when the service reports its own step times, their
share. Loopback only: the figures are meant to measure deskroute, not a network.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors import Ticket
from connectors.errors import excerpt
from connectors.redaction import mask_url, register_secret
from evals.bench_route import latency_figures

ROUTE_PATH = "/v1/route"
WARM_UP = 3


class ServiceBenchError(RuntimeError):
    """The service could not be measured; the message says which ticket, what came back and what to do."""


def _loopback(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ServiceBenchError(
            f"{mask_url(base_url)}: the service benchmark only talks to this machine (127.0.0.1, ::1 or "
            "localhost); start the service locally"
        )


def ticket_body(ticket: Ticket) -> dict[str, Any]:
    """The request body for one ticket: its canonical fields as JSON, and ``dry_run`` (nothing recorded)."""
    fields = ticket.model_dump(mode="json", exclude={"raw"})
    return {"ticket": fields, "dry_run": True}


def measure_service(
    base_url: str,
    token: str,
    tickets: Sequence[Ticket],
    *,
    timeout: float = 30.0,
    on_ticket: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Send ``tickets`` one at a time to ``POST {base_url}/v1/route``; latency percentiles in milliseconds.

    The first WARM_UP tickets are sent before the clock starts (the service's models warm up). Any answer other
    than 200 with a JSON object stops the run with ServiceBenchError naming the ticket and the status.
    """
    _loopback(base_url)
    if len(tickets) <= WARM_UP:
        raise ServiceBenchError(f"give more than {WARM_UP} tickets: the first {WARM_UP} only warm the service up")
    register_secret(token)
    headers = {"Authorization": f"Bearer {token}"}
    milliseconds: list[float] = []
    steps: dict[str, float] = {}
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout) as http:
        for i, ticket in enumerate(tickets):
            body = ticket_body(ticket)
            started = time.perf_counter()
            try:
                response = http.post(ROUTE_PATH, json=body)
            except httpx.HTTPError as exc:
                raise ServiceBenchError(
                    f"ticket {ticket.external_id}: POST {mask_url(base_url.rstrip('/') + ROUTE_PATH)} failed "
                    f"({type(exc).__name__}: {excerpt(exc)}); is the service running there?"
                ) from None
            elapsed = (time.perf_counter() - started) * 1000
            answer = _answer(response, ticket)
            if i < WARM_UP:
                continue
            milliseconds.append(elapsed)
            for step, seconds in _step_seconds(answer).items():
                steps[step] = steps.get(step, 0.0) + seconds
            if on_ticket is not None:
                on_ticket(i + 1 - WARM_UP)
    report: dict[str, Any] = {"benchmark": "service", "tickets": len(milliseconds)}
    report.update(latency_figures(milliseconds, "route"))
    whole = sum(milliseconds) / 1000
    if steps and whole:
        report["share"] = {step: round(seconds / whole, 3) for step, seconds in sorted(steps.items())}
    return report


def _answer(response: httpx.Response, ticket: Ticket) -> dict[str, Any]:
    if response.status_code != 200:
        raise ServiceBenchError(
            f"ticket {ticket.external_id}: POST {ROUTE_PATH} answered {response.status_code}: "
            f"{excerpt(response.text)} (check the token and that the service routes tickets)"
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ServiceBenchError(
            f"ticket {ticket.external_id}: POST {ROUTE_PATH} answered 200 without a JSON object: "
            f"{excerpt(response.text)}"
        )
    return answer


def _step_seconds(answer: dict[str, Any]) -> dict[str, float]:
    """The step times the service reports (``timings_ms``: step -> milliseconds), in seconds; others ignored."""
    timings = answer.get("timings_ms")
    if not isinstance(timings, dict):
        return {}
    out: dict[str, float] = {}
    for step, value in timings.items():
        if isinstance(step, str) and isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            out[step[:40]] = float(value) / 1000
    return out
