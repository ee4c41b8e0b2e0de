"""The one HTTP layer every helpdesk adapter uses (httpx).

It owns what every vendor needs and every popular client gets wrong somewhere:

- a deadline for every request as a whole (connecting, sending, and reading the last byte of the answer),
  so a server that drips one byte a second cannot hold a sync for ever (:mod:`connectors.deadline`);
- a cap on the size of every answer (``max_response_bytes``), read as a stream and abandoned past the cap;
  error bodies, headers and other vendor text reach messages only as a short excerpt;
- retries with exponential backoff and jitter on 429, 5xx and connection errors, honouring ``Retry-After``,
  but never blocking the caller longer than ``max_retry_after``: beyond that it raises :class:`RateLimited`
  with the wait, so a scheduler or the outbox can come back later instead of sleeping in a library;
- writes that are not idempotent (POST) are retried only when the request surely did not reach the vendor
  (connection refused, 429); anything else surfaces, and the adapter's idempotency marker makes the retry safe;
- a per-connector :class:`RateBudget` that paces requests before the vendor's limit, from its own count and
  from the vendor's remaining-quota headers;
- no retries on 401/403: a :class:`CredentialsError` that says which credentials to check;
- redirects are not followed (credentials must not travel elsewhere): a :class:`Redirected` that says where to;
- pagination as a generator of pages (:meth:`HttpClient.pages`): the caller checkpoints each page, so a failure
  on page 7 keeps pages 1-6;
- secrets never reach logs, exception messages or reprs (credentials are ``SecretStr``; messages name the
  method and path only, never headers or the query string).

``sleep``, ``clock`` and ``rng`` are injectable, and ``transport`` is httpx's, so tests run instantly offline.
"""

from __future__ import annotations

import base64
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.deadline import DeadlineTransport, deadline
from connectors.errors import (
    ConnectorError,
    CredentialsError,
    MalformedResponse,
    RateLimited,
    Redirected,
    RequestRejected,
    ResponseTooLarge,
    Unavailable,
    excerpt,
)
from connectors.redaction import mask_url

logger = logging.getLogger("deskroute.connectors.http")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures that happen before the request is sent: retrying even a POST cannot double a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Remaining-quota headers of Zendesk, Freshdesk and the IETF draft, in order of preference.
_REMAINING_HEADERS = ("ratelimit-remaining", "x-rate-limit-remaining", "x-ratelimit-remaining")
_LIMIT_HEADERS = ("ratelimit-limit", "x-rate-limit", "x-ratelimit-limit", "x-ratelimit-total")
_RESET_HEADERS = ("ratelimit-reset", "x-rate-limit-reset", "x-ratelimit-reset")
MAX_RESET_SECONDS = 3600.0

# A JSON page of a helpdesk API is kilobytes to a few megabytes; past this an answer is refused.
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
# Of an error answer only the start is read: the message quotes an excerpt of it anyway.
_ERROR_BODY_BYTES = 16 * 1024
# The longest wait a Retry-After header is believed for (a day): beyond it, a mistake.
MAX_SERVER_WAIT = 86_400.0
# Non-negative delta-seconds; RFC 9110 says digits only, fractions are accepted as some vendors send them.
_DELTA_SECONDS = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")


class BasicCredentials(httpx.Auth):
    """HTTP basic auth whose password stays a secret in reprs and logs."""

    def __init__(self, username: str, password: SecretStr | str):
        self.username = username
        self.password = password if isinstance(password, SecretStr) else SecretStr(password)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        pair = f"{self.username}:{self.password.get_secret_value()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        yield request

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=SecretStr('**********'))"


