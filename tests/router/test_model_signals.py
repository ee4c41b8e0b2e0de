"""Model signals end to end: train text models from the store through the policy, then decide with them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from connectors import Ticket
from connectors.files import RowMapper, read_rows
from policies import load_policy
from router.config import Settings
from router.loop.decide import Engine
from router.signals.signal_source import load_signal_source
from router.store import Store, upsert
from router.store.tables import DecisionRow
from router.training.text_training import train_text_model
from tests.conftest import REPO_ROOT

SAMPLE = REPO_ROOT / "examples" / "sample" / "tickets.csv"
POLICY = load_policy(REPO_ROOT / "policies" / "examples" / "starter.yaml")
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def sample_tickets(n: int) -> list[Ticket]:
    mapper = RowMapper("tickets", path=SAMPLE, source="file")
    out = []
    for line, row in read_rows(SAMPLE):
        parsed = mapper.map(line, row)
        record = getattr(parsed, "record", None)
        if isinstance(record, Ticket) and record.queue in (
            "Technical Support",
            "Billing and Payments",
            "Customer Service",
            "Product Support",
        ):
            out.append(record.model_copy(update={"status": "solved"}))
        if len(out) == n:
            break
    return out


@pytest.mark.slow
def test_store_trained_models_give_the_engine_intent_urgency_and_language(tmp_path: Path) -> None:
    cfg = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", data_dir=tmp_path / "data")
    store = Store(cfg.database_url)
    history = sample_tickets(80)
    with store.session() as s:
        upsert(s, history)
        s.commit()
    version = train_text_model(store, cfg, target="queue", source="file", policy=POLICY, target_precision=0.5)
    assert version.startswith("text/queue@v1")
    train_text_model(store, cfg, target="priority", source="file")
    source = load_signal_source(cfg, store)
    assert set(source.model_versions) == {"intent", "urgency"}

    new = Ticket(
        source="file",
        external_id="new-1",
        subject="Invoice charged twice",
        body="Hello, my credit card was charged twice for the same invoice. Please refund one payment.",
        created_at=NOW,
        updated_at=NOW,
    )
    [signals] = source.signals_for([new])
    assert signals.intent in POLICY.teams and signals.intent_probability is not None
    assert signals.urgency in ("low", "normal", "high", "urgent") and signals.language == "en"
    assert signals.intent_top_k and signals.neighbours
    with store.session() as s:
        Engine(POLICY, source, connector="file", mode="suggest").run(s, [new], NOW)
        row = s.exec(select(DecisionRow)).one()
    assert row.model_versions["intent"] == version and row.signals["intent"] == signals.intent
