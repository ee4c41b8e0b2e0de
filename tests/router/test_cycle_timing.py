"""The cycle's timing wrapper must not hide the signal source's batch preparation from the engine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from policies import Signals
from router.signals.signal_source import NoSignals, TimedSignals


class BatchingSource:
    @property
    def model_versions(self) -> dict[str, str]:
        return {}

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def signals(self, session: Any, ticket: Any, customer: Any, now: datetime) -> Signals:
        return Signals()

    def prepare(self, tickets: list[Any]) -> None:
        self.batches.append(list(tickets))

    def signals_for(self, tickets: list[Any]) -> list[Signals]:
        return [Signals() for _ in tickets]

    def clocks(self) -> dict[str, float]:
        return {"encode": 0.0, "language": 0.0}


def test_batches_reach_the_signal_source_through_the_timer() -> None:
    source = BatchingSource()
    timed = TimedSignals(source)
    timed.prepare(["ticket 1", "ticket 2"])  # type: ignore[list-item]
    assert source.batches == [["ticket 1", "ticket 2"]]
    assert timed.seconds > 0


def test_a_source_without_models_gives_empty_signals_through_the_timer() -> None:
    timed = TimedSignals(NoSignals())
    timed.prepare(["ticket 1"])  # type: ignore[list-item]
    assert timed.signals_for(["ticket 1"]) == [Signals()]  # type: ignore[list-item]
    assert timed.model_versions == {}
