"""The service's API in process (FastAPI's test client) on SQLite and PostgreSQL: tokens and scopes, webhooks,
routing, decisions, policies over the API and the outbox controls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from connectors.webhooks import MAX_WEBHOOK_BYTES, shared_secret_headers
from router.config import load_settings
from router.loop.sync import sync
from router.runtime import Runtime
from router.service import create_app
from router.store.tables import DecisionRow, OutboxRow, WebhookDeliveryRow
from tests.service.service_workspace import SECRET, SECRET_ENV, STARTER, Workspace, make_workspace

RULES = """
version: 1
name: {name}
queues:
  Billing: {{file: Billing}}
  Support: {{file: Support}}
  Triage: {{file: Triage}}
defaults:
  triage_queue: Triage
  min_confidence: 0.0
  route_by_intent: false
  queue: {queue}
rules: []
"""
TICKET = {"subject": "Invoice charged twice", "body": "Please refund one payment."}


@pytest.fixture
def served(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Workspace]]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    workspace = make_workspace(tmp_path, database_url)
    with Runtime(load_settings(workspace.config)) as runtime, TestClient(create_app(runtime)) as client:
        yield client, workspace
        runtime.store.dispose()


def auth(workspace: Workspace, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {workspace.tokens[scope]}"}


def test_no_token_is_401_and_a_read_token_cannot_activate(served: tuple[TestClient, Workspace]) -> None:
    client, ws = served
    assert client.get("/v1/policies").status_code == 401
    assert client.get("/v1/policies", headers={"Authorization": "Bearer drt_not-a-token"}).status_code == 401
    assert client.get("/v1/policies", headers=auth(ws, "read")).status_code == 200
    refused = client.post("/v1/policies/abcd/activate", headers=auth(ws, "read"))
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert client.post("/v1/pause", json={}, headers=auth(ws, "read")).status_code == 403
    assert client.get("/healthz").status_code == 200


def test_policy_upload_activation_and_rollback_change_the_next_route(served: tuple[TestClient, Workspace]) -> None:
    client, ws = served
    admin = auth(ws, "admin")
    broken = client.post("/v1/policies", json={"text": "version: 1\nname: x\nqueues: 5\n"}, headers=admin)
    assert broken.status_code == 400
    assert broken.json()["issues"] and broken.json()["issues"][0].startswith("policy uploaded over the API:")
    assert ":" in broken.json()["issues"][0].split("API:", 1)[1]  # line and column
    first = client.post("/v1/policies", json={"text": RULES.format(name="one", queue="Billing"), "activate": True},
                        headers=admin)  # fmt: skip
    assert first.status_code == 201, first.text
    routed = client.post("/v1/route", json={"ticket": TICKET}, headers=auth(ws, "read")).json()
    assert (routed["policy_version"], routed["team"]) == (first.json()["version"], "Billing")
    second = client.post("/v1/policies", json={"text": RULES.format(name="two", queue="Support")}, headers=admin)
    assert second.status_code == 201 and not second.json()["activated"]
    activated = client.post(f"/v1/policies/{second.json()['version'][:8]}/activate", headers=admin)
    assert activated.status_code == 200 and activated.json()["changed"]
    assert client.post("/v1/route", json={"ticket": TICKET}, headers=auth(ws, "read")).json()["team"] == "Support"
    back = client.post("/v1/policies/rollback", headers=admin)
    assert back.status_code == 200 and back.json()["active"] == first.json()["version"]
    assert client.post("/v1/route", json={"ticket": TICKET}, headers=auth(ws, "read")).json()["team"] == "Billing"
    history = client.get("/v1/policies", headers=auth(ws, "read")).json()
    assert [a["action"] for a in history["activations"]] == ["activate", "activate", "rollback"]
    assert {a["activated_by"] for a in history["activations"]} == {"api:test-admin"}
    assert all(a["activated_at"] for a in history["activations"])
    unknown = client.post("/v1/policies/ffffffff/activate", headers=admin)
    assert unknown.status_code == 409 and "policy history" in unknown.json()["detail"]


def test_an_uploaded_policy_whose_test_fails_is_not_stored(served: tuple[TestClient, Workspace]) -> None:
    client, ws = served
    text = STARTER.read_text()
    tests = (STARTER.parent / "starter.tests.yaml").read_text()
    whole = client.post("/v1/policies", json={"text": text, "tests": tests}, headers=auth(ws, "admin"))
    assert whole.status_code == 201 and whole.json()["tests_run"] > 0
    expected = "expect: {queue: Service Outages and Maintenance"
    assert expected in tests
    wrong = tests.replace(expected, "expect: {queue: Technical Support", 1)
    changed = text + "\n# changed\n"
    answer = client.post("/v1/policies", json={"text": changed, "tests": wrong}, headers=auth(ws, "admin"))
    assert answer.status_code == 400 and "test(s) failed" in answer.json()["detail"], answer.text
    listed = client.get("/v1/policies", headers=auth(ws, "read")).json()["versions"]
    assert len(listed) == 1  # the refused one was not stored


def _deliver(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    response = client.post("/webhooks/helpdesk", content=body, headers=headers)
    return response.status_code, response.json()


def test_webhooks_are_verified_stored_once_and_refused_with_their_reason(
    served: tuple[TestClient, Workspace],
) -> None:
    client, _ = served
    now = datetime.now(UTC)
    body = b'{"ticket_id": "A1"}'
    good = shared_secret_headers(SECRET, "delivery-1", now)
    assert _deliver(client, body, good) == (202, {"result": "accepted", "delivery_id": "delivery-1", "tickets": ["A1"]})
    assert _deliver(client, body, good)[0] == 200 and _deliver(client, body, good)[1]["result"] == "already_accepted"
    forged = _deliver(client, body, shared_secret_headers("guessed-value-9", "delivery-2", now))
    stale = _deliver(client, body, shared_secret_headers(SECRET, "delivery-3", now - timedelta(hours=1)))
    huge = _deliver(client, b" " * (MAX_WEBHOOK_BYTES + 1), shared_secret_headers(SECRET, "delivery-4", now))
    # Without a declared length (chunked), the body is read only up to the limit.
    chunks = iter([b" " * MAX_WEBHOOK_BYTES, b" " * 1024])
    chunked = client.post("/webhooks/helpdesk", content=chunks, headers=shared_secret_headers(SECRET, "d-6", now))
    assert (chunked.status_code, chunked.json()["result"]) == (413, "too_large")
    malformed = _deliver(client, b"not json", shared_secret_headers(SECRET, "delivery-5", now))
    assert (forged[0], forged[1]["result"]) == (401, "forged")
    assert (stale[0], stale[1]["result"]) == (401, "stale")
    assert (huge[0], huge[1]["result"]) == (413, "too_large")
    assert (malformed[0], malformed[1]["result"]) == (400, "malformed")
    assert SECRET not in str(forged) and "guessed-value-9" not in str(forged)
    assert client.post("/webhooks/nosuch", content=body, headers=good).status_code == 404
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.store.session() as session:
        rows = session.exec(select(WebhookDeliveryRow)).all()
    assert [(r.delivery_id, r.ticket_ids, r.state) for r in rows] == [("delivery-1", ["A1"], "pending")]
    metrics = client.get("/metrics").text
    assert 'deskroute_webhook_requests_total{connector="helpdesk",result="accepted"} 1.0' in metrics
    assert 'result="already_accepted"} 2.0' in metrics and 'result="forged"} 1.0' in metrics


def test_route_dry_run_writes_nothing_and_a_stored_ticket_is_queued_once(
    served: tuple[TestClient, Workspace],
) -> None:
    client, ws = served
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    preview = client.post("/v1/route", json={"ticket": {**TICKET, "priority": "high"}}, headers=auth(ws, "read"))
    assert preview.status_code == 200, preview.text
    result = preview.json()
    assert not result["recorded"] and result["note"] and result["decision"]["trace"] and result["actions"]
    # Where the service's time went, step by step (no models here: the policy's rules alone take time).
    assert set(result["timings_ms"]) == {"encode", "language", "classify", "decide"}
    assert all(ms >= 0 for ms in result["timings_ms"].values()) and result["timings_ms"]["decide"] > 0
    with runtime.store.session() as session:
        assert session.exec(select(DecisionRow)).all() == []
    bad = client.post("/v1/route", json={"ticket": {"priority": "soon"}}, headers=auth(ws, "read"))
    assert bad.status_code == 422 and "priority" in str(bad.json()["detail"][0]["loc"])
    # Stored tickets: the jobs' sync stores them (called here directly), nothing decided yet.
    sync(runtime.store, runtime.connector("helpdesk"))
    stored = {"ticket": {"source": "helpdesk", "external_id": "A2", "subject": "not what is stored"}, "dry_run": False}
    assert client.post("/v1/route", json=stored, headers=auth(ws, "read")).status_code == 403
    unknown = {"ticket": {"source": "helpdesk", "external_id": "ZZ"}, "dry_run": False}
    assert client.post("/v1/route", json=unknown, headers=auth(ws, "write")).status_code == 404
    queued = client.post("/v1/route", json=stored, headers=auth(ws, "write"))
    assert queued.status_code == 200 and queued.json()["recorded"] and queued.json()["decision_id"]
    assert "not what is stored" not in json.dumps(queued.json())  # the stored version was decided
    # The same version is not queued twice, by the API or by the loop.
    assert client.post("/v1/route", json=stored, headers=auth(ws, "write")).status_code == 409
    runtime.cycle("helpdesk", apply=False)
    with runtime.store.session() as session:
        assert len(session.exec(select(DecisionRow).where(DecisionRow.ticket_external_id == "A2")).all()) == 1
    decisions = client.get("/v1/tickets/helpdesk/A2/decisions", headers=auth(ws, "read"))
    assert decisions.status_code == 200
    [decision] = decisions.json()
    assert decision["decision"]["trace"] and {o["state"] for o in decision["outbox"]} == {"pending"}
    assert client.get("/v1/tickets/helpdesk/ZZ/decisions", headers=auth(ws, "read")).status_code == 404


def test_pause_resume_outbox_and_retry_dead(served: tuple[TestClient, Workspace]) -> None:
    client, ws = served
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.cycle("helpdesk", apply=False)
    with runtime.store.session() as session:
        row = session.exec(select(OutboxRow)).first()
        assert row is not None
        row.state, row.last_error = "dead", "HelpdeskError: refused at https://user:pw@example.com/x"
        session.add(row)
        session.commit()
    write = auth(ws, "write")
    assert client.post("/v1/pause", json={"reason": "maintenance"}, headers=write).json() == {"paused": True}
    status = client.get("/v1/outbox", headers=auth(ws, "read")).json()
    assert status["paused"] and status["dead"] and "pw@" not in status["dead"][0]["last_error"]
    assert any(c["state"] == "dead" for c in status["counts"])
    assert client.post("/v1/outbox/retry-dead", headers=write).json() == {"requeued": 1}
    assert client.post("/v1/resume", headers=write).json() == {"paused": False}
    assert not client.get("/v1/outbox", headers=auth(ws, "read")).json()["paused"]