class TokenCredentials(httpx.Auth):
    """``Authorization: <scheme> <token>`` (RT's ``token``, OAuth's ``Bearer``)."""

    def __init__(self, token: SecretStr | str, scheme: str = "Bearer"):
        self.token = token if isinstance(token, SecretStr) else SecretStr(token)
        self.scheme = scheme

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"{self.scheme} {self.token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return f"TokenCredentials(scheme={self.scheme!r}, token=SecretStr('**********'))"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of ``min(cap, base * 2**n)``."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * (2**attempt))
        # "Equal jitter": never retry at once, yet spread clients that failed together.
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: non-negative delta-seconds or an HTTP date, capped at
    :data:`MAX_SERVER_WAIT`. None when absent or not one of those ("-5", "nan", "inf", "soon"): the caller
    then backs off as it would without the header."""
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_SERVER_WAIT)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    current = time.time() if now is None else now
    try:
        seconds = when.timestamp() - current
    except (OverflowError, OSError, ValueError):
        return None
    # A date already past means "now": the caller's backoff still spaces the retries.
    return min(max(0.0, seconds), MAX_SERVER_WAIT)


def describe_wait(seconds: float) -> str:
    """A wait for people: "45s", "2.5 hours", "3 days"; a year or more (a broken header) says so."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    if seconds < 365 * 86400:
        return f"{seconds / 86400:.0f} days"
    return "more than a year"


