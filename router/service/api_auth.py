"""Who may call the API: a bearer token of a scope (read < write < admin), checked against the stored hashes."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from router.service.api_models import Problem
from router.store.api_tokens import ApiToken, Scope, allows, authenticate

#: What every endpoint behind a token may answer besides its own responses.
TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no API token, or an unknown or revoked one"},
    403: {"model": Problem, "description": "the token's scope is too small for this endpoint"},
}
bearer = HTTPBearer(auto_error=False, description="An API token: deskroute tokens create --name N --scope S")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(scope: Scope) -> Callable[..., ApiToken]:
    """A dependency admitting tokens of ``scope`` or above: 401 without a live token, 403 with too small a one."""

    def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiToken:
        if credentials is None:
            raise HTTPException(401, "this endpoint needs an API token (Authorization: Bearer ...)", _CHALLENGE)
        with request.app.state.runtime.store.session() as session:
            token = authenticate(session, credentials.credentials)
        if token is None:
            raise HTTPException(401, "the API token is unknown or revoked", _CHALLENGE)
        if not allows(token.scope, scope):
            raise HTTPException(403, f"this endpoint needs a token of scope {scope!r}; this one is {token.scope!r}")
        return token

    return check


def metrics_allowed(request: Request, expected: str | None) -> bool:
    """``/metrics`` is open unless a metrics token is configured; then it needs exactly that bearer token."""
    if expected is None:
        return True
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected.encode())
