"""Acceptance with the live Request Tracker: the same words from a valued repeat contact and from a new customer,
through the running loop (sync, decide, apply in suggest mode); the valued customer's ticket gets the higher
urgency, and the note deskroute writes on it in RT says what the words said and why it was raised."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.synthetic import generate_world, ranking_pair
from router.cli import app as cli
from router.config import load_settings
from router.store import Store, upsert
from router.store.decision_log import latest_decision
from router.training.text_training import train_text_model
from router.training.urgency_training import fit_urgency_model
from tests.integration.conftest import RUN, RTAdmin
from tests.integration.helpdesk_team import (
    DESKROUTE_RIGHTS,
    build_helpdesk,
    create_user,
    use_deskroute_env,
    write_deskroute_config,
    write_policy,
)

pytestmark = pytest.mark.integration
LEVELS = ["low", "normal", "high", "urgent"]
# Words the text model reads as an ordinary request: only who is writing can raise them.
SUBJECT = "Question about the export"
BODY = "The nightly export did not arrive today, can you check?"


@pytest.mark.slow
def test_the_same_words_rank_higher_from_a_valued_repeat_contact_through_rt_and_the_note_says_why(
    rt: RTAdmin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deskroute = create_user(rt, f"deskroute-urg-{RUN}", DESKROUTE_RIGHTS)
    helpdesk = build_helpdesk(rt, "urgency")
    database = f"sqlite:///{tmp_path / 'deskroute.db'}"
    config = write_deskroute_config(tmp_path, helpdesk, write_policy(tmp_path, helpdesk), database, mode="suggest")
    with config.open("a", encoding="utf-8") as toml:
        # What this test is about is who is writing, not the attention network: train without it (faster).
        toml.write("\n[training]\nattention_min_tickets = 1000000\n")
    use_deskroute_env(monkeypatch, deskroute, database, tmp_path)
    cfg = load_settings(config)
    store = Store(database)
    # Models trained earlier on another helpdesk's history, as production would have them.
    world = generate_world(120, 240, seed=11, source="history")
    with store.session() as session:
        world.store(session)
        session.commit()
    train_text_model(store, cfg, target="priority", source="history")
    fit_urgency_model(store, cfg.models_dir, source="history")

    # Two RT requesters with their histories in the store: RT names a requester by e-mail address.
    valued, newcomer = f"{RUN}-valued@example.com", f"{RUN}-new@example.com"
    a, _, b, _ = ranking_pair(datetime.now(UTC), source="rt")
    with store.session() as session:
        for history, email in ((a, valued), (b, newcomer)):
            assert history.customer is not None
            upsert(session, [history.customer.model_copy(update={"email": email})])
            for records in (history.tickets, history.comments, history.ratings, history.events):
                upsert(session, list(records))
        session.commit()
    tickets = {
        email: rt.create(helpdesk.inbox, Requestor=email, Subject=SUBJECT, Content=BODY)[0]
        for email in (valued, newcomer)
    }

    result = CliRunner().invoke(cli, ["run", "--once", "--connector", "rt", "--config", str(config)])
    assert result.exit_code == 0, result.output

    with store.session() as session:
        rows = {email: latest_decision(session, "rt", ticket) for email, ticket in tickets.items()}
    store.dispose()
    high, low = rows[valued], rows[newcomer]
    assert high is not None and low is not None
    assert high.signals["text_urgency"] == low.signals["text_urgency"]
    assert LEVELS.index(high.signals["urgency"]) > LEVELS.index(low.signals["urgency"])
    reason = high.signals["urgency_reasons"][0]
    assert reason.startswith(f"text says {high.signals['text_urgency']}; raised to {high.signals['urgency']}: ")
    # The note in RT, as an agent sees it, carries the same explanation.
    notes = rt.texts(tickets[valued])
    assert any("Urgency: " in text and reason in text for text in notes), notes
