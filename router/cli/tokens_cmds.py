"""``deskroute tokens``: API tokens for the HTTP service, created (shown once), listed and revoked."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from router.cli.common import ConfigOption, console, fail, open_store, settings, styled
from router.store.api_tokens import SCOPES, TokenError, create_token, list_tokens, revoke_token
from router.store.policies import PolicyStoreError, default_actor

app = typer.Typer(help="API tokens for deskroute serve: create, list, revoke.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. zendesk-lead or grafana."),
    scope: str = typer.Option(
        ..., "--scope", help=f"One of {', '.join(SCOPES)} (each may do what those before it may)."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    store = open_store(settings(config))
    try:
        with store.session() as session:
            token, secret = create_token(session, name, scope, default_actor())
            session.commit()
    except (TokenError, PolicyStoreError) as exc:
        raise fail(str(exc)) from None
    console.print(
        styled(
            ("created", "bold green"),
            f" token {token.name!r} of scope {token.scope}; keep it now, it is not shown again:",
        )
    )
    console.print(secret, soft_wrap=True)


@app.command("list")
def list_(config: Path | None = ConfigOption) -> None:
    """Every token: name, scope, its first characters, who created it and when, last use, revocation."""
    store = open_store(settings(config))
    with store.session() as session:
        tokens = list_tokens(session)
    table = Table(title="API tokens")
    for column in ("name", "scope", "starts with", "created by", "created", "last used", "revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            t.name,
            t.scope,
            t.prefix + "...",
            t.created_by,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-",
        )
    console.print(table)


@app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="The token's name (deskroute tokens list)."),
    config: Path | None = ConfigOption,
) -> None:
    """Revoke a token at once, in every service process."""
    store = open_store(settings(config))
    try:
        with store.session() as session:
            token = revoke_token(session, name)
            session.commit()
    except TokenError as exc:
        raise fail(str(exc)) from None
    console.print(styled(("revoked", "bold yellow"), f" token {token.name!r}"))