def _header_number(headers: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    for name in names:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            # Some vendors send "100, 100;w=60" (IETF draft with policies): the first number is the value.
            number = float(raw.split(",")[0].split(";")[0].strip())
        except ValueError:
            continue
        # "nan", "inf" and negative counts are no quota a pace can be computed from.
        if math.isfinite(number) and number >= 0:
            return number
    return None


class RateBudget:
    """Paces one connector's requests so the vendor's limit is never reached.

    Two sources, the stricter wins: our own count of requests in the last ``window`` seconds against
    ``per_minute`` less a ``reserve`` share, and the vendor's remaining-quota headers. When the vendor says
    only the reserve is left, the remaining requests are spread over the time to its reset instead of being
    spent at once and then hitting 429.
    """

    def __init__(
        self,
        per_minute: int | None = None,
        *,
        reserve: float = 0.1,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        if per_minute is not None and per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = per_minute
        self.reserve = reserve
        self.window = window
        self._clock = clock
        self._wall_clock = wall_clock
        self._sent: deque[float] = deque()
        self._remaining: float | None = None
        self._limit: float | None = None
        self._reset_at: float | None = None

    def delay(self) -> float:
        """Seconds to wait before the next request (0 when there is room)."""
        now = self._clock()
        waits = [0.0]
        if self.per_minute:
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            allowed = max(1, math.floor(self.per_minute * (1 - self.reserve)))
            if len(self._sent) >= allowed:
                waits.append(self._sent[len(self._sent) - allowed] + self.window - now)
        if self._remaining is not None:
            if self._reset_at is not None and now >= self._reset_at:
                self._remaining = self._reset_at = None
            else:
                limit = self._limit or self.per_minute
                low_water = max(1.0, math.ceil(limit * self.reserve)) if limit else 1.0
                if self._remaining <= low_water:
                    until_reset = (self._reset_at - now) if self._reset_at is not None else self.window
                    waits.append(max(0.0, until_reset) / (self._remaining + 1))
        return max(waits)

    def sent(self) -> None:
        """Count one request as sent now."""
        self._sent.append(self._clock())

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the vendor's remaining-quota headers from a response, where it sends them."""
        headers = {k.lower(): v for k, v in headers.items()}
        remaining = _header_number(headers, _REMAINING_HEADERS)
        if remaining is None:
            return
        self._remaining = remaining
        self._limit = _header_number(headers, _LIMIT_HEADERS) or self._limit
        reset = _header_number(headers, _RESET_HEADERS)
        if reset is None:
            self._reset_at = None
        else:
            # Epoch seconds (some vendors) or seconds until the reset (IETF draft, Zendesk's ratelimit-reset).
            seconds = reset - self._wall_clock() if reset > 1e9 else reset
            # No vendor's quota window is longer than an hour: a larger reset is a broken header, and pacing by
            # it would block the caller for ever.
            self._reset_at = self._clock() + min(max(0.0, seconds), MAX_RESET_SECONDS)

    def __repr__(self) -> str:
        return f"RateBudget(per_minute={self.per_minute}, remaining={self._remaining})"


@dataclass(frozen=True)
class PageRequest:
    """Where the next page is: a URL (absolute or relative to the base) and its query parameters."""

    url: str
    params: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Page:
    """One page of a paginated listing: its number (from 1), the decoded JSON, and the response."""

    number: int
    data: Any
    response: httpx.Response


def next_from_link_header(page: Page) -> PageRequest | None:
    """The ``Link: <...>; rel="next"`` page (Freshdesk, GitHub-style APIs)."""
    link = page.response.links.get("next")
    return PageRequest(link["url"]) if link and link.get("url") else None


def next_from_field(*path: str) -> Callable[[Page], PageRequest | None]:
    """The next page's URL from a field of the body, e.g. ``next_from_field("links", "next")`` (Zendesk)."""

    def follow(page: Page) -> PageRequest | None:
        value: Any = page.data
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return PageRequest(value) if isinstance(value, str) and value else None

    return follow


def _vendor_message(response: httpx.Response) -> str:
    """A short reason from an error body, for people; an excerpt, so a whole HTML page never lands in a log."""
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text)
    if isinstance(body, Mapping):
        for key in ("message", "error", "description", "errors"):
            if key in body:
                return excerpt(body[key])
    return excerpt(body)


def shown_location(response: httpx.Response) -> str:
    """Where a redirect points, without its query or fragment and with its password masked.

    A login page's query carries one-time credentials under any name (a CAS ``ticket``, an OAuth ``code``, a
    SAML request), so none of it is shown; the address itself is enough to fix ``base_url``.
    """
    raw = response.headers.get("Location")
    if not raw:
        return "nowhere (no Location header)"
    try:
        url = response.request.url.join(raw.strip())
        shown = mask_url(str(url.copy_with(query=None, fragment=None)))
    except (httpx.InvalidURL, ValueError, TypeError):
        return "an unreadable Location header"
    return excerpt(shown)


def _describe(exc: httpx.HTTPError) -> str:
    kind = type(exc).__name__
    detail = excerpt(exc, 120)
    return f"{kind} ({detail})" if detail else kind


class HttpClient:
    """A vendor API's HTTP client: base URL, auth, a deadline and a size cap per request, retries, pacing and
    pagination.

    One instance per connector; ``close()`` it (or use it as a context manager) when done. ``timeout`` is the
    budget of one request as a whole, from connecting to the last byte of the answer; each retry has its own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connector: str,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_retries: int = 4,
        max_retry_after: float = 120.0,
        backoff: Backoff | None = None,
        budget: RateBudget | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        credentials_hint: str = "",
    ):
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if max_response_bytes <= 0:
            raise ValueError(f"max_response_bytes must be positive, not {max_response_bytes!r}")
        self.connector = connector
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff or Backoff()
        self.budget = budget or RateBudget()
        self.credentials_hint = credentials_hint
        self._sleep = sleep
        self._rng = rng or random.Random()
        url = httpx.URL(base_url.rstrip("/") + "/")
        # Credentials pasted into a URL would end up in every log line; drop them (messages mask the rest).
        self.base_url = str(url.copy_with(username=None, password=None))
        self._origin = (url.scheme, url.host, url.port)
        self._client = httpx.Client(
            base_url=url,
            auth=auth,
            # Each phase's own limit; the deadline around each exchange bounds them together.
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"User-Agent": "deskroute", "Accept": "application/json", **(headers or {})},
            transport=transport or DeadlineTransport(),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HttpClient(connector={self.connector!r}, base_url={mask_url(self.base_url)!r})"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def clear_cookies(self) -> None:
        """Forget cookies the vendor set (e.g. a session that turned out not to be logged in)."""
        self._client.cookies.clear()

    # -- requests ---------------------------------------------------------------------------------------

    def _wait(self, seconds: float, why: str) -> None:
        if seconds > 0:
            logger.debug("%s: waiting %.2fs (%s)", self.connector, seconds, why)
            self._sleep(seconds)

    def _exchange(self, request: httpx.Request, where: str, accept: Collection[int]) -> httpx.Response:
        """Send ``request`` and read its answer within the deadline and the size cap; a complete response.

        The body is read as a stream: an answer larger than ``max_response_bytes`` is abandoned there (its
        announced length is refused before reading), and the deadline is checked between chunks too, for
        transports that do not enforce it on their sockets.
        """
        with deadline(self.timeout) as at:
            response = self._client.send(request, stream=True)
            try:
                status = response.status_code
                if 200 <= status < 300 or status in accept:
                    limit, strict = self.max_response_bytes, True
                else:
                    # Errors and redirects are read only for a short excerpt in the message.
                    limit, strict = _ERROR_BODY_BYTES, False
                announced = response.headers.get("Content-Length", "")
                if strict and announced.isdigit() and int(announced) > limit:
                    raise self._too_large(where, f"announces {int(announced)} bytes, more")
                chunks: list[bytes] = []
                size = 0
                # Decoded bytes are counted: a compressed answer is capped at what it unpacks to.
                for chunk in response.iter_bytes():
                    if time.monotonic() > at:
                        raise httpx.ReadTimeout("the deadline of the whole request has passed", request=request)
                    size += len(chunk)
                    if size > limit:
                        if strict:
                            raise self._too_large(where, "is larger")  # than announced, or announced nothing
                        chunks.append(chunk[: len(chunk) - (size - limit)])
                        break
                    chunks.append(chunk)
            finally:
                response.close()
        # The body is decoded already: its encoding and length headers no longer describe it.
        kept = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            status,
            headers=kept,
            content=b"".join(chunks),
            request=request,
            extensions=response.extensions,
        )

    def _too_large(self, where: str, how: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{where}: the answer {how} than max_response_bytes ({self.max_response_bytes} bytes); "
            "raise max_response_bytes for this connector if its pages are really that large, "
            "or lower page_size",
            connector=self.connector,
        )

    def _timed_out(self, exc: httpx.TimeoutException, where: str, attempts: int) -> Unavailable:
        host = self.base_url.split("://", 1)[-1].split("/", 1)[0]
        if isinstance(exc, httpx.ConnectTimeout):
            what = f"could not connect to {host} within {min(10.0, self.timeout):g} s"
        else:
            what = (
                f"{host} did not answer in full within {self.timeout:g} s (timeout_seconds: the budget of a "
                "whole request)"
            )
        return Unavailable(
            f"{where}: {what} after {attempts} attempt(s); it is slow or unreachable: try again later, "
            "or raise timeout_seconds",
            connector=self.connector,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send a request with pacing and retries; return a 2xx/3xx response or raise a ConnectorError.

        ``accept`` lists error statuses the caller handles itself (e.g. 404 for "no such user").
        """
        method = method.upper()
        retry_when_sent = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        request = self._client.build_request(method, url, params=params, json=json, data=data, headers=headers)
        where = f"{method} {request.url.path}"
        if (request.url.scheme, request.url.host, request.url.port) != self._origin:
            # A next-page link pointing elsewhere must not receive our credentials.
            raise MalformedResponse(
                f"{where}: refusing to send credentials to {request.url.scheme}://{request.url.host}, "
                f"which is not the configured {mask_url(self.base_url)}",
                connector=self.connector,
            )
        attempt = 0
        while True:
            self._wait(self.budget.delay(), "rate budget")
            self.budget.sent()
            started = time.monotonic()
            try:
                response = self._exchange(request, where, accept)
            except httpx.HTTPError as exc:  # transport-level: refused, reset, timed out
                sent = not isinstance(exc, _NOT_SENT)
                if attempt < self.max_retries and (retry_when_sent or not sent):
                    delay = self.backoff.delay(attempt, self._rng)
                    logger.warning(
                        "%s: %s failed: %s; retry %d/%d in %.1fs",
                        self.connector,
                        where,
                        _describe(exc),
                        attempt + 1,
                        self.max_retries,
                        delay,
                    )
                    self._wait(delay, "backoff")
                    attempt += 1
                    continue
                if isinstance(exc, httpx.TimeoutException):
                    raise self._timed_out(exc, where, attempt + 1) from None
                raise Unavailable(
                    f"{where} failed after {attempt + 1} attempt(s): {_describe(exc)}. "
                    f"Check that {mask_url(self.base_url)} is reachable.",
                    connector=self.connector,
                ) from None
            self.budget.observe(response.headers)
            status = response.status_code
            logger.debug("%s: %s -> %d in %.0f ms", self.connector, where, status, (time.monotonic() - started) * 1000)
            if status < 400 or status in accept:
                return response
            if status in (401, 403):
                what = "credentials" if status == 401 else "permissions"
                hint = f" {self.credentials_hint}" if self.credentials_hint else ""
                raise CredentialsError(
                    f"{where}: the helpdesk refused the {what} ({status} {_vendor_message(response)}).{hint}",
                    connector=self.connector,
                    status=status,
                )
            if status == 429 or (status >= 500 and retry_when_sent):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status == 429 and retry_after is not None and retry_after > self.max_retry_after:
                    raise RateLimited(
                        f"{where}: rate limited; the helpdesk asks to wait {describe_wait(retry_after)}",
                        connector=self.connector,
                        retry_after=retry_after,
                    )
                # At least what the helpdesk asked for, and never less than the backoff: a "Retry-After: 0"
                # (or a date already past) must not turn into retries in a tight loop.
                backoff = self.backoff.delay(attempt, self._rng)
                delay = max(retry_after, backoff) if retry_after is not None else backoff
                if attempt < self.max_retries:
                    logger.warning(
                        "%s: %s -> %d; retry %d/%d in %.1fs",
                        self.connector,
                        where,
                        status,
                        attempt + 1,
                        self.max_retries,
                        delay,
                    )
                    self._wait(min(delay, self.max_retry_after), "Retry-After" if retry_after else "backoff")
                    attempt += 1
                    continue
                if status == 429:
                    raise RateLimited(
                        f"{where}: still rate limited after {attempt + 1} attempt(s)",
                        connector=self.connector,
                        retry_after=delay,
                    )
            if status >= 500:
                raise Unavailable(
                    f"{where}: the helpdesk failed ({status} {_vendor_message(response)}) "
                    f"after {attempt + 1} attempt(s); try again later",
                    connector=self.connector,
                    status=status,
                )
            raise RequestRejected(
                f"{where}: the helpdesk rejected the request ({status} {_vendor_message(response)})",
                connector=self.connector,
                status=status,
            )

    def json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        accept: Collection[int] = (),
    ) -> Any:
        """Send a request and decode its JSON body, raising MalformedResponse when it is not JSON."""
        response = self.request(method, url, params=params, json=json, idempotent=idempotent, accept=accept)
        return self.decode(response)

    def get(self, url: str, params: Mapping[str, Any] | None = None, *, accept: Collection[int] = ()) -> Any:
        """GET and decode JSON."""
        return self.json("GET", url, params=params, accept=accept)

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of ``response``; Redirected for a redirect, MalformedResponse when it is not JSON."""
        where = f"{response.request.method} {response.request.url.path}"
        if 300 <= response.status_code < 400:
            location = shown_location(response)
            raise Redirected(
                f"{where}: the helpdesk redirected ({response.status_code}) to {location}; redirects are not "
                "followed, so credentials stay with base_url: set base_url to the API's real address "
                "(e.g. https:// instead of http://), or check that no login page or proxy stands in front of it",
                connector=self.connector,
                status=response.status_code,
                location=location,
            )
        try:
            return response.json()
        except ValueError:
            kind = excerpt(response.headers.get("Content-Type", "no content type"), 60)
            raise MalformedResponse(
                f"{where}: answered {response.status_code} with a body that is not JSON "
                f"({kind}, {len(response.content)} bytes: {excerpt(response.text, 80)})",
                connector=self.connector,
                status=response.status_code,
            ) from None

    def pages(
        self,
        first: PageRequest,
        next_page: Callable[[Page], PageRequest | None],
        *,
        max_pages: int | None = None,
    ) -> Iterator[Page]:
        """Yield pages until ``next_page`` says there are no more (or ``max_pages`` were read).

        A failure raises from the generator after the earlier pages were yielded: checkpoint each page
        as it comes. A vendor that caps how deep you may page (Freshdesk 300, Zendesk offset 100) should set
        ``max_pages`` and restart from its cursor.
        """
        current: PageRequest | None = first
        number = 0
        while current is not None:
            number += 1
            response = self.request("GET", current.url, params=current.params)
            page = Page(number, self.decode(response), response)
            yield page
            if max_pages is not None and number >= max_pages:
                return
            current = next_page(page)


__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "MAX_SERVER_WAIT",
    "Backoff",
    "BasicCredentials",
    "ConnectorError",
    "HttpClient",
    "Page",
    "PageRequest",
    "RateBudget",
    "TokenCredentials",
    "next_from_field",
    "next_from_link_header",
    "parse_retry_after",
    "shown_location",
]
