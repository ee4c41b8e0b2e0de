"""``POST /v1/events`` in process on SQLite and PostgreSQL: Segment-style batches validated whole, stored once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from connectors.product_events import MAX_BATCH_BYTES, MAX_BATCH_MESSAGES
from router.behaviour import behaviour_features, load_history
from router.config import load_settings
from router.runtime import Runtime
from router.service import create_app
from router.store import BehaviorEventRow, CustomerRow, to_record
from tests.service.service_workspace import SECRET, SECRET_ENV, Workspace, make_workspace

NOW = datetime.now(UTC).replace(microsecond=0)
EVENTS_CONFIG = """
[events]
source = "app"
[events.kinds]
"Signed In" = "login"
"Report Exported" = "feature_use"
"Subscription Cancelled" = "cancellation"
"""


@pytest.fixture
def served(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Workspace, Runtime]]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    workspace = make_workspace(tmp_path, database_url)
    with workspace.config.open("a", encoding="utf-8") as fh:
        fh.write(EVENTS_CONFIG)
    with Runtime(load_settings(workspace.config)) as runtime, TestClient(create_app(runtime)) as client:
        yield client, workspace, runtime
        runtime.store.dispose()


def auth(workspace: Workspace, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {workspace.tokens[scope]}"}


def track(message_id: str, event: str, days_ago: float, user: str | None = "u-42", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "messageId": message_id,
        "event": event,
        "timestamp": (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z"),
        "properties": {"plan": "pro"},
        **extra,
    }
    if user is not None:
        message["userId"] = user
    return message


def batch() -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "identify",
                "messageId": "m-0",
                "userId": "u-42",
                "timestamp": NOW.isoformat(),
                "traits": {"email": "Ada@Example.com", "name": "Ada", "plan": "pro"},
            },
            *(track(f"m-{k}", "Signed In", days_ago=k) for k in range(1, 6)),
            track("m-6", "Report Exported", 2),
            track("m-7", "Page Scrolled", 1),
            track("m-8", "Signed In", 3, user=None, context={"traits": {"email": "grace@example.com"}}),
        ]
    }


def stored_events(runtime: Runtime) -> list[Any]:
    with runtime.store.session() as session:
        return [to_record(r) for r in session.exec(select(BehaviorEventRow).order_by(BehaviorEventRow.external_id))]


def test_a_batch_is_stored_once_and_a_repeat_changes_nothing(
    served: tuple[TestClient, Workspace, Runtime],
) -> None:
    client, ws, runtime = served
    assert client.post("/v1/events", json=batch()).status_code == 401
    assert client.post("/v1/events", json=batch(), headers=auth(ws, "read")).status_code == 403
    answer = client.post("/v1/events", json=batch(), headers=auth(ws, "write"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"messages": 9, "stored": 7, "repeated": 0, "people": 1, "unmapped": {"Page Scrolled": 1}}
    first = stored_events(runtime)
    assert [e.external_id for e in first] == [f"m-{k}" for k in (1, 2, 3, 4, 5, 6, 8)]
    by_id = {e.external_id: e for e in first}
    assert by_id["m-1"].kind == "login" and by_id["m-1"].customer_external_id == "u-42"
    assert by_id["m-1"].source == "app" and by_id["m-1"].properties["event"] == "Signed In"
    assert by_id["m-6"].kind == "feature_use"
    assert by_id["m-8"].customer_external_id == "grace@example.com"  # no user id: the e-mail keys the person
    with runtime.store.session() as session:
        person = to_record(session.exec(select(CustomerRow)).one())
    assert (person.source, person.external_id, person.email, person.name) == ("app", "u-42", "ada@example.com", "Ada")
    assert person.attributes == {"plan": "pro"}

    again = client.post("/v1/events", json=batch(), headers=auth(ws, "write"))
    assert again.json()["stored"] == 0 and again.json()["repeated"] == 7
    # A message id sent again with other content does not rewrite what happened.
    altered = {"batch": [track("m-1", "Subscription Cancelled", 0)]}
    assert client.post("/v1/events", json=altered, headers=auth(ws, "write")).json()["repeated"] == 1
    assert stored_events(runtime) == first


def test_stored_events_reach_the_customers_features(served: tuple[TestClient, Workspace, Runtime]) -> None:
    client, ws, runtime = served
    assert client.post("/v1/events", json=batch(), headers=auth(ws, "write")).status_code == 200
    with runtime.store.session() as session:
        history = load_history(session, "app", "u-42", NOW + timedelta(seconds=1))
    features = behaviour_features(history, NOW + timedelta(seconds=1))
    assert features["logins_7d"] == 5 and features["logins_30d"] == 5


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ({"timestamp": "yesterday"}, "batch[3].timestamp"),
        ({"timestamp": "2026-01-01T10:00:00"}, "batch[3].timestamp"),
        # Valid ISO 8601 with no UTC equivalent (found by the schema fuzzer as a 500).
        ({"timestamp": "0001-01-01T00:00:00+14:00"}, "batch[3].timestamp"),
        ({"messageId": ""}, "batch[3].messageId"),
        ({"userId": None}, "batch[3].userId"),
        ({"type": "page"}, "batch[3].type"),
        ({"properties": ["not", "an", "object"]}, "batch[3].properties"),
        ({"event": None}, "batch[3].event"),
        ({"messageId": "m-1"}, "batch[3].messageId"),
        ({"userId": "u" * 300}, "batch[3].userId"),
        ({"properties": {"deep": json.loads("[" * 40 + "]" * 40)}}, "batch[3].properties"),
    ],
)
def test_a_malformed_message_refuses_the_batch_naming_the_field_and_stores_nothing(
    served: tuple[TestClient, Workspace, Runtime], broken: dict[str, Any], field: str
) -> None:
    client, ws, runtime = served
    body = batch()
    body["batch"][3].update(broken)
    answer = client.post("/v1/events", json=body, headers=auth(ws, "write"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert stored_events(runtime) == []
    with runtime.store.session() as session:
        assert session.exec(select(CustomerRow)).first() is None


def test_oversized_or_overlong_batches_and_non_json_are_refused(served: tuple[TestClient, Workspace, Runtime]) -> None:
    client, ws, runtime = served
    write = auth(ws, "write")
    big = {"batch": [track("m-1", "Signed In", 1, properties={"blob": "x" * MAX_BATCH_BYTES})]}
    answer = client.post("/v1/events", json=big, headers=write)
    assert answer.status_code == 413 and answer.json()["field"] == "(body)"
    many = {"batch": [track(f"m-{k}", "Signed In", 1) for k in range(MAX_BATCH_MESSAGES + 1)]}
    answer = client.post("/v1/events", json=many, headers=write)
    assert answer.status_code == 400 and answer.json()["field"] == "batch"
    answer = client.post("/v1/events", content=b"{not json", headers={**write, "content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["field"] == "(body)"
    assert client.post("/v1/events", json={"batch": []}, headers=write).json()["field"] == "batch"
    assert stored_events(runtime) == []
