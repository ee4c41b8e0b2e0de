"""Signals for the engine: what the trained models say about a ticket, or nothing before any model exists.

Which models are used is decided by what is under the data dir: a churn model (``models/churn``) gives churn
risk and reasons from the writer's behaviour history; the text models give intent, urgency and language.
A missing model is normal (a policy can run on rules alone); a model that fails to load is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from connectors import Customer, Ticket
from policies import Signals
from router.config import Settings
from router.store import Store


class ModelSignals:
    """The signals of whichever models are trained: text models per ticket, churn per writer."""

    def __init__(self, *, churn: tuple[Any, str] | None = None, text: Any | None = None):
        self.churn = churn
        self.text = text
        self._prepared: dict[tuple[str, str, str], dict[str, Any]] = {}

    @staticmethod
    def _key(ticket: Ticket) -> tuple[str, str, str]:
        return (ticket.source, ticket.external_id, ticket.updated_at.isoformat())

    def prepare(self, tickets: Sequence[Ticket]) -> None:
        """Compute the text signals of many tickets in one batch, ahead of the per-ticket calls."""
        self._prepared = dict(zip(map(self._key, tickets), self._text_fields(tickets), strict=True))

    @property
    def model_versions(self) -> dict[str, str]:
        versions: dict[str, str] = {}
        if self.text is not None:
            versions.update(self.text.model_versions)
        if self.churn is not None:
            versions["churn"] = self.churn[1]
        return versions

    def _text_fields(self, tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
        if self.text is None:
            return [{} for _ in tickets]
        return list(self.text.signal_fields(tickets))

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals:
        cached = self._prepared.pop(self._key(ticket), None)
        fields = dict(cached) if cached is not None else self._text_fields([ticket])[0]
        versions = dict(fields.pop("model_versions", {}))
        if self.churn is not None:
            from router.behaviour.churn_model import churn_signals

            model, version = self.churn
            churn = churn_signals(session, model, version, ticket, customer, now)
            versions.update(churn.pop("model_versions", {}))
            fields.update(churn)
        return Signals(**fields, model_versions=versions)

    def signals_for(self, tickets: Sequence[Ticket]) -> list[Signals]:
        """Text signals for many tickets at once (batched encoding), for replays; no customer history."""
        out = []
        for fields in self._text_fields(tickets):
            versions = dict(fields.pop("model_versions", {}))
            out.append(Signals(**fields, model_versions=versions))
        return out


def load_signal_source(cfg: Settings, store: Store) -> ModelSignals:
    """The models trained under the data dir; with none, empty signals (the policy's rules alone act)."""
    churn = None
    folder = cfg.models_dir / "churn"
    if (folder / "churn.json").is_file():
        from router.behaviour.churn_model import ChurnModel

        model, meta = ChurnModel.load(folder)
        churn = (model, str(meta.get("version", "")))
    from router.signals.text_models import load_text_models

    text = load_text_models(cfg)
    return ModelSignals(churn=churn, text=text)
