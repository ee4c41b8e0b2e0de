"""API tokens for the HTTP service: created once (the secret shown then only), stored hashed, listed and revoked.

A token is 32 random bytes, so a plain SHA-256 of it is enough to store: there is nothing to guess that a slow
hash would protect. Scopes are ordered: ``admin`` may do what ``write`` may, and ``write`` what ``read`` may.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast, get_args

import sqlalchemy as sa
from sqlmodel import Session, col, select

from router.store.database import StoreError
from router.store.policies import check_actor
from router.store.tables import ApiTokenRow

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
TOKEN_PREFIX = "drt_"
_SHOWN_CHARS = 10  # how much of a token a listing shows: its prefix and a few random characters


class TokenError(StoreError):
    """A token cannot be created or revoked as asked; the message says what to do."""


@dataclass(frozen=True)
class ApiToken:
    """A stored token, without its secret."""

    id: int
    name: str
    scope: Scope
    prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def allows(granted: str, needed: Scope) -> bool:
    """Whether a token of scope ``granted`` may do what needs ``needed``."""
    return granted in SCOPES and SCOPES.index(granted) >= SCOPES.index(needed)


def _token(row: ApiTokenRow) -> ApiToken:
    assert row.id is not None
    scope = cast(Scope, row.scope)
    return ApiToken(
        row.id, row.name, scope, row.prefix, row.created_by, row.created_at, row.revoked_at, row.last_used_at
    )


def create_token(
    session: Session, name: str, scope: str, created_by: str, *, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token named ``name``: the stored record and the secret, which is never available again."""
    name = check_actor(name, "--name")
    if scope not in SCOPES:
        raise TokenError(f"--scope {scope!r} is not a scope; use one of {', '.join(SCOPES)}")
    if session.exec(select(ApiTokenRow).where(ApiTokenRow.name == name)).first() is not None:
        raise TokenError(f"a token named {name!r} exists; revoke it first or choose another --name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        name=name,
        scope=scope,
        token_hash=token_hash(secret),
        prefix=secret[:_SHOWN_CHARS],
        created_by=check_actor(created_by),
        created_at=now or datetime.now(UTC),
    )
    session.add(row)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # another process created the same name between our check and insert
        session.rollback()
        raise TokenError(f"a token named {name!r} exists; revoke it first or choose another --name") from None
    return _token(row), secret


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones too (for the record), oldest first."""
    return [_token(r) for r in session.exec(select(ApiTokenRow).order_by(col(ApiTokenRow.id))).all()]


def revoke_token(session: Session, name: str, *, now: datetime | None = None) -> ApiToken:
    """Revoke the token named ``name``; the row stays so the listing shows when it stopped working."""
    row = session.exec(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()
    if row is None:
        raise TokenError(f"no token is named {name!r}; deskroute tokens list shows them")
    if row.revoked_at is None:
        row.revoked_at = now or datetime.now(UTC)
        session.add(row)
        session.flush()
    return _token(row)


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> ApiToken | None:
    """The live token ``token`` is, or None (unknown or revoked). Records when it was last used."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    moment = now or datetime.now(UTC)
    # Written at most once a minute per token: a busy client must not turn every read into a write.
    if row.last_used_at is None or (moment - row.last_used_at).total_seconds() > 60:
        row.last_used_at = moment
        session.add(row)
        session.commit()
    return _token(row)
