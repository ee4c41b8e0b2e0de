"""Latency of routing one ticket at a time through the HTTP service: sequential ``POST /v1/route`` calls.

Given the base URL of a running deskroute service and a token, each ticket of the bundled sample (lengths from a
subject line to a long thread, see evals.bench_route) is sent alone, the next only after the answer, with
``dry_run`` so nothing is recorded or written to a helpdesk. Reported: ``route_p50_ms``, ``route_p95_ms``,
``route_p99_ms`` (the whole request as a client sees it) and, when the service reports its own step times, their
share. Loopback only: the figures are meant to measure deskroute, not a network.

Webhooks (``POST /webhooks/{connector}``, signed the shared-secret way): the acceptance latency of deliveries
sent one at a time (``webhook_accept_p50_ms``, ``webhook_accept_p95_ms``), and the deliveries per second that
several concurrent clients get accepted, bounded by a count and a time (``webhook_deliveries_per_s``). Every
delivery id is unique, so a caller can check the store holds each accepted one exactly once (:func:`delivery_check`).
"""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors import Ticket
from connectors.errors import excerpt
from connectors.redaction import mask_url, register_secret
from connectors.webhooks import shared_secret_headers
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


# The ticket fields POST /v1/route takes (its TicketIn); the API refuses any other field of the canonical record.
TICKET_FIELDS = frozenset(
    {
        "source",
        "external_id",
        "subject",
        "body",
        "requester",
        "organization",
        "channel",
        "status",
        "priority",
        "queue",
        "assignee",
        "tags",
        "language",
        "custom_fields",
        "created_at",
        "updated_at",
    }
)


def ticket_body(ticket: Ticket) -> dict[str, Any]:
    """The request body for one ticket: its canonical fields as JSON, and ``dry_run`` (nothing recorded)."""
    fields = ticket.model_dump(mode="json", include=set(TICKET_FIELDS))
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


# --- webhooks -------------------------------------------------------------------------------------------------

WEBHOOK_BODY = b'{"ticket_id": "bench-webhook"}'
TRANSPORT_ERROR = 0  # the status recorded for a delivery that got no answer at all


@dataclass
class Deliveries:
    """What the service answered to each delivery id sent (status 0: no answer), and how long sending took."""

    answers: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    milliseconds: list[float] = field(default_factory=list)

    @property
    def accepted(self) -> list[str]:
        """The ids answered 202: stored as new, by the service's word."""
        return [ident for ident, status in self.answers.items() if status == 202]

    def refused(self) -> Counter[int]:
        """How many deliveries got each answer other than 202 (200 would mean a new id was taken for a retry)."""
        return Counter(status for status in self.answers.values() if status != 202)


def delivery_check(accepted: Iterable[str], stored: Iterable[str]) -> dict[str, int]:
    """``webhook_lost``: accepted ids the store does not hold; ``webhook_duplicated``: extra stored copies of an id.

    ``stored`` is every delivery id of the connector's rows, one per row, as read from the store.
    """
    copies = Counter(stored)
    return {
        "webhook_lost": sum(1 for ident in set(accepted) if copies[ident] == 0),
        "webhook_duplicated": sum(count - 1 for count in copies.values() if count > 1),
    }


def _webhook_url(base_url: str, connector: str) -> str:
    _loopback(base_url)
    return f"{base_url.rstrip('/')}/webhooks/{connector}"


def _deliver(http: httpx.Client, url: str, secret: str, ident: str) -> int:
    headers = {**shared_secret_headers(secret, ident, datetime.now(UTC)), "Content-Type": "application/json"}
    try:
        return http.post(url, content=WEBHOOK_BODY, headers=headers).status_code
    except httpx.HTTPError:
        return TRANSPORT_ERROR  # counted as refused: a sender would retry it, this benchmark reports it


def measure_webhook_acceptance(
    base_url: str,
    connector: str,
    secret: str,
    count: int,
    *,
    timeout: float = 30.0,
    on_delivery: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], Deliveries]:
    """Send ``count`` signed deliveries one at a time; percentiles of the time to the answer, in milliseconds.

    The first WARM_UP are not timed (first connections to the store, the connector built on first use) but are
    sent, answered and checked like the rest.
    """
    url = _webhook_url(base_url, connector)
    if count <= WARM_UP:
        raise ServiceBenchError(f"send more than {WARM_UP} deliveries: the first {WARM_UP} only warm the service up")
    register_secret(secret)
    run = uuid.uuid4().hex[:12]
    sent = Deliveries()
    started = time.perf_counter()
    with httpx.Client(timeout=timeout) as http:
        for i in range(count):
            ident = f"bench-{run}-seq-{i}"
            before = time.perf_counter()
            sent.answers[ident] = _deliver(http, url, secret, ident)
            if i >= WARM_UP:
                sent.milliseconds.append((time.perf_counter() - before) * 1000)
            if on_delivery is not None:
                on_delivery(i + 1)
    sent.seconds = time.perf_counter() - started
    return dict(latency_figures(sent.milliseconds, "webhook_accept")), sent


def measure_webhook_throughput(
    base_url: str,
    connector: str,
    secret: str,
    *,
    deliveries: int,
    clients: int,
    seconds: float,
    timeout: float = 30.0,
    on_delivery: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], Deliveries]:
    """``clients`` threads, each with its own connection, post unique signed deliveries as fast as answers come.

    They stop once ``deliveries`` were sent or ``seconds`` passed, whichever is first (a delivery in flight at the
    deadline is finished and counted). ``webhook_deliveries_per_s``: the deliveries answered 202 per second of the
    whole phase, from the first send to the last answer.
    """
    url = _webhook_url(base_url, connector)
    if clients < 1 or deliveries < 1 or seconds <= 0:
        raise ServiceBenchError("give at least one client, one delivery and a time limit above zero")
    register_secret(secret)
    run = uuid.uuid4().hex[:12]
    sent = Deliveries()
    lock = threading.Lock()
    taken = 0
    failures: list[BaseException] = []

    def client() -> None:
        nonlocal taken
        try:
            with httpx.Client(timeout=timeout) as http:
                while True:
                    with lock:
                        # Both bounds are checked before a delivery is taken, so neither is overrun by more than
                        # the deliveries already in flight.
                        if taken >= deliveries or time.perf_counter() >= deadline:
                            return
                        n = taken
                        taken += 1
                    ident = f"bench-{run}-par-{n}"
                    status = _deliver(http, url, secret, ident)
                    with lock:
                        sent.answers[ident] = status
                        done = len(sent.answers)
                    if on_delivery is not None:
                        on_delivery(done)
        except BaseException as exc:  # re-raised in the caller's thread, where it can be reported
            failures.append(exc)

    threads = [threading.Thread(target=client, name=f"bench-webhook-{i}", daemon=True) for i in range(clients)]
    started = time.perf_counter()
    deadline = started + seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    rate = len(sent.accepted) / sent.seconds if sent.seconds > 0 else 0.0
    report = {
        "webhook_deliveries_per_s": round(rate, 1),
        "deliveries": len(sent.answers),
        "clients": clients,
        "webhook_seconds": round(sent.seconds, 2),
    }
    return report, sent
