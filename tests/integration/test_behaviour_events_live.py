"""Acceptance with the live Request Tracker: product events posted to the API reach the features and churn risk
of the same person's RT ticket; a repeated batch changes nothing; a malformed or oversized one stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select
from typer.testing import CliRunner

from connectors.product_events import MAX_BATCH_BYTES
from evals.synthetic import generate_world
from router.cli import app as cli
from router.config import load_settings
from router.loop.triage import find_customer
from router.runtime import Runtime
from router.service import create_app
from router.signals.signal_source import load_signal_source
from router.store import BehaviorEventRow, Store, get_ticket
from router.store.api_tokens import create_token
from router.training.churn_training import fit_churn_model, store_rows
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


def logins(person: str, days: int) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "batch": [
            {
                "type": "track",
                "messageId": f"{RUN}-{person}-{d}",
                "userId": f"app-{RUN}",
                "context": {"traits": {"email": person}},
                "event": "Signed In",
                "timestamp": (now - timedelta(days=d, hours=1)).isoformat(),
            }
            for d in range(days)
        ]
        + [
            {
                "type": "track",
                "messageId": f"{RUN}-{person}-failed",
                "userId": f"app-{RUN}",
                "context": {"traits": {"email": person}},
                "event": "Payment Failed",
                "timestamp": (now - timedelta(days=2)).isoformat(),
            }
        ]
    }


@pytest.mark.slow
def test_events_posted_for_a_person_reach_their_rt_tickets_features_and_churn_risk(
    rt: RTAdmin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deskroute = create_user(rt, f"deskroute-beh-{RUN}", DESKROUTE_RIGHTS)
    helpdesk = build_helpdesk(rt, "behaviour")
    database = f"sqlite:///{tmp_path / 'deskroute.db'}"
    config = write_deskroute_config(tmp_path, helpdesk, write_policy(tmp_path, helpdesk), database, mode="shadow")
    with config.open("a", encoding="utf-8") as toml:
        toml.write(
            '\n[events]\nsource = "app"\n[events.kinds]\n"Signed In" = "login"\n"Payment Failed" = "payment_failed"\n'
        )
    use_deskroute_env(monkeypatch, deskroute, database, tmp_path)
    monkeypatch.setenv("DESKROUTE_CONFIG", str(config))
    cfg = load_settings(config)
    store = Store(database)
    # A churn model trained earlier on other customers, as production would have one.
    world = generate_world(120, 240, seed=11, source="history")
    with store.session() as session:
        world.store(session)
        _, token = create_token(session, "events", "write", "tests")
        session.commit()
    fit_churn_model(store_rows(store, source="history", horizon_days=30), cfg.models_dir / "churn", cv=0)

    active = f"{RUN}-active@example.com"
    quiet = f"{RUN}-quiet@example.com"
    headers = {"Authorization": f"Bearer {token}"}
    with Runtime(cfg) as runtime, TestClient(create_app(runtime)) as client:
        first = client.post("/v1/events", json=logins(active, 12), headers=headers)
        assert first.status_code == 200 and first.json()["stored"] == 13, first.text
        again = client.post("/v1/events", json=logins(active, 12), headers=headers)
        assert again.json() == {**first.json(), "stored": 0, "repeated": 13}
        broken = logins(quiet, 3)
        broken["batch"][1]["timestamp"] = "last tuesday"  # type: ignore[index]
        refused = client.post("/v1/events", json=broken, headers=headers)
        assert refused.status_code == 400 and refused.json()["field"] == "batch[1].timestamp"
        big = client.post("/v1/events", content=b"[" + b" " * MAX_BATCH_BYTES + b"]", headers=headers)
        assert big.status_code == 413
    with store.session() as session:
        stored = session.exec(
            select(func.count()).select_from(BehaviorEventRow).where(BehaviorEventRow.source == "app")
        )
        assert stored.one() == 13

    tickets = {
        person: rt.create(helpdesk.inbox, Requestor=person, Subject="Export broken", Content="It fails again.")[0]
        for person in (active, quiet)
    }
    synced = CliRunner().invoke(cli, ["sync", "rt"])
    assert synced.exit_code == 0, synced.output
    source = load_signal_source(cfg, store)
    now = datetime.now(UTC)
    seen = {}
    with store.session() as session:
        for person, ticket_id in tickets.items():
            ticket = get_ticket(session, "rt", ticket_id)
            assert ticket is not None and ticket.requester is not None
            assert ticket.requester.lower() == person
            seen[person] = source.signals(session, ticket, find_customer(session, ticket), now)
    assert seen[active].features["logins_7d"] == 7 and seen[active].features["logins_30d"] == 12
    assert seen[active].features["payment_failures_90d"] == 1
    assert seen[quiet].features["logins_30d"] == 0 and seen[quiet].features["payment_failures_90d"] == 0
    assert seen[active].churn_risk is not None and seen[quiet].churn_risk is not None
    assert seen[active].churn_risk != seen[quiet].churn_risk
