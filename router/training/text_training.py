"""Training from the helpdesk's own history: each ticket's final queue (after people's corrections) is its label.

Queues are the helpdesk's names; the policy maps them back to its team names, so the intent model speaks the
policy's language whatever helpdesk the history came from. Tickets still waiting in triage carry no label.
The labelled tickets come from the one reader of labelled data (:func:`router.training.labelled.tickets_from_store`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from policies import RoutingPolicy
from router.config import Settings
from router.store import Store
from router.training.encoder_factory import build_encoder
from router.training.labelled import DatasetError, tickets_from_store


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

    try:
        data = tickets_from_store(store, target, source=source, policy=policy)
    except DatasetError as exc:
        raise ValueError(
            f"no stored ticket of '{source}' has a usable '{target}' label ({exc}); "
            "sync or import labelled history first"
        ) from None
    encoder = build_encoder(cfg)
    model = TicketClassifier(target=target, target_precision=target_precision).fit(
        data.tickets,
        data.labelled(),
        ids=[t.external_id for t in data.records],
        encoder=encoder,
        on_step=on_step,
    )
    model.save(
        models_dir or cfg.models_dir,
        metadata={"training_data": {"store": store.safe_url, "source": source, "skipped": sum(data.skipped.values())}},
    )
    return str(model.version_)
