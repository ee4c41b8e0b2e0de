"""``POST /v1/route`` and ``GET /v1/tickets/{source}/{id}/decisions``: decide for a ticket, and look decisions up."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError

from connectors import Customer, Ticket
from connectors.errors import excerpt
from connectors.redaction import redact
from router.runtime import Routed, Runtime
from router.service.api_auth import TOKEN_ERRORS, require
from router.service.api_models import (
    ActionOut,
    DecisionOut,
    OutboxItem,
    Problem,
    RouteRequest,
    RouteResult,
)
from router.store import get_ticket
from router.store.api_tokens import ApiToken, allows
from router.store.decision_log import decision_for_version, decisions_for_ticket, outbox_for_decision, save_decision
from router.store.tables import OutboxRow

router = APIRouter(prefix="/v1", tags=["routing"], responses=TOKEN_ERRORS)


def _canonical(body: RouteRequest) -> tuple[Ticket, Customer | None]:
    """The request's ticket and customer as canonical records; a 422 naming the field when they do not validate."""
    now = datetime.now(UTC)
    data = body.ticket.model_dump()
    data["created_at"] = data["created_at"] or now
    data["updated_at"] = data["updated_at"] or data["created_at"]
    try:
        ticket = Ticket.model_validate(data)
        customer = (
            Customer.model_validate({"source": ticket.source, **body.customer.model_dump()})
            if body.customer is not None
            else None
        )
    except ValidationError as exc:
        where = "customer" if body.customer is not None and exc.title == "Customer" else "ticket"
        raise HTTPException(
            422,
            [
                {"loc": ["body", where, *map(str, e["loc"])], "msg": excerpt(e["msg"], 300), "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ],
        ) from None
    return ticket, customer


def _result(routed: Routed, recorded: bool, decision_id: int | None) -> RouteResult:
    record = routed.record
    return RouteResult(
        source=record.source,
        ticket_id=record.ticket_id,
        ticket_version=record.ticket_version,
        policy_version=record.policy_version,
        model_versions=record.model_versions,
        signals=record.signals,
        decision=record.decision,
        abstained=record.abstained,
        queue=record.queue,
        team=record.team,
        priority=record.priority,
        actions=[ActionOut(**a.model_dump(mode="json")) for a in record.actions],
        note=routed.note,
        recorded=recorded,
        decision_id=decision_id,
        timings_ms=routed.step_ms,
    )


def _route_stored(runtime: Runtime, ticket: Ticket, customer: Customer | None) -> RouteResult:
    """Decide for the stored ticket and queue its actions in the outbox, once per ticket version."""
    with runtime.store.session() as session:
        stored = get_ticket(session, ticket.source, ticket.external_id)
    if stored is None:
        raise HTTPException(
            404,
            f"no stored ticket {excerpt(ticket.source, 60)}/{excerpt(ticket.external_id, 60)}; dry_run false decides "
            "only tickets deskroute has synced (send dry_run true to preview any ticket)",
        )
    mode = runtime.connector_settings(stored.source).mode if stored.source in runtime.settings.connectors else "shadow"
    # The stored version is decided, not the one sent: what is queued for the helpdesk rests on what it holds.
    routed = runtime.route(stored, customer, mode=mode)
    with runtime.store.session() as session:
        existing = decision_for_version(session, stored.source, stored.external_id, routed.record.ticket_version)
        if existing is None:
            row = save_decision(session, routed.record, runtime.clock())
            session.commit()
            if row is not None:
                return _result(routed, True, row.id)
            # Another process decided the same version first (the insert gave way): that one stands.
            existing = decision_for_version(session, stored.source, stored.external_id, routed.record.ticket_version)
        assert existing is not None
        raise HTTPException(
            409,
            f"ticket version {routed.record.ticket_version} was decided before (decision {existing.id}); "
            f"GET /v1/tickets/{stored.source}/{stored.external_id}/decisions shows it",
        )


@router.post(
    "/route",
    response_model=RouteResult,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
def route_ticket(body: RouteRequest, request: Request, token: ApiToken = Depends(require("read"))) -> RouteResult:
    """Decide for a ticket: signals with model versions, actions, the trace and the note.

    ``dry_run`` (the default) writes nothing and needs a ``read`` token; ``dry_run: false`` needs ``write``.
    """
    runtime: Runtime = request.app.state.runtime
    ticket, customer = _canonical(body)
    started = time.perf_counter()
    if not body.dry_run:
        if not allows(token.scope, "write"):
            raise HTTPException(
                403, f"dry_run false queues writes and needs a token of scope 'write'; this one is {token.scope!r}"
            )
        result = _route_stored(runtime, ticket, customer)
    else:
        result = _result(runtime.route(ticket, customer), False, None)
    metrics = request.app.state.metrics
    metrics.route_seconds.observe(time.perf_counter() - started)
    probability = result.signals.get("intent_probability")
    metrics.observe_confidences([probability if isinstance(probability, int | float) else None])
    return result


def outbox_item(row: OutboxRow) -> OutboxItem:
    assert row.id is not None
    return OutboxItem(
        id=row.id,
        connector=row.source,
        kind=row.kind,
        target=row.target,
        state=row.state,
        attempts=row.attempts,
        last_error=redact(excerpt(row.last_error, 500)) if row.last_error else None,
        applied_at=row.applied_at,
    )


@router.get(
    "/tickets/{source}/{ticket_id}/decisions",
    response_model=list[DecisionOut],
    responses={404: {"model": Problem}},
)
def ticket_decisions(
    source: str, ticket_id: str, request: Request, token: object = Depends(require("read"))
) -> list[DecisionOut]:
    """Every decision for a ticket, oldest first, with its signals, trace and the outbox state of its actions."""
    with request.app.state.runtime.store.session() as session:
        rows = decisions_for_ticket(session, source, ticket_id)
        if not rows:
            raise HTTPException(
                404, f"no decision is recorded for ticket {excerpt(source, 60)}/{excerpt(ticket_id, 60)}"
            )
        out = []
        for row in rows:
            assert row.id is not None
            out.append(
                DecisionOut(
                    id=row.id,
                    source=row.source,
                    ticket_id=row.ticket_external_id,
                    ticket_version=row.ticket_version,
                    decided_at=row.decided_at,
                    reason=row.reason,
                    mode=row.mode,
                    policy_version=row.policy_version,
                    model_versions=row.model_versions,
                    signals=row.signals,
                    decision=row.decision,
                    abstained=row.abstained,
                    queue=row.queue,
                    team=row.team,
                    priority=row.priority,
                    outbox=[outbox_item(o) for o in outbox_for_decision(session, row.id)],
                )
            )
    return out
