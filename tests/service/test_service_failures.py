"""What a caller and the log see when something breaks: a request id, never a stack trace or a secret."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.redaction import register_secret
from router.config import load_settings
from router.runtime import Runtime
from router.service import create_app
from router.service.request_log import JsonLines
from tests.service.service_workspace import SECRET, SECRET_ENV, make_workspace

LEAK = "hunter2-configured-secret"


def test_an_unexpected_error_answers_500_with_the_request_id_only(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    workspace = make_workspace(tmp_path, sqlite_url)
    with Runtime(load_settings(workspace.config)) as runtime:

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError(f"cannot reach https://user:{LEAK}@db.internal/x")

        monkeypatch.setattr(runtime, "route", broken)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        headers = {"Authorization": f"Bearer {workspace.tokens['read']}", "X-Request-ID": "req-broken-1"}
        answer = client.post("/v1/route", json={"ticket": {"subject": "x"}}, headers=headers)
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "req-broken-1"
    assert answer.json()["detail"].endswith("request id req-broken-1")
    assert LEAK not in answer.text and "Traceback" not in answer.text and "RuntimeError" not in answer.text


def test_a_log_line_is_one_json_object_without_traceback_or_secret() -> None:
    register_secret(LEAK)
    try:
        raise ValueError(f"first line with {LEAK}\nsecond line\x1b[2J")
    except ValueError:
        record = logging.LogRecord(
            "deskroute.service", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    line = JsonLines().format(record)
    assert "\n" not in line and "Traceback" not in line and LEAK not in line and "second line" not in line
    data = json.loads(line)
    assert data["message"] == "failed here" and data["error"].startswith("ValueError: first line with")
    assert data["level"] == "error" and data["request_id"] == "-"
