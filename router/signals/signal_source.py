"""Signals for the engine: what the trained models say about a ticket, or nothing before any model exists.

Which models are used is decided by what is under the data dir: a churn model (``models/churn``) gives churn
risk and reasons from the writer's behaviour history; the text models give intent, urgency and language; a
behaviour-aware urgency model (``models/urgency``) re-weighs the text urgency with who is writing.
A missing model is normal (a policy can run on rules alone); a model that fails to load is an error.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from connectors import Customer, Ticket, normalise_priority
from policies import Signals
from router.behaviour.identity import IdentityLinks
from router.config import Settings
from router.signals.text_models import TEXT_PRIORITY_PROBA
from router.store import Store

# The model version key of the behaviour-aware urgency model, beside the text model's "urgency".
BEHAVIOUR_URGENCY = "urgency_behaviour"


class SignalSource(Protocol):
    """What the models say about tickets: the one interface the loop, the replays and the service use.

    ``prepare`` is handed the tickets about to be decided, so a source can encode them in one batch (many times
    faster than one by one); ``signals`` is then asked per ticket, with the customer's stored history at hand;
    ``signals_for`` serves replays of labelled files, which have no customer history.
    """

    @property
    def model_versions(self) -> dict[str, str]: ...

    def prepare(self, tickets: Sequence[Ticket]) -> None: ...

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals: ...

    def signals_for(self, tickets: Sequence[Ticket]) -> list[Signals]: ...

    def clocks(self) -> dict[str, float]:
        """Running totals of wall seconds spent in the sentence encoder (``encode``) and language detection
        (``language``): a caller takes them before and after a piece of work and keeps the difference."""
        ...


def _language_seconds() -> float:
    # The detector is the process-wide one, so a difference also counts any other thread's detection meanwhile;
    # routing holds the runtime's lock, so in a service it is exact unless a job detects languages at that moment.
    from router.predict.language_detection import default_detector

    return float(default_detector().seconds)


class NoSignals:
    """No models: the policy runs on its rules alone."""

    @property
    def model_versions(self) -> dict[str, str]:
        return {}

    def prepare(self, tickets: Sequence[Ticket]) -> None:
        """Nothing to compute ahead."""

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals:
        return Signals()

    def signals_for(self, tickets: Sequence[Ticket]) -> list[Signals]:
        return [Signals() for _ in tickets]

    def clocks(self) -> dict[str, float]:
        return {"encode": 0.0, "language": _language_seconds()}


class TimedSignals:
    """Wraps a signal source to measure the time spent in the models (encoding and predicting)."""

    def __init__(self, inner: SignalSource):
        self.inner = inner
        self.seconds = 0.0

    @property
    def model_versions(self) -> dict[str, str]:
        return self.inner.model_versions

    def _timed(self, start: float) -> None:
        self.seconds += time.perf_counter() - start

    def prepare(self, tickets: Sequence[Ticket]) -> None:
        start = time.perf_counter()
        try:
            self.inner.prepare(tickets)
        finally:
            self._timed(start)

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals:
        start = time.perf_counter()
        try:
            return self.inner.signals(session, ticket, customer, now)
        finally:
            self._timed(start)

    def signals_for(self, tickets: Sequence[Ticket]) -> list[Signals]:
        start = time.perf_counter()
        try:
            return self.inner.signals_for(tickets)
        finally:
            self._timed(start)

    def clocks(self) -> dict[str, float]:
        return self.inner.clocks()


class ModelSignals:
    """The signals of whichever models are trained: text models per ticket, churn per writer."""

    def __init__(
        self,
        *,
        churn: tuple[Any, str] | None = None,
        text: Any | None = None,
        urgency: tuple[Any, str] | None = None,
        links: IdentityLinks | None = None,
    ):
        self.churn = churn
        self.text = text
        self.urgency = urgency
        self.links = links
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
        if self.urgency is not None and "urgency" in versions:
            versions[BEHAVIOUR_URGENCY] = self.urgency[1]
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
            churn = churn_signals(session, model, version, ticket, customer, now, self.links)
            versions.update(churn.pop("model_versions", {}))
            fields.update(churn)
        text_proba = fields.pop(TEXT_PRIORITY_PROBA, None)
        if self.urgency is not None and text_proba is not None and "urgency" in fields:
            fields.update(self._behaviour_urgency(session, ticket, customer, now, text_proba, fields))
            versions[BEHAVIOUR_URGENCY] = self.urgency[1]
        return Signals(**fields, model_versions=versions)

    def _behaviour_urgency(
        self,
        session: Session,
        ticket: Ticket,
        customer: Customer | None,
        now: datetime,
        text_proba: tuple[list[str], list[float]],
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """Urgency from the words and who is writing, with the words' own level and the reasons they differ."""
        from router.behaviour.history import writer_history
        from router.behaviour.urgency_model import explain_urgency, urgency_features

        model, _version = self.urgency  # type: ignore[misc]
        classes, proba = text_proba
        history = writer_history(session, ticket, customer, now, self.links)
        features = urgency_features(history, ticket, churn_risk=fields.get("churn_risk"))
        found = explain_urgency(model, proba, classes, str(fields["urgency"]), features)
        level = normalise_priority(found.priority)
        if level is None:
            return {}
        return {
            "urgency": level,
            "urgency_probability": min(max(found.probability, 0.0), 1.0),
            "text_urgency": fields["urgency"],
            "urgency_reasons": [found.summary()],
        }

    def signals_for(self, tickets: Sequence[Ticket]) -> list[Signals]:
        """Text signals for many tickets at once (batched encoding), for replays; no customer history."""
        out = []
        for fields in self._text_fields(tickets):
            fields.pop(TEXT_PRIORITY_PROBA, None)
            versions = dict(fields.pop("model_versions", {}))
            out.append(Signals(**fields, model_versions=versions))
        return out

    def clocks(self) -> dict[str, float]:
        encoders = self.text.encoders() if self.text is not None else []
        return {
            "encode": sum(float(e.stats.model_seconds) for e in encoders),
            "language": _language_seconds(),
        }


def load_signal_source(cfg: Settings, store: Store) -> SignalSource:
    """The models trained under the data dir; with none, empty signals (the policy's rules alone act)."""
    churn = None
    folder = cfg.models_dir / "churn"
    if (folder / "churn.json").is_file():
        from router.behaviour.churn_model import ChurnModel

        model, meta = ChurnModel.load(folder)
        churn = (model, str(meta.get("version", "")))
    from router.signals.text_models import load_text_models

    text = load_text_models(cfg)
    urgency = None
    from router.behaviour.urgency_model import METADATA_FILE, URGENCY_FOLDER, UrgencyModel

    folder = cfg.models_dir / URGENCY_FOLDER
    if (folder / METADATA_FILE).is_file():
        # Used only beside a text priority model: it weighs that model's probabilities with who is writing.

        stacked, meta = UrgencyModel.load(folder)
        urgency = (stacked, str(meta.get("version", "")))
    links = IdentityLinks(cfg.events.source, cfg.events.identity_attribute)
    return ModelSignals(churn=churn, text=text, urgency=urgency, links=links)
