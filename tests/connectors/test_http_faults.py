"""The shared HTTP layer under the faults helpdesks really produce, with respx instead of a network."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from connectors.errors import CredentialsError, MalformedResponse, RateLimited, RequestRejected, Unavailable
from connectors.http import (
    Backoff,
    BasicCredentials,
    HttpClient,
    PageRequest,
    RateBudget,
    TokenCredentials,
    next_from_field,
    next_from_link_header,
    parse_retry_after,
)

BASE = "https://helpdesk.example.com/api/v2"
PASSWORD = "s3cret-Passw0rd-value"
TOKEN = "tok-9f8e7d6c5b4a"


class Sleeps:
    """Records the sleeps the client asked for, instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(sleeps: Sleeps, **kw: object) -> HttpClient:
    options: dict[str, object] = {
        "connector": "desk",
        "auth": BasicCredentials("agent@example.com", PASSWORD),
        "sleep": sleeps,
        "rng": random.Random(7),
        "max_retries": 3,
        "credentials_hint": "Check DESK_USER and DESK_PASSWORD.",
    }
    options.update(kw)
    return HttpClient(BASE, **options)  # type: ignore[arg-type]


@respx.mock
def test_429_waits_exactly_what_retry_after_says_then_succeeds(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/tickets").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json={"tickets": [1]}),
        ]
    )
    assert client(sleeps).get("tickets") == {"tickets": [1]}
    assert route.call_count == 2
    assert sleeps.calls == [7.0]


@respx.mock
def test_429_with_an_http_date_retry_after(sleeps: Sleeps) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    respx.get(f"{BASE}/tickets").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": later}), httpx.Response(200, json=[])]
    )
    assert client(sleeps).get("tickets") == []
    assert len(sleeps.calls) == 1 and 25 <= sleeps.calls[0] <= 30


