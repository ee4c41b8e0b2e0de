"""The cycle's timing wrapper must not hide the signal source's batch preparation from the engine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from policies import Signals
from router.loop.cycle import TimedSignals
from router.loop.decide import NoSignals


class BatchingSource:
    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def signals(self, session: Any, ticket: Any, customer: Any, now: datetime) -> Signals:
        return Signals()

    def prepare(self, tickets: list[Any]) -> None:
        self.batches.append(list(tickets))


def test_batches_reach_the_signal_source_through_the_timer() -> None:
    source = BatchingSource()
    timed = TimedSignals(source)
    # The engine looks the method up by name: the wrapper must offer it.
    prepare = getattr(timed, "prepare", None)
    assert prepare is not None
    prepare(["ticket 1", "ticket 2"])
    assert source.batches == [["ticket 1", "ticket 2"]]
    assert timed.seconds > 0


def test_a_source_without_batches_is_left_alone() -> None:
    timed = TimedSignals(NoSignals())
    timed.prepare(["ticket 1"])  # type: ignore[list-item]
    assert timed.seconds == 0.0
