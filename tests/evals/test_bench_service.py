"""The service benchmark's client against a real HTTP server on loopback: what it sends, what it reports, and
the clear errors it stops with."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connectors.webhooks import DELIVERY_HEADER, SECRET_HEADER
from evals.bench_route import latency_figures, percentile, sample_tickets
from evals.bench_service import (
    WARM_UP,
    ServiceBenchError,
    delivery_check,
    measure_service,
    measure_webhook_acceptance,
    measure_webhook_throughput,
    ticket_body,
)
from router.service.api_models import RouteRequest

TOKEN = "bench-token-0123456789"


class _Desk:
    """What the server saw and how it answers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200
        self.answer: bytes = json.dumps({"decision": {}, "timings_ms": {"signals": 4.0, "decide": 1.0}}).encode()


@pytest.fixture
def desk() -> Iterator[tuple[str, _Desk]]:
    state = _Desk()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append((self.path, self.headers.get("Authorization"), json.loads(self.rfile.read(length))))
            state.headers.append(dict(self.headers))
            # The answer claims 5 ms of work (timings_ms): take them, as a real service would, so that the client
            # never waits less than the steps it is told about.
            time.sleep(0.006)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, *args: object) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_sends_each_sample_ticket_alone_as_a_dry_run_and_reports_percentiles(desk: tuple[str, _Desk]) -> None:
    url, state = desk
    tickets = sample_tickets(count=12)
    report = measure_service(url, TOKEN, tickets)
    assert len(state.requests) == 12 and report["tickets"] == 12 - WARM_UP
    assert {path for path, _, _ in state.requests} == {"/v1/route"}
    assert {auth for _, auth, _ in state.requests} == {f"Bearer {TOKEN}"}
    sent = [body for _, _, body in state.requests]
    assert all(body["dry_run"] is True for body in sent)
    assert [body["ticket"]["external_id"] for body in sent] == [t.external_id for t in tickets]
    assert [body["ticket"]["body"] for body in sent] == [t.body for t in tickets]
    assert len({len(body["ticket"]["body"]) for body in sent}) > 6  # lengths vary, as a helpdesk's do
    assert 0 < report["route_p50_ms"] <= report["route_p95_ms"] <= report["route_p99_ms"] <= report["route_max_ms"]
    # The service's own step times become shares of the time the client waited.
    assert set(report["share"]) == {"decide", "signals"}
    assert 0 < report["share"]["decide"] < report["share"]["signals"] <= 1


def test_a_refused_request_stops_the_run_naming_the_ticket_and_status(desk: tuple[str, _Desk]) -> None:
    url, state = desk
    state.status, state.answer = 401, b'{"error": "bad token \\u001b[2J"}'
    tickets = sample_tickets(count=5)
    with pytest.raises(ServiceBenchError, match=rf"ticket {tickets[0].external_id}: POST /v1/route answered 401") as e:
        measure_service(url, TOKEN, tickets)
    assert "\x1b" not in str(e.value)


def test_an_answer_that_is_not_json_is_a_clear_error(desk: tuple[str, _Desk]) -> None:
    url, state = desk
    state.answer = b"<html>proxy</html>"
    with pytest.raises(ServiceBenchError, match="answered 200 without a JSON object: <html>proxy</html>"):
        measure_service(url, TOKEN, sample_tickets(count=5))


def test_only_loopback_and_a_running_service_are_measured() -> None:
    with pytest.raises(ServiceBenchError, match="only talks to this machine"):
        measure_service("https://helpdesk.example.com", TOKEN, sample_tickets(count=5))
    with pytest.raises(ServiceBenchError, match="is the service running there"):
        measure_service("http://127.0.0.1:1", TOKEN, sample_tickets(count=5), timeout=2)


def test_percentiles_are_measured_values_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0
    assert latency_figures([3.0, 1.0, 2.0], "route") == {
        "route_p50_ms": 2.0,
        "route_p95_ms": 3.0,
        "route_p99_ms": 3.0,
        "route_max_ms": 3.0,
    }
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_sample_tickets_spread_over_the_sample() -> None:
    every = sample_tickets()
    chosen = sample_tickets(count=10)
    assert len(chosen) == 10 and chosen[0].external_id == every[0].external_id
    assert len({t.external_id for t in chosen}) == 10
    assert chosen[-1].external_id == every[int(9 * len(every) / 10)].external_id


def test_every_sample_ticket_is_a_body_the_route_endpoint_takes() -> None:
    for ticket in sample_tickets():
        RouteRequest.model_validate(ticket_body(ticket))  # the API forbids fields it does not know


def test_lost_and_duplicated_deliveries_are_counted_against_the_store() -> None:
    assert delivery_check(["a", "b"], ["b", "a"]) == {"webhook_lost": 0, "webhook_duplicated": 0}
    # Stored deliveries nobody saw accepted (a retry's first copy, another sender's) are neither.
    assert delivery_check(["a"], ["a", "other"]) == {"webhook_lost": 0, "webhook_duplicated": 0}
    assert delivery_check(["a", "b", "c"], ["a"]) == {"webhook_lost": 2, "webhook_duplicated": 0}
    assert delivery_check(["a", "b"], ["a", "a", "a", "b", "b"]) == {"webhook_lost": 0, "webhook_duplicated": 3}
    assert delivery_check(["a", "a"], []) == {"webhook_lost": 1, "webhook_duplicated": 0}  # one id, lost once


def test_webhook_deliveries_are_signed_unique_and_bounded_by_count(desk: tuple[str, _Desk]) -> None:
    url, state = desk
    state.status, state.answer = 202, b"{}"
    accept, sequential = measure_webhook_acceptance(url, "bench", "s3cret-value-0123", 8)
    assert 0 < accept["webhook_accept_p50_ms"] <= accept["webhook_accept_p95_ms"]
    report, concurrent = measure_webhook_throughput(
        url, "bench", "s3cret-value-0123", deliveries=20, clients=3, seconds=30
    )
    assert report["deliveries"] == 20 and report["clients"] == 3 and report["webhook_deliveries_per_s"] > 0
    assert len(sequential.accepted) == 8 and len(concurrent.accepted) == 20 and not concurrent.refused()
    assert {path for path, _, _ in state.requests} == {"/webhooks/bench"}
    sent = [h[DELIVERY_HEADER] for h in state.headers]
    assert len(sent) == len(set(sent)) == 28 and set(sent) == {*sequential.answers, *concurrent.answers}
    assert {h[SECRET_HEADER] for h in state.headers} == {"s3cret-value-0123"}


def test_concurrent_deliveries_stop_at_the_time_limit_and_refusals_are_kept(desk: tuple[str, _Desk]) -> None:
    url, state = desk
    state.status, state.answer = 503, b"{}"
    started = time.perf_counter()
    report, sent = measure_webhook_throughput(
        url, "bench", "s3cret-value-0123", deliveries=10**6, clients=2, seconds=0.3
    )
    assert time.perf_counter() - started < 5 and 0 < report["deliveries"] < 10**6
    assert sent.accepted == [] and sent.refused() == {503: report["deliveries"]}
    assert report["webhook_deliveries_per_s"] == 0


def test_webhooks_go_only_to_loopback() -> None:
    with pytest.raises(ServiceBenchError, match="only talks to this machine"):
        measure_webhook_acceptance("https://helpdesk.example.com", "bench", "s3cret-value-0123", 8)