@respx.mock
def test_429_asking_for_a_long_wait_is_handed_to_the_caller_instead_of_blocking(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/tickets").mock(return_value=httpx.Response(429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited) as caught:
        client(sleeps, max_retry_after=60).get("tickets")
    assert caught.value.retry_after == 600 and caught.value.retryable
    assert route.call_count == 1 and sleeps.calls == []


@respx.mock
def test_429_without_retry_after_backs_off_then_gives_up(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/tickets").mock(return_value=httpx.Response(429))
    with pytest.raises(RateLimited):
        client(sleeps).get("tickets")
    assert route.call_count == 4  # the first try and 3 retries
    assert len(sleeps.calls) == 3 and sleeps.calls == sorted(sleeps.calls)


@respx.mock
def test_5xx_then_success_with_exponential_backoff_and_jitter(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/tickets").mock(
        side_effect=[
            httpx.Response(502, text="<html>Bad gateway</html>"),
            httpx.Response(503),
            httpx.Response(500, json={"error": "oops"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    backoff = Backoff(base=1.0, cap=30.0)
    assert client(sleeps, backoff=backoff).get("tickets") == {"ok": True}
    assert route.call_count == 4
    # attempt n waits between half and all of base * 2**n
    for attempt, slept in enumerate(sleeps.calls):
        ceiling = 1.0 * 2**attempt
        assert ceiling / 2 <= slept <= ceiling
    # jitter: the waits are not exactly the powers of two
    assert sleeps.calls != [0.5, 1.0, 2.0] and sleeps.calls != [1.0, 2.0, 4.0]


@respx.mock
def test_5xx_that_persists_becomes_a_retryable_unavailable(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/tickets").mock(return_value=httpx.Response(503, json={"message": "maintenance"}))
    with pytest.raises(Unavailable) as caught:
        client(sleeps).get("tickets")
    assert caught.value.retryable and caught.value.status == 503
    assert "maintenance" in str(caught.value) and "GET /api/v2/tickets" in str(caught.value)
    assert route.call_count == 4


@respx.mock
def test_connection_reset_is_retried(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/tickets").mock(
        side_effect=[httpx.ReadError("[Errno 104] Connection reset by peer"), httpx.Response(200, json=[1])]
    )
    assert client(sleeps).get("tickets") == [1]
    assert route.call_count == 2 and len(sleeps.calls) == 1


@respx.mock
def test_unreachable_host_names_the_base_url(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/tickets").mock(side_effect=httpx.ConnectError("Connection refused"))
    with pytest.raises(Unavailable) as caught:
        client(sleeps).get("tickets")
    assert "helpdesk.example.com" in str(caught.value) and "4 attempt(s)" in str(caught.value)


@respx.mock
def test_a_post_is_not_repeated_once_it_may_have_reached_the_vendor(sleeps: Sleeps) -> None:
    # A 500 on a write may mean the note was written: surface it; the adapter's marker makes a later retry safe.
    route = respx.post(f"{BASE}/tickets/1/notes").mock(return_value=httpx.Response(500))
    with pytest.raises(Unavailable):
        client(sleeps).json("POST", "tickets/1/notes", json={"body": "x"})
    assert route.call_count == 1 and sleeps.calls == []


@respx.mock
def test_a_post_is_retried_when_it_never_left(sleeps: Sleeps) -> None:
    route = respx.post(f"{BASE}/tickets").mock(
        side_effect=[
            httpx.ConnectError("Connection refused"),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(201, json={"id": 5}),
        ]
    )
    assert client(sleeps).json("POST", "tickets", json={"subject": "x"}) == {"id": 5}
    assert route.call_count == 3


@respx.mock
@pytest.mark.parametrize(("status", "word"), [(401, "credentials"), (403, "permissions")])
def test_401_and_403_are_not_retried_and_say_what_to_check(sleeps: Sleeps, status: int, word: str) -> None:
    route = respx.get(f"{BASE}/tickets").mock(return_value=httpx.Response(status, json={"error": "Couldn't auth"}))
    with pytest.raises(CredentialsError) as caught:
        client(sleeps).get("tickets")
    message = str(caught.value)
    assert route.call_count == 1 and sleeps.calls == []
    assert word in message and "DESK_PASSWORD" in message and not caught.value.retryable
    assert PASSWORD not in message


@respx.mock
def test_malformed_json_is_a_clear_error(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/tickets").mock(
        return_value=httpx.Response(200, text='{"tickets": [1, 2', headers={"Content-Type": "application/json"})
    )
    with pytest.raises(MalformedResponse) as caught:
        client(sleeps).get("tickets")
    assert "GET /api/v2/tickets" in str(caught.value) and "not JSON" in str(caught.value)


@respx.mock
def test_other_4xx_is_rejected_with_the_vendors_reason(sleeps: Sleeps) -> None:
    respx.put(f"{BASE}/tickets/9").mock(return_value=httpx.Response(422, json={"message": "group_id is invalid"}))
    with pytest.raises(RequestRejected) as caught:
        client(sleeps).json("PUT", "tickets/9", json={"group_id": 1})
    assert "group_id is invalid" in str(caught.value) and not caught.value.retryable


@respx.mock
def test_a_page_failing_after_earlier_pages_keeps_what_was_fetched(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/tickets", params={"page": "1"}).mock(
        return_value=httpx.Response(200, json=[1, 2], headers={"Link": f'<{BASE}/tickets?page=2>; rel="next"'})
    )
    respx.get(f"{BASE}/tickets", params={"page": "2"}).mock(
        return_value=httpx.Response(200, json=[3, 4], headers={"Link": f'<{BASE}/tickets?page=3>; rel="next"'})
    )
    failing = respx.get(f"{BASE}/tickets", params={"page": "3"}).mock(return_value=httpx.Response(500))
    kept: list[int] = []
    with pytest.raises(Unavailable):
        for page in client(sleeps).pages(PageRequest("tickets", {"page": 1}), next_from_link_header):
            kept.extend(page.data)  # a caller checkpoints here
    assert kept == [1, 2, 3, 4]
    assert failing.call_count == 4


@respx.mock
def test_pagination_by_body_field_and_page_cap(sleeps: Sleeps) -> None:
    for n in range(1, 5):
        body = {"items": [n], "links": {"next": f"{BASE}/items?cursor=c{n + 1}"}}
        respx.get(f"{BASE}/items", params={"cursor": f"c{n}"}).mock(return_value=httpx.Response(200, json=body))
    pages = client(sleeps).pages(PageRequest("items", {"cursor": "c1"}), next_from_field("links", "next"), max_pages=3)
    assert [p.data["items"][0] for p in pages] == [1, 2, 3]


@respx.mock
def test_a_next_link_to_another_host_never_gets_the_credentials(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/tickets").mock(
        return_value=httpx.Response(200, json=[1], headers={"Link": '<https://evil.example.net/x>; rel="next"'})
    )
    evil = respx.get("https://evil.example.net/x").mock(return_value=httpx.Response(200, json=[]))
    with pytest.raises(MalformedResponse, match="refusing to send credentials"):
        list(client(sleeps).pages(PageRequest("tickets"), next_from_link_header))
    assert evil.call_count == 0


@respx.mock
def test_secrets_stay_out_of_logs_errors_and_reprs(sleeps: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    respx.get(f"{BASE}/a").mock(side_effect=[httpx.Response(503), httpx.Response(200, json={})])
    respx.get(f"{BASE}/b").mock(return_value=httpx.Response(401))
    respx.get(f"{BASE}/c").mock(side_effect=httpx.ReadError("reset"))
    basic = client(sleeps)
    token = client(sleeps, auth=TokenCredentials(TOKEN, scheme="token"))
    messages: list[str] = []
    basic.get("a", {"q": "x"})
    for c, path in ((basic, "b"), (token, "c")):
        with pytest.raises(Exception) as caught:
            c.get(path)
        messages += [str(caught.value), repr(caught.value)]
    seen = "\n".join(
        [caplog.text, *messages, repr(basic), repr(token), repr(basic._client.auth), repr(token._client.auth)]
    )
    assert "helpdesk.example.com" in seen  # something was logged and shown
    for secret in (PASSWORD, TOKEN, "czNjcmV0"):  # czNjcmV0: the start of the password in base64
        assert secret not in seen
    credentials_in_url = HttpClient(f"https://agent:{PASSWORD}@helpdesk.example.com/api", connector="desk")
    assert PASSWORD not in repr(credentials_in_url) and PASSWORD not in credentials_in_url.base_url


def test_retry_after_parsing() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert (
        parse_retry_after(
            "Wed, 21 Oct 2015 07:28:00 GMT", now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp() - 10
        )
        == 10
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_budget_paces_before_the_configured_limit() -> None:
    clock = FakeClock()
    budget = RateBudget(per_minute=10, reserve=0.2, clock=clock, wall_clock=clock)
    for _ in range(8):  # 10 per minute less a 20 % reserve
        assert budget.delay() == 0
        budget.sent()
        clock.now += 1
    # the 9th request waits until the oldest of the last 8 leaves the one-minute window
    assert budget.delay() == pytest.approx(60 - 8)
    clock.now += 60
    assert budget.delay() == 0


def test_rate_budget_slows_down_when_the_vendor_says_little_is_left() -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, wall_clock=clock)
    budget.observe({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "500"})
    assert budget.delay() == 0  # plenty left: full speed
    budget.observe({"X-RateLimit-Total": "200", "X-RateLimit-Remaining": "9", "ratelimit-reset": "30"})
    # below the 10 % reserve: the remaining 9 requests are spread over the 30 s to the reset
    assert budget.delay() == pytest.approx(30 / 10)
    budget.observe({"ratelimit-limit": "200", "ratelimit-remaining": "0", "ratelimit-reset": "12"})
    assert budget.delay() == pytest.approx(12)
    clock.now += 13
    assert budget.delay() == 0  # the vendor's window was reset


@respx.mock
def test_the_client_sleeps_what_the_budget_says_before_a_request(sleeps: Sleeps) -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, wall_clock=clock)
    respx.get(f"{BASE}/t").mock(
        return_value=httpx.Response(
            200, json={}, headers={"ratelimit-limit": "100", "ratelimit-remaining": "1", "ratelimit-reset": "20"}
        )
    )
    c = client(sleeps, budget=budget)
    c.get("t")
    assert sleeps.calls == []
    c.get("t")
    assert sleeps.calls == [pytest.approx(10)]
