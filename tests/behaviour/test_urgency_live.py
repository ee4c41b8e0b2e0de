"""Behaviour-aware urgency in the loop: the signals and the agent's note show the words' level, the model's and why."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from connectors import Ticket
from evals.behaviour_urgency import out_of_fold_text
from evals.synthetic import SyntheticWorld, ranking_pair
from policies import Decision
from router.behaviour.urgency_model import (
    UrgencyExplanation,
    UrgencyModel,
    explain_urgency,
    urgency_features,
    urgency_score,
)
from router.loop.agent_note import agent_note
from router.signals.signal_source import BEHAVIOUR_URGENCY, ModelSignals
from router.signals.text_models import TEXT_PRIORITY_PROBA
from router.store import Store, upsert
from router.training.urgency_training import store_urgency_rows

CLASSES = ["high", "low", "normal", "urgent"]
# The same words from both writers: a text model that says "normal", not sure of it.
WORDS = [0.2, 0.15, 0.6, 0.05]


@pytest.fixture(scope="module")
def stacker(small_world: SyntheticWorld) -> UrgencyModel:
    world = small_world
    histories = world.histories()
    labels = np.asarray([t.priority for t in world.tickets])
    groups = [t.requester or "" for t in world.tickets]
    text = out_of_fold_text([t.text for t in world.tickets], labels, groups, 3, 0)
    features = [urgency_features(histories[t.requester or ""], t, churn_risk=0.1) for t in world.tickets]
    return UrgencyModel(stacker="boosting", max_iter=40).fit(text, sorted(set(labels.tolist())), features, labels)


def test_the_same_words_rank_higher_from_the_valued_repeat_contact_and_say_why(
    stacker: UrgencyModel, small_world: SyntheticWorld
) -> None:
    a, ticket_a, b, ticket_b = ranking_pair(small_world.end)
    found_a = explain_urgency(stacker, WORDS, CLASSES, "normal", urgency_features(a, ticket_a, churn_risk=0.6))
    found_b = explain_urgency(stacker, WORDS, CLASSES, "normal", urgency_features(b, ticket_b, churn_risk=0.1))
    rows = [urgency_features(a, ticket_a, churn_risk=0.6), urgency_features(b, ticket_b, churn_risk=0.1)]
    scores = urgency_score(stacker.predict_proba(np.asarray([WORDS, WORDS]), CLASSES, rows), stacker.classes_)
    assert scores[0] > scores[1]
    order = ["low", "normal", "high", "urgent"]
    assert order.index(found_a.priority) >= order.index(found_b.priority)
    # A's reasons are A's history in words, each one a feature that moved the level the way it went.
    assert found_a.reasons
    known = ("ticket", "rating", "revenue", "plan", "repl", "usage", "login", "churn risk")
    assert all(any(word in reason for word in known) for reason in found_a.reasons), found_a.reasons
    assert found_a.summary().startswith("text says normal; ")


def test_the_summary_says_which_way_the_level_moved() -> None:
    raised = UrgencyExplanation("high", 0.7, "normal", ["3 tickets in 7 days", "last satisfaction rating: bad"])
    assert raised.summary() == "text says normal; raised to high: 3 tickets in 7 days, last satisfaction rating: bad"
    assert UrgencyExplanation("low", 0.5, "normal", ["no tickets yet"]).summary() == (
        "text says normal; lowered to low: no tickets yet"
    )
    assert UrgencyExplanation("normal", 0.5, "normal", []).summary() == "text says normal; kept at normal"


class WordsSayNormal:
    """A text model's output for tests of the stacking: every ticket's words say "normal" with WORDS."""

    def __init__(self, with_distribution: bool = True):
        self.with_distribution = with_distribution
        self.model_versions = {"urgency": "text/priority@v7"}

    def signal_fields(self, tickets: list[Ticket]) -> list[dict[str, Any]]:
        out = []
        for _ in tickets:
            fields: dict[str, Any] = {
                "model_versions": dict(self.model_versions),
                "urgency": "normal",
                "urgency_probability": 0.6,
            }
            if self.with_distribution:
                fields[TEXT_PRIORITY_PROBA] = (list(CLASSES), list(WORDS))
            out.append(fields)
        return out


def test_model_signals_stack_on_the_words_and_the_note_shows_both(
    stacker: UrgencyModel, small_world: SyntheticWorld, tmp_path: Path
) -> None:
    a, ticket_a, _, _ = ranking_pair(small_world.end)
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    with store.session() as session:
        assert a.customer is not None
        for records in ([a.customer], [*a.tickets, ticket_a], a.comments, a.ratings, a.events):
            upsert(session, list(records))
        session.commit()
        source = ModelSignals(text=WordsSayNormal(), urgency=(stacker, "urgency-test"))
        signals = source.signals(session, ticket_a, a.customer, small_world.end)
        plain = ModelSignals(text=WordsSayNormal(with_distribution=False), urgency=(stacker, "urgency-test"))
        unstacked = plain.signals(session, ticket_a, a.customer, small_world.end)
    expected = explain_urgency(stacker, WORDS, CLASSES, "normal", urgency_features(a, ticket_a))
    assert signals.urgency == expected.priority and signals.text_urgency == "normal"
    assert signals.urgency_reasons == [expected.summary()]
    assert signals.model_versions == {"urgency": "text/priority@v7", BEHAVIOUR_URGENCY: "urgency-test"}
    # Without the words' distribution there is nothing to stack on: the text urgency stands, unexplained.
    assert unstacked.urgency == "normal" and unstacked.text_urgency is None and not unstacked.urgency_reasons
    assert BEHAVIOUR_URGENCY not in unstacked.model_versions
    note = agent_note(ticket_a, signals, Decision(policy_version="p1"), {})
    assert f"Urgency: {expected.summary()}" in note.splitlines()


def test_a_text_model_without_held_out_probabilities_is_refused_with_what_to_do(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    old = SimpleNamespace(version_="text/priority@v1", classes_=CLASSES)
    with pytest.raises(ValueError, match="train it again with `deskroute train --target priority --from-store`"):
        store_urgency_rows(store, old, None, source=None)
    fresh = SimpleNamespace(
        version_="text/priority@v2", classes_=CLASSES, held_out_proba_=np.asarray([WORDS]), held_out_ids_=["x:1"]
    )
    with pytest.raises(ValueError, match="none of the 1 tickets the text priority model learnt from is in the store"):
        store_urgency_rows(store, fresh, None, source=None)


def test_train_urgency_needs_the_store_and_a_text_priority_model(cli_env: Path) -> None:
    from router.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "--target", "urgency", "--file", "x.csv"])
    assert result.exit_code != 0 and "use --from-store" in result.output
    result = runner.invoke(app, ["train", "--target", "urgency", "--from-store"])
    assert result.exit_code != 0
    assert "run `deskroute train --target priority --from-store` first" in result.output
