"""The HTTP layer bounds every request in time and every answer in size, and believes no hostile header.

Time and size on the wire need a real socket: tests/connectors/loopback.py serves the misbehaviour.
"""

from __future__ import annotations

import gzip
import math
import random
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from connectors.errors import (
    RateLimited,
    Redirected,
    ResponseTooLarge,
    Unavailable,
    excerpt,
)
from connectors.http import MAX_SERVER_WAIT, Backoff, HttpClient, RateBudget, parse_retry_after
from tests.connectors.loopback import Loopback, announces_80_mb, drip_body, drip_head, endless, error_page

BASE = "https://helpdesk.example.com/api"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(base: str, sleeps: Sleeps, **kw: object) -> HttpClient:
    options: dict[str, object] = {"connector": "desk", "sleep": sleeps, "rng": random.Random(3), "max_retries": 0}
    options.update(kw)
    return HttpClient(base, **options)  # type: ignore[arg-type]


# -- time ------------------------------------------------------------------------------------------------


def test_a_server_dripping_its_body_fails_within_the_budget_and_is_retried() -> None:
    sleeps = Sleeps()
    with Loopback(drip_body) as server:
        http = client(server.url, sleeps, timeout=2, max_retries=1)
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            http.get("tickets")
        elapsed = time.monotonic() - started
    # two attempts of two seconds each (the backoff between them is recorded, not slept)
    assert 3.9 <= elapsed < 5.5, elapsed
    assert server.connections == 2 and len(sleeps.calls) == 1 and sleeps.calls[0] > 0
    message = str(caught.value)
    host = server.url.removeprefix("http://")
    assert f"GET /tickets: {host} did not answer in full within 2 s (timeout_seconds" in message, message
    assert "after 2 attempt(s)" in message and caught.value.retryable


def test_a_server_dripping_its_status_line_and_headers_fails_within_the_budget() -> None:
    with Loopback(drip_head) as server:
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"within 1\.5 s \(timeout_seconds"):
            client(server.url, Sleeps(), timeout=1.5).get("tickets")
        assert time.monotonic() - started < 2.5


def test_a_write_that_timed_out_is_not_repeated() -> None:
    # The server may have taken the note before it stalled: the adapter's marker, not a blind retry, decides.
    sleeps = Sleeps()
    with Loopback(drip_body) as server, pytest.raises(Unavailable, match="did not answer in full within 1 s"):
        client(server.url, sleeps, timeout=1, max_retries=3).json("POST", "notes", json={"body": "x"})
    assert server.connections == 1 and sleeps.calls == []


# -- size ------------------------------------------------------------------------------------------------


def test_an_answer_that_never_ends_is_abandoned_at_the_cap() -> None:
    with Loopback(endless) as server:
        http = client(server.url, Sleeps(), max_response_bytes=1_000_000, max_retries=2)
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge) as caught:
                http.get("tickets")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8_000_000, peak
    assert "max_response_bytes (1000000 bytes)" in str(caught.value) and "GET /tickets" in str(caught.value)
    # the same page will be as large next time: not retried, and not called temporary
    assert not caught.value.retryable and server.connections == 1


def test_an_answer_announcing_80_mb_is_refused_before_it_is_read() -> None:
    with Loopback(announces_80_mb) as server:
        started = time.monotonic()
        refused = r"announces 83886080 bytes, more than max_response_bytes \(10485760 bytes\)"
        with pytest.raises(ResponseTooLarge, match=refused):
            client(server.url, Sleeps()).get("tickets")
        assert time.monotonic() - started < 1.5


def test_a_compressed_answer_is_capped_at_what_it_unpacks_to() -> None:
    bomb = gzip.compress(b"[" + b" " * 20_000_000 + b"]", compresslevel=9)
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    http = client(BASE, Sleeps(), transport=transport, max_response_bytes=1_000_000)
    with pytest.raises(ResponseTooLarge, match=r"is larger than max_response_bytes \(1000000 bytes\)"):
        http.get("tickets")
    assert len(bomb) < 1_000_000


def test_a_transport_that_streams_slowly_is_held_to_the_deadline_too() -> None:
    # A transport given to the client (a proxy's, a test's) need not enforce the deadline on its sockets: the
    # answer is read in chunks and the deadline checked between them.
    def slowly() -> Iterator[bytes]:
        for part in (b"[1", b", 2", b", 3", b"]"):
            time.sleep(0.4)
            yield part

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=slowly()))
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"did not answer in full within 0\.5 s"):
        client(BASE, Sleeps(), transport=transport, timeout=0.5).get("tickets")
    assert time.monotonic() - started < 1.5


