"""Text signals: intent (the queue model), urgency (the priority model) and language, for one or many tickets.

Models are looked up in the registry under the data dir: ``text/queue`` for intent and ``text/priority`` for
urgency. Either may be missing: its signal is then absent, and the policy's conditions on it are false.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors import Ticket, normalise_priority
from policies import LabelScore, Neighbour
from router.behaviour.urgency_model import TEXT_TARGET
from router.config import Settings
from router.training.encoder_factory import build_encoder

INTENT_TARGET = "queue"
URGENCY_TARGET = TEXT_TARGET
TEXT_PRIORITY_PROBA = "text_priority_proba"


class TextModels:
    """The fitted text classifiers and the language detector, used together on batches of tickets."""

    def __init__(self, intent: Any | None, urgency: Any | None, *, detect_languages: bool = True):
        self.intent = intent
        self.urgency = urgency
        self.detect_languages = detect_languages

    @property
    def model_versions(self) -> dict[str, str]:
        versions = {}
        if self.intent is not None:
            versions["intent"] = str(self.intent.version_)
        if self.urgency is not None:
            versions["urgency"] = str(self.urgency.version_)
        return versions

    def encoders(self) -> list[Any]:
        """The distinct sentence encoders of the models (intent and urgency often share one)."""
        found: dict[int, Any] = {}
        for model in (self.intent, self.urgency):
            if model is not None:
                encoder = model.encoder()
                found[id(encoder)] = encoder
        return list(found.values())

    def signal_fields(self, tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
        """The ``Signals`` fields the text models fill, one dict per ticket (encoded once, as a batch)."""
        if not tickets:
            return []
        subjects = [t.subject for t in tickets]
        bodies = [t.body for t in tickets]
        fields: list[dict[str, Any]] = [{"model_versions": dict(self.model_versions)} for _ in tickets]
        vectors = tokens = None
        if self.intent is not None:
            # One encoding serves both classifiers when they were fitted with the same encoder.
            pairs = list(zip(subjects, bodies, strict=True))
            encoder = self.intent.encoder()
            if self.intent.needs_tokens or (self.urgency is not None and self.urgency.needs_tokens):
                vectors, tokens = encoder.encode_tickets_with_tokens(pairs)
            else:
                vectors = encoder.encode_tickets(pairs)
            predictions = self.intent.predict_tickets(subjects, bodies, vectors=vectors, tokens=tokens)
            for f, p in zip(fields, predictions, strict=True):
                f.update(
                    intent=p.label,
                    intent_probability=min(max(p.probability, 0.0), 1.0),
                    intent_top_k=[LabelScore(label=label, probability=min(max(q, 0.0), 1.0)) for label, q in p.top_k],
                    abstain=p.abstained,
                    abstain_reason=p.abstain_reason,
                    novel=p.novel,
                    neighbours=[Neighbour(ticket_id=n.ticket_id, score=n.score, queue=n.label) for n in p.neighbours],
                )
        if self.urgency is not None:
            same_encoder = self.intent is not None and (
                getattr(self.intent, "encoder_model_id_", None) == getattr(self.urgency, "encoder_model_id_", None)
                and getattr(self.intent, "encoder_window_", None) == getattr(self.urgency, "encoder_window_", None)
            )
            probabilities = self.urgency.predict_proba(
                list(zip(subjects, bodies, strict=True)),
                vectors=vectors if same_encoder else None,
                tokens=tokens if same_encoder else None,
            )
            for f, row, chosen in zip(fields, probabilities, self.urgency.decided(probabilities), strict=True):
                level = normalise_priority(self.urgency.classes_[chosen])
                if level is not None:
                    f.update(urgency=level, urgency_probability=min(max(float(row[chosen]), 0.0), 1.0))
                # The whole distribution, for the behaviour-aware urgency model stacked on it; not a Signals field.
                f[TEXT_PRIORITY_PROBA] = (list(self.urgency.classes_), [float(p) for p in row])
        if self.detect_languages:
            from router.predict.language_detection import default_detector

            detected = default_detector().detect_many([t.text for t in tickets])
            for f, t, found in zip(fields, tickets, detected, strict=True):
                f["language"] = found.code if found else t.language
        return fields


def load_text_models(cfg: Settings) -> TextModels | None:
    """The latest trained intent and urgency models, or None when neither is trained."""
    from router.predict.classifier import TicketClassifier
    from router.store.model_registry import list_versions

    loaded: dict[str, Any] = {}
    for target in (INTENT_TARGET, URGENCY_TARGET):
        if list_versions(cfg.models_dir, "text", target):
            model = TicketClassifier.load(cfg.models_dir, target)
            model.attach_encoder(build_encoder(cfg, max_seq_length=getattr(model, "encoder_window_", None)))
            loaded[target] = model
    if not loaded:
        return None
    return TextModels(loaded.get(INTENT_TARGET), loaded.get(URGENCY_TARGET))
