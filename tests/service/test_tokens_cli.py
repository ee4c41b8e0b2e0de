"""``deskroute tokens create|list|revoke``: the secret is shown once and stored hashed; a revoked token is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from router.cli import app
from router.config import load_settings
from router.runtime import Runtime
from router.service import create_app
from tests.service.service_workspace import SECRET, SECRET_ENV, make_workspace

runner = CliRunner()


def test_a_token_is_shown_once_stored_hashed_listed_and_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "deskroute.db"
    workspace = make_workspace(tmp_path, f"sqlite:///{database}")
    monkeypatch.setenv("DESKROUTE_CONFIG", str(workspace.config))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    created = runner.invoke(app, ["tokens", "create", "--name", "grafana", "--scope", "read"])
    assert created.exit_code == 0, created.output
    token = re.search(r"drt_[A-Za-z0-9_-]{40,}", created.output)
    assert token is not None
    assert token.group(0).encode() not in database.read_bytes()
    again = runner.invoke(app, ["tokens", "create", "--name", "grafana", "--scope", "read"])
    assert again.exit_code == 1 and "exists" in again.output
    wrong = runner.invoke(app, ["tokens", "create", "--name", "x", "--scope", "root"])
    assert wrong.exit_code == 1 and "read, write, admin" in wrong.output
    listed = runner.invoke(app, ["tokens", "list"])
    assert "grafana" in listed.output and token.group(0) not in listed.output
    with Runtime(load_settings(workspace.config)) as runtime:
        client = TestClient(create_app(runtime))
        bearer = {"Authorization": f"Bearer {token.group(0)}"}
        assert client.get("/v1/outbox", headers=bearer).status_code == 200
        assert runner.invoke(app, ["tokens", "revoke", "grafana"]).exit_code == 0
        assert client.get("/v1/outbox", headers=bearer).status_code == 401
    assert runner.invoke(app, ["tokens", "revoke", "nobody"]).exit_code == 1