def test_an_error_page_reaches_the_message_as_a_short_clean_excerpt() -> None:
    with Loopback(error_page) as server, pytest.raises(Unavailable) as caught:
        client(server.url, Sleeps()).get("tickets")
    message = str(caught.value)
    assert "500 <html><body>" in message and "Internal error" in message and "…" in message
    assert len(message) < 400 and "\x1b" not in message and "\x07" not in message


def test_excerpt_is_one_short_line() -> None:
    assert excerpt("  short\n\ttext ") == "short text"
    long = excerpt("word " * 10_000_000)
    assert len(long) == 200 and long.endswith("…")
    assert excerpt("a\x1b[31mred\x1b[0m\u202eb") == "a [31mred [0m b"


# -- hostile headers --------------------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize(
    "value",
    ["-5", "nan", "NaN", "inf", "-inf", "1e3", "0x10", "", "0", "-0", "Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 99 Foo"],
)
@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_that_is_no_wait_falls_back_to_the_backoff(value: str, status: int) -> None:
    respx.get(f"{BASE}/tickets").mock(
        side_effect=[
            httpx.Response(status, headers={"Retry-After": value}),
            httpx.Response(status, headers={"Retry-After": value}),
            httpx.Response(200, json=[]),
        ]
    )
    sleeps = Sleeps()
    assert client(BASE, sleeps, max_retries=3, backoff=Backoff(base=1.0, cap=30.0)).get("tickets") == []
    # attempt n waits between half and all of base * 2**n: never zero, negative, nan or infinite
    assert len(sleeps.calls) == 2
    for attempt, slept in enumerate(sleeps.calls):
        assert math.isfinite(slept) and 2**attempt / 2 <= slept <= 2**attempt


@respx.mock
def test_an_absurd_retry_after_is_capped() -> None:
    respx.get(f"{BASE}/tickets").mock(return_value=httpx.Response(429, headers={"Retry-After": "9" * 15}))
    with pytest.raises(RateLimited) as caught:
        client(BASE, Sleeps()).get("tickets")
    assert caught.value.retry_after == MAX_SERVER_WAIT


def test_retry_after_is_parsed_strictly() -> None:
    assert parse_retry_after("12") == 12.0 and parse_retry_after(" 0.5 ") == 0.5
    for bad in ("-5", "nan", "inf", "+3", "1e3", "3 s", "", "١٢"):
        assert parse_retry_after(bad) is None, bad
    assert parse_retry_after("9" * 15) == MAX_SERVER_WAIT
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT") == MAX_SERVER_WAIT
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=datetime(2016, 1, 1, tzinfo=UTC).timestamp()) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"ratelimit-remaining": "-1", "ratelimit-reset": "30"},
        {"ratelimit-remaining": "nan", "ratelimit-reset": "30"},
        {"ratelimit-remaining": "0", "ratelimit-reset": "inf"},
        {"ratelimit-remaining": "0", "ratelimit-reset": "1e300"},
        {"ratelimit-remaining": "0", "ratelimit-reset": "-1e300"},
    ],
)
def test_quota_headers_that_make_no_sense_give_a_finite_bounded_pace(headers: dict[str, str]) -> None:
    budget = RateBudget()
    budget.observe(headers)
    delay = budget.delay()
    assert math.isfinite(delay) and 0 <= delay <= MAX_SERVER_WAIT


# -- redirects -------------------------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://admin:hunter2@sso.example.com/login?token=abc#x", "https://admin:***@sso.example.com/login"),
        ("/NoAuth/Login.html?next=abc123", "https://helpdesk.example.com/NoAuth/Login.html"),
        ("https://sso.example.com:8443/a%20b", "https://sso.example.com:8443/a%20b"),
    ],
)
def test_a_redirect_says_where_it_pointed_without_password_or_query(location: str, shown: str) -> None:
    respx.get(f"{BASE}/tickets").mock(return_value=httpx.Response(302, headers={"Location": location}))
    with pytest.raises(Redirected) as caught:
        client(BASE, Sleeps()).get("tickets")
    message = str(caught.value)
    assert f"redirected (302) to {shown};" in message and "not JSON" not in message
    assert "hunter2" not in message and "abc" not in message and not caught.value.retryable
    assert caught.value.location == shown


@respx.mock
def test_a_redirect_without_a_location_is_still_a_redirect() -> None:
    respx.get(f"{BASE}/a").mock(return_value=httpx.Response(301))
    with pytest.raises(Redirected, match=r"redirected \(301\) to nowhere"):
        client(BASE, Sleeps()).get("a")
