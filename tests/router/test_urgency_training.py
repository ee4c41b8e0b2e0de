"""Behaviour-aware urgency trained from the store and used by the engine: the words' level beside who is writing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from evals.synthetic import generate_world, ranking_pair
from policies import load_policy
from router.behaviour.urgency_model import UrgencyModel
from router.config import Settings, TrainingSettings
from router.loop.decide import Engine
from router.signals.signal_source import BEHAVIOUR_URGENCY, load_signal_source
from router.store import Store, upsert
from router.store.tables import DecisionRow
from router.training.text_training import train_text_model
from router.training.urgency_training import fit_urgency_model
from tests.conftest import REPO_ROOT

POLICY = load_policy(REPO_ROOT / "policies" / "examples" / "starter.yaml")
LEVELS = ["low", "normal", "high", "urgent"]


@pytest.mark.slow
def test_store_trained_urgency_raises_the_valued_repeat_contact_and_the_decision_records_why(tmp_path: Path) -> None:
    # The attention network is not what this test is about, and it is most of a fit: left out.
    cfg = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}",
        data_dir=tmp_path / "data",
        training=TrainingSettings(attention_min_tickets=1_000_000),
    )
    store = Store(cfg.database_url)
    world = generate_world(80, 180, seed=5)
    with store.session() as session:
        world.store(session)
    text_version = train_text_model(store, cfg, target="priority", source="synthetic")
    meta = fit_urgency_model(store, cfg.models_dir, source="synthetic")
    assert meta["text_model"] == text_version and meta["training_data"]["tickets"] == len(world.tickets)
    model, _ = UrgencyModel.load(cfg.models_dir / "urgency")
    assert model.text_classes_ == sorted(LEVELS)

    at = world.end + timedelta(days=1)
    a, ticket_a, b, ticket_b = ranking_pair(at)
    with store.session() as session:
        for history in (a, b):
            assert history.customer is not None
            for records in ([history.customer], history.tickets, history.comments, history.ratings, history.events):
                upsert(session, list(records))
        upsert(session, [ticket_a, ticket_b])
        session.commit()
    source = load_signal_source(cfg, store)
    assert source.model_versions[BEHAVIOUR_URGENCY] == meta["version"]
    with store.session() as session:
        source.prepare([ticket_a, ticket_b])
        signals_a = source.signals(session, ticket_a, a.customer, at)
        signals_b = source.signals(session, ticket_b, b.customer, at)
        Engine(POLICY, source, connector="synthetic", mode="suggest").run(session, [ticket_a], at)
        row = session.exec(select(DecisionRow).where(DecisionRow.ticket_external_id == ticket_a.external_id)).one()
    # The same words: the text model says the same for both; who is writing ranks A's ticket at least as high.
    assert signals_a.text_urgency == signals_b.text_urgency
    assert signals_a.urgency is not None and signals_b.urgency is not None
    assert LEVELS.index(signals_a.urgency) >= LEVELS.index(signals_b.urgency)
    assert signals_a.urgency_reasons[0].startswith(f"text says {signals_a.text_urgency}; ")
    assert row.signals["urgency_reasons"] == signals_a.urgency_reasons
    assert row.model_versions[BEHAVIOUR_URGENCY] == meta["version"]
