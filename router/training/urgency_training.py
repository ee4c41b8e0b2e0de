"""Training behaviour-aware urgency: the text priority model's probabilities weighed with who is writing.

The stacker learns from the stored tickets with a priority: for each, the text priority model's probabilities
from its own cross-validation (the text model had not seen that ticket, as it will not have seen a new one),
the writer's behaviour features when the ticket arrived (the ticket itself left out) and, when a churn model
is trained, the writer's churn risk then. It is saved in ``models/urgency``; the engine uses it from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from connectors import normalise_priority
from router.behaviour import FeatureValue, behaviour_features
from router.behaviour.identity import IdentityLinks
from router.store import Store


@dataclass(frozen=True)
class UrgencyRows:
    """Per stored ticket: the text model's held-out probabilities, the writer's features, label and writer."""

    text_proba: np.ndarray
    text_classes: list[str]
    features: list[dict[str, FeatureValue]]
    labels: list[str]
    writers: list[str]
    skipped: dict[str, int]


def store_urgency_rows(
    store: Store, text_model: Any, churn: Any | None, *, source: str | None, links: IdentityLinks | None = None
) -> UrgencyRows:
    """The rows for the stored tickets the text priority model was trained on (by ``source:external_id``).

    Raises ValueError saying what to do when the text model kept no held-out probabilities (trained before they
    were kept) or none of its tickets is in the store.
    """
    from router.behaviour.history import ticket_writer, writer_history
    from router.behaviour.urgency_model import urgency_features, without_ticket
    from router.store import iter_tickets

    held_out = getattr(text_model, "held_out_proba_", None)
    ids = getattr(text_model, "held_out_ids_", None)
    if held_out is None or ids is None:
        raise ValueError(
            f"the text priority model {text_model.version_} keeps no cross-validated probabilities (it predates "
            "them); train it again with `deskroute train --target priority --from-store`"
        )
    row_of = {ticket_id: i for i, ticket_id in enumerate(ids)}
    proba: list[np.ndarray] = []
    features: list[dict[str, FeatureValue]] = []
    labels: list[str] = []
    writers: list[str] = []
    skipped = {"not in the text model's training": 0, "no priority": 0}
    with store.session() as session:
        for ticket in iter_tickets(session, source=source):
            at = row_of.get(f"{ticket.source}:{ticket.external_id}")
            label = normalise_priority(ticket.priority)
            if at is None:
                skipped["not in the text model's training"] += 1
                continue
            if label is None:
                skipped["no priority"] += 1
                continue
            customer = ticket_writer(session, ticket)
            history = writer_history(session, ticket, customer, ticket.created_at, links)
            risk: float | None = None
            if churn is not None and (customer is not None or ticket.requester):
                before = behaviour_features(without_ticket(history, ticket), ticket.created_at)
                risk = float(churn.risk([before])[0])
            proba.append(np.asarray(held_out[at], dtype=float))
            features.append(urgency_features(history, ticket, churn_risk=risk))
            labels.append(label)
            writers.append(customer.external_id if customer is not None else ticket.requester or ticket.external_id)
    if not labels:
        raise ValueError(
            f"none of the {len(ids)} tickets the text priority model learnt from is in the store with a priority"
            f"{f' (source {source!r})' if source else ''}; sync or import them, then train again"
        )
    return UrgencyRows(np.vstack(proba), list(text_model.classes_), features, labels, writers, skipped)


def fit_urgency_model(
    store: Store,
    models_dir: Path,
    *,
    source: str | None,
    links: IdentityLinks | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit the behaviour-aware urgency model on the store and save it in ``models_dir/urgency``; its metadata.

    Needs the text priority model (``deskroute train --target priority``); the churn model is used when there.
    """
    from router.behaviour.churn_model import ChurnModel
    from router.behaviour.urgency_model import TEXT_TARGET, URGENCY_FOLDER, UrgencyModel
    from router.predict import TicketClassifier
    from router.store.model_registry import list_versions

    say = on_step or (lambda message: None)
    if not list_versions(models_dir, "text", TEXT_TARGET):
        raise ValueError(
            "behaviour-aware urgency weighs the text priority model, and none is trained; "
            "run `deskroute train --target priority --from-store` first"
        )
    text_model = TicketClassifier.load(models_dir, TEXT_TARGET)
    churn: tuple[ChurnModel, dict[str, Any]] | None = None
    if (models_dir / "churn" / "churn.json").is_file():
        churn = ChurnModel.load(models_dir / "churn")
    say("reading the writers' histories")
    rows = store_urgency_rows(store, text_model, churn[0] if churn else None, source=source, links=links)
    say(f"fitting on {len(rows.labels)} tickets")
    model = UrgencyModel().fit(rows.text_proba, rows.text_classes, rows.features, rows.labels, groups=rows.writers)
    return model.save(
        models_dir / URGENCY_FOLDER,
        text_model=str(text_model.version_),
        churn_model=str(churn[1].get("version", "")) if churn else None,
        training_data={
            "store": store.safe_url,
            "source": source,
            "tickets": len(rows.labels),
            "writers": len(set(rows.writers)),
            "skipped": rows.skipped,
        },
    )
