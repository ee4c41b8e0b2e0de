"""``/v1/pause``, ``/v1/resume`` and ``/v1/outbox``: control over every write to the helpdesks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import func, select

from router.loop.apply import is_paused, requeue_dead, set_paused
from router.service.api_auth import TOKEN_ERRORS, require
from router.service.api_models import OutboxCount, OutboxStatus, PauseRequest, PauseState, Requeued
from router.service.routing_routes import outbox_item
from router.store.api_tokens import ApiToken
from router.store.tables import OutboxRow

router = APIRouter(prefix="/v1", tags=["outbox"], responses=TOKEN_ERRORS)
DEAD_SHOWN = 100  # the newest dead letters listed; the counts cover them all


@router.post("/pause", response_model=PauseState)
def pause(body: PauseRequest, request: Request, token: ApiToken = Depends(require("write"))) -> PauseState:
    """Stop every write to every helpdesk at once; decisions keep being recorded."""
    with request.app.state.runtime.store.session() as session:
        set_paused(session, True, by=f"api:{token.name}", reason=body.reason)
    return PauseState(paused=True)


@router.post("/resume", response_model=PauseState)
def resume(request: Request, token: ApiToken = Depends(require("write"))) -> PauseState:
    """Resume writing the queued actions."""
    with request.app.state.runtime.store.session() as session:
        set_paused(session, False, by=f"api:{token.name}")
    return PauseState(paused=False)


@router.get("/outbox", response_model=OutboxStatus)
def outbox_status(request: Request, token: object = Depends(require("read"))) -> OutboxStatus:
    """Actions per connector and state, whether writes are paused, and the newest dead letters with their error."""
    with request.app.state.runtime.store.session() as session:
        counts = session.exec(
            select(OutboxRow.source, OutboxRow.state, func.count()).group_by(OutboxRow.source, OutboxRow.state)
        ).all()
        dead = session.exec(
            select(OutboxRow).where(OutboxRow.state == "dead").order_by(OutboxRow.id.desc()).limit(DEAD_SHOWN)  # type: ignore[union-attr]
        ).all()
        paused = is_paused(session)
    return OutboxStatus(
        paused=paused,
        counts=[OutboxCount(connector=c, state=s, actions=int(n)) for c, s, n in sorted(counts)],
        dead=[outbox_item(row) for row in dead],
    )


@router.post("/outbox/retry-dead", response_model=Requeued)
def retry_dead(request: Request, connector: str | None = None, token: object = Depends(require("write"))) -> Requeued:
    """Queue the dead-lettered actions again (all, or one connector's) once their cause is fixed."""
    with request.app.state.runtime.store.session() as session:
        return Requeued(requeued=requeue_dead(session, connector))
