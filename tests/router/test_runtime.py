"""One long-lived runtime: a policy activated and a model trained while it runs route the very next ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import Ticket
from policies import PolicyError
from router.config import Settings
from router.predict.classifier import TicketClassifier
from router.runtime import Runtime
from router.store import Store, policies, upsert
from router.store.policies import PolicyStoreError
from router.training.text_training import train_text_model
from tests.router.test_model_signals import POLICY, sample_tickets

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)

# Two policies that differ only in where a ticket without a matching rule and without a model goes.
RULES = """
version: 1
name: {name}
queues:
  Billing and Payments: {{file: Billing and Payments}}
  Technical Support: {{file: Technical Support}}
  Customer Service: {{file: Customer Service}}
  Product Support: {{file: Product Support}}
  Triage: {{file: Triage}}
defaults:
  triage_queue: Triage
  min_confidence: 0.0
  route_by_intent: {by_intent}
  queue: {queue}
rules: []
"""


def ticket(n: int) -> Ticket:
    return Ticket(
        source="file",
        external_id=f"new-{n}",
        subject="Invoice charged twice",
        body="Hello, my credit card was charged twice for the same invoice. Please refund one payment.",
        created_at=NOW,
        updated_at=NOW,
    )


def activate(store: Store, text: str, who: str) -> str:
    with store.session() as s:
        stored, _ = policies.activate_text(s, text, "test", who)
        s.commit()
    return stored.version


def test_policy_changes_reach_a_live_runtime_without_a_rebuild(database_url: str, tmp_path: Path) -> None:
    cfg = Settings(database_url=database_url, data_dir=tmp_path / "data")
    store = Store(database_url)
    first = activate(store, RULES.format(name="first", by_intent="false", queue="Customer Service"), "lead")
    with Runtime(cfg, store=store, clock=lambda: NOW) as runtime:
        routed = runtime.route(ticket(1))
        assert routed.decision.policy_version == first
        assert routed.record.queue == "Customer Service" and routed.note
        # Another process (the CLI, the service) activates a new version and later rolls it back.
        second = activate(store, RULES.format(name="second", by_intent="false", queue="Product Support"), "lead")
        routed = runtime.route(ticket(2))
        assert (routed.decision.policy_version, routed.record.queue) == (second, "Product Support")
        with store.session() as s:
            policies.rollback(s, "lead")
            s.commit()
        assert runtime.route(ticket(3)).decision.policy_version == first
        # Routing records nothing: the decision log stays empty.
        with store.session() as s:
            from router.store.decision_log import decisions_for_ticket

            assert decisions_for_ticket(s, "file", "new-1") == []


def test_a_runtime_without_any_policy_says_how_to_get_one(sqlite_url: str, tmp_path: Path) -> None:
    cfg = Settings(database_url=sqlite_url, data_dir=tmp_path / "data")
    with Runtime(cfg) as runtime, pytest.raises(PolicyStoreError, match="policy activate FILE"):
        runtime.route(ticket(1))


def test_a_broken_one_off_policy_file_is_refused_with_its_location(sqlite_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nname: x\nrules:\n  - name: r\n    when: {nonsense: 1}\n    then: []\n")
    cfg = Settings(database_url=sqlite_url, data_dir=tmp_path / "data")
    with pytest.raises(PolicyError, match=r"broken\.yaml"):
        Runtime(cfg, policy_file=broken)


@pytest.mark.slow
def test_a_model_trained_and_a_policy_activated_while_the_runtime_lives_route_the_next_ticket(
    sqlite_url: str, tmp_path: Path
) -> None:
    # SQLite only: the policy's path through PostgreSQL is the test above; training twice costs a minute.
    cfg = Settings(database_url=sqlite_url, data_dir=tmp_path / "data")
    store = Store(sqlite_url)
    with store.session() as s:
        upsert(s, sample_tickets(60))
        s.commit()
    rules_only = activate(store, RULES.format(name="rules", by_intent="false", queue="Customer Service"), "lead")
    v1 = train_text_model(store, cfg, target="queue", source="file", policy=POLICY, target_precision=0.5)
    with Runtime(cfg, store=store, clock=lambda: NOW) as runtime:
        before = runtime.route(ticket(1))
        assert before.decision.policy_version == rules_only
        assert before.signals.model_versions == {"intent": v1}
        assert before.record.queue in ("Customer Service", "Triage")  # the rules' default, or unsure: triage

        # While it runs: a new intent model version is saved (promoted), and a policy that follows the model.
        # (The fitted model saved again: a second fit would only cost time; what matters is the new version.)
        model = TicketClassifier.load(cfg.models_dir, "queue")
        model.save(cfg.models_dir, metadata={"promoted_from": v1})
        v2 = str(model.version_)
        by_model = activate(store, RULES.format(name="by-model", by_intent="true", queue="Customer Service"), "lead")
        assert v2 != v1

        after = runtime.route(ticket(2))
        assert after.decision.policy_version == by_model
        assert after.signals.model_versions == {"intent": v2}
        # Routed by the new model under the new policy (or, where the model is unsure, to triage).
        assert after.record.queue == ("Triage" if after.decision.abstained else after.signals.intent)
        assert after.decision.abstained or "(intent)" in after.decision.fired_rules()
