"""Training a text model: the one path from labelled tickets to a saved, versioned classifier.

``deskroute train`` (from files or the store), the demo and the tests all fit through :func:`fit_text_model`, so
every saved model records the same metadata: where its tickets came from, their fingerprint and count.

From the helpdesk's own history (:func:`train_text_model`), each ticket's final queue (after people's
corrections) is its label: queues are the helpdesk's names and the policy maps them back to its team names, so
the intent model speaks the policy's language whatever helpdesk the history came from. Tickets still waiting in
triage carry no label.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies import RoutingPolicy
from router.config import Settings
from router.store import Store
from router.store.model_registry import data_fingerprint
from router.training.encoder_factory import build_encoder
from router.training.labelled import DatasetError, LabelledTickets, tickets_from_store

if TYPE_CHECKING:
    from router.predict import TicketClassifier


def fit_text_model(
    cfg: Settings,
    data: LabelledTickets,
    *,
    target: str,
    origin: dict[str, Any],
    decision: str = "auto",
    target_precision: float = 0.9,
    on_step: Callable[[str], None] | None = None,
    models_dir: Path | None = None,
) -> TicketClassifier:
    """Fit the ``target`` classifier on ``data`` and save it as the next version; returns the fitted model.

    ``origin`` says where the tickets came from (files and columns, or the store and source); it is saved in the
    model's metadata with the tickets' fingerprint. Raises ValueError when the data cannot train a model, the
    embeddings package's errors when the encoder cannot be built, RegistryError or OSError when it cannot be saved.
    """
    from router.predict import TicketClassifier

    labels = data.labelled()
    encoder = build_encoder(cfg)
    model = TicketClassifier(
        target=target.lower(),
        decision=decision,
        target_precision=target_precision,
        attention_min_tickets=cfg.training.attention_min_tickets,
    )
    model.fit(data.tickets, labels, ids=data.ids, encoder=encoder, on_step=on_step)
    fingerprint = data_fingerprint(
        (s or "", b or "", label) for (s, b), label in zip(data.tickets, labels, strict=True)
    )
    model.save(
        models_dir or cfg.models_dir,
        metadata={
            "training_data": {
                **origin,
                "fingerprint": fingerprint,
                "tickets": len(labels),
                "skipped": sum(data.skipped.values()),
            }
        },
    )
    return model


def store_labelled(store: Store, target: str, *, source: str | None, policy: RoutingPolicy | None) -> LabelledTickets:
    """The stored tickets of ``source`` with a usable ``target`` label; ValueError says what to do when none."""
    try:
        return tickets_from_store(store, target, source=source, policy=policy)
    except DatasetError as exc:
        raise ValueError(
            f"no stored ticket{f' of {source!r}' if source else ''} has a usable '{target}' label ({exc}); "
            "sync or import labelled history first"
        ) from None


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
    data = store_labelled(store, target, source=source, policy=policy)
    model = fit_text_model(
        cfg,
        data,
        target=target,
        origin={"store": store.safe_url, "source": source},
        target_precision=target_precision,
        on_step=on_step,
        models_dir=models_dir,
    )
    return str(model.version_)
