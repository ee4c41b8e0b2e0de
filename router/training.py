"""Training from the helpdesk's own history: each ticket's final queue (after people's corrections) is its label.

Queues are the helpdesk's names; the policy maps them back to its team names, so the intent model speaks the
policy's language whatever helpdesk the history came from. Tickets still waiting in triage carry no label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors import Ticket
from policies import RoutingPolicy
from router.config import Settings
from router.encoders import build_encoder
from router.store import Store, iter_tickets

MIN_PER_LABEL = 2


@dataclass(frozen=True)
class LabelledTickets:
    tickets: list[Ticket]
    labels: list[str]
    skipped: int


def team_of_queue(policy: RoutingPolicy | None, connector: str, queue: str) -> str | None:
    """The policy's team for a helpdesk queue name, or the name itself without a policy."""
    if policy is None:
        return queue
    for team in policy.teams:
        if policy.queue_for(team, connector) == queue or team == queue:
            return team
    return None


def labelled_from_store(
    tickets: Iterable[Ticket], *, target: str, policy: RoutingPolicy | None, connector: str
) -> LabelledTickets:
    """Tickets and their labels for ``target`` (``queue`` through the policy's mapping, else a field)."""
    kept: list[Ticket] = []
    labels: list[str] = []
    skipped = 0
    triage = policy.defaults.triage_queue if policy else None
    for t in tickets:
        if target == "queue":
            label = team_of_queue(policy, connector, t.queue) if t.queue else None
            if label == triage:
                label = None
        elif target == "priority":
            label = t.priority
        else:
            value = t.custom_fields.get(target)
            label = str(value) if value not in (None, "") else None
        if label is None or not (t.subject or t.body):
            skipped += 1
            continue
        kept.append(t)
        labels.append(label)
    return LabelledTickets(kept, labels, skipped)


def train_text_model(
    store: Store,
    cfg: Settings,
    *,
    target: str,
    source: str,
    policy: RoutingPolicy | None = None,
    on_step: Callable[[str], None] | None = None,
    models_dir: Path | None = None,
    target_precision: float = 0.9,
) -> str:
    """Fit and save the ``target`` text model on ``source``'s stored tickets; returns its version label."""
    from router.predict.classifier import TicketClassifier

    with store.session() as session:
        data = labelled_from_store(iter_tickets(session, source), target=target, policy=policy, connector=source)
    if not data.tickets:
        raise ValueError(
            f"no stored ticket of '{source}' has a usable '{target}' label; sync or import labelled history first"
        )
    encoder = build_encoder(cfg)
    model = TicketClassifier(target=target, target_precision=target_precision).fit(
        [(t.subject, t.body) for t in data.tickets],
        data.labels,
        ids=[t.external_id for t in data.tickets],
        encoder=encoder,
        on_step=on_step,
    )
    model.save(
        models_dir or cfg.models_dir,
        metadata={"training_data": {"store": store.safe_url, "source": source, "skipped": data.skipped}},
    )
    return str(model.version_)
