"""What can go wrong talking to a helpdesk, as errors a person (or the outbox) can act on.

Every error carries ``retryable``: the outbox and the scheduler retry those later, and give up on the rest.
Messages name the connector, the request (method and path, never the query string) and what to do; they never
contain a credential.
"""

from __future__ import annotations

from connectors.redaction import CONTROL_CHARACTERS, redact

# How much of a vendor's text (an error body, a header, a field) a message may quote.
EXCERPT_CHARS = 200


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """A vendor's text as one short line for a message: credentials masked, control characters and runs of
    white space become one space, and anything past ``limit`` characters is cut off with "…" (an 80 MB body
    must not become an 80 MB log line or terminal flood)."""
    raw = text if isinstance(text, str) else str(text)
    # Only the start can be shown: never clean more than that of a huge body.
    line = " ".join(CONTROL_CHARACTERS.sub(" ", redact(raw[: limit * 4])).split())
    return line if len(line) <= limit and len(raw) <= limit * 4 else line[: limit - 1].rstrip() + "…"


class ConnectorError(Exception):
    """A connector could not do what was asked."""

    retryable: bool = False

    def __init__(self, message: str, *, connector: str = "", status: int | None = None):
        self.connector = connector
        self.status = status
        super().__init__(f"{connector}: {message}" if connector else message)


class CredentialsError(ConnectorError):
    """The helpdesk refused the credentials (401) or the permissions (403). Retrying will not help."""


class RateLimited(ConnectorError):
    """The helpdesk asked us to wait longer than the client is willing to block; try again after ``retry_after``."""

    retryable = True

    def __init__(self, message: str, *, connector: str = "", retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message, connector=connector, status=429)


class Unavailable(ConnectorError):
    """The helpdesk could not be reached or kept failing (5xx, timeouts, resets) after the retries."""

    retryable = True


class MalformedResponse(ConnectorError):
    """The helpdesk answered with something that is not what its API documents (e.g. broken JSON)."""

    # Usually a proxy's error page or a truncated body: worth another try later.
    retryable = True


class ResponseTooLarge(MalformedResponse):
    """The answer is larger than the connector's ``max_response_bytes``: reading on would exhaust memory."""

    # The same page will be as large next time; raising the limit (or a smaller page_size) is the fix.
    retryable = False


class Redirected(ConnectorError):
    """The helpdesk answered an API call with a redirect (often http -> https, or a login page in front of it).

    Redirects are not followed, so credentials never travel to another address; ``location`` is where it
    pointed, without credentials or query string.
    """

    def __init__(self, message: str, *, connector: str = "", status: int | None = None, location: str = ""):
        self.location = location
        super().__init__(message, connector=connector, status=status)


class RequestRejected(ConnectorError):
    """The helpdesk rejected the request itself (4xx other than 401/403/429): fix the request or the data."""


class WebhookUnsupported(ConnectorError):
    """This helpdesk sends no webhooks deskroute can verify; poll it instead."""
