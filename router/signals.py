"""Signals for the engine: the trained models' view of a ticket, or nothing (rules only) before any model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from connectors import Customer, Ticket
from policies import Signals
from router.config import Settings
from router.engine import NoSignals, SignalSource
from router.store import Store


class RulesOnly(NoSignals):
    """No trained model yet: language detection only, so language rules still work."""

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals:
        return Signals()

    def signals_for(self, tickets: Sequence[Ticket]) -> list[Signals]:
        return [Signals() for _ in tickets]


def load_signal_source(cfg: Settings, store: Store) -> SignalSource:
    """The models under the data dir when trained, else rules-only signals."""
    return RulesOnly()
