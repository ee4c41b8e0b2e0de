"""What can go wrong talking to a helpdesk, as errors a person (or the outbox) can act on.

Every error carries ``retryable``: the outbox and the scheduler retry those later, and give up on the rest.
Messages name the connector, the request (method and path, never the query string) and what to do; they never
contain a credential.
"""

from __future__ import annotations


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


class RequestRejected(ConnectorError):
    """The helpdesk rejected the request itself (4xx other than 401/403/429): fix the request or the data."""


class WebhookUnsupported(ConnectorError):
    """This helpdesk sends no webhooks deskroute can verify; poll it instead."""
