"""One drain applies the whole backlog, past the batch size, and never loops on rows it cannot apply."""

from __future__ import annotations

import pytest
from sqlmodel import select

from connectors import Action
from router.loop import apply as outbox
from router.loop.apply import drain
from router.store import Store
from router.store.tables import OutboxRow
from tests.router.test_outbox import NOW, RecordingHelpdesk, queue_actions

BATCH = 5
BACKLOG = 13  # more than two batches


def test_one_drain_applies_a_backlog_larger_than_a_batch(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "CLAIM", BATCH)
    store = Store(sqlite_url)
    notes = [Action(kind="add_note", target=str(n), params={"body": f"note {n}"}) for n in range(BACKLOG)]
    queue_actions(store, [Action(kind="route", target="x", params={"queue": "Billing"})], source="other-desk")
    queue_actions(store, notes)
    helpdesk = RecordingHelpdesk()

    report = drain(store, {"rt": (helpdesk, "auto")}, now=NOW)

    assert report.applied == BACKLOG and len(helpdesk.applied) == BACKLOG
    with store.session() as s:
        waiting = s.exec(select(OutboxRow).where(OutboxRow.state != "applied")).all()
    assert [(r.source, r.state) for r in waiting] == [("other-desk", "pending")]  # its connector is not here
