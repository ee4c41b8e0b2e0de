"""A deskroute workspace for the service tests: a file helpdesk taking deskroute's webhooks, a store, tokens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from router.store import Store
from router.store.api_tokens import create_token
from tests.conftest import REPO_ROOT

STARTER = REPO_ROOT / "policies" / "examples" / "starter.yaml"
SECRET = "s3cret-webhook-value-for-tests"
SECRET_ENV = "DESKROUTE_TEST_WEBHOOK_SECRET"
TICKETS = (
    "id,subject,body,queue,priority,language\n"
    "A1,Complete outage of the portal,Nothing loads since 9am.,General Inquiry,medium,en\n"
    "A2,Refund for a double payment,I was charged twice this month.,General Inquiry,low,en\n"
)


@dataclass
class Workspace:
    folder: Path
    database_url: str
    tokens: dict[str, str]

    @property
    def config(self) -> Path:
        return self.folder / "deskroute.toml"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DESKROUTE_CONFIG": str(self.config),
            SECRET_ENV: SECRET,
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(REPO_ROOT),
        }


def make_workspace(folder: Path, database_url: str, *, poll_seconds: float = 3600, mode: str = "auto") -> Workspace:
    """A file helpdesk in ``mode``, the starter policy, and one token per scope in the store."""
    (folder / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    (folder / "deskroute.toml").write_text(
        f'database_url = "{database_url}"\n'
        f'data_dir = "{folder / "data"}"\n'
        f'policy = "{STARTER}"\n'
        "[connectors.helpdesk]\n"
        'type = "file"\n'
        f'mode = "{mode}"\n'
        f"poll_interval_seconds = {poll_seconds}\n"
        f'webhook_secret_env = "{SECRET_ENV}"\n'
        f'path = "{folder / "tickets.csv"}"\n'
        f'actions_path = "{folder / "actions.jsonl"}"\n',
        encoding="utf-8",
    )
    store = Store(database_url)
    tokens = {}
    with store.session() as session:
        for scope in ("read", "write", "admin"):
            _, tokens[scope] = create_token(session, f"test-{scope}", scope, "tests")
        session.commit()
    store.dispose()
    return Workspace(folder, database_url, tokens)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(workspace: Workspace, extra: dict[str, str | None]) -> dict[str, str]:
    """The workspace's environment with ``extra`` on top (a None unsets the variable)."""
    env = workspace.env()
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class Served:
    """``deskroute serve`` as a real process on a loopback port, its JSON log lines kept in a file."""

    def __init__(self, workspace: Workspace, *extra: str, env_extra: dict[str, str | None] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workspace.folder / f"serve-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--port", str(self.port), *extra],
            env=_environment(workspace, env_extra or {}),
            cwd=workspace.folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy()

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"deskroute serve exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"deskroute serve did not answer /healthz in {seconds}s:\n{self.log()}")

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while (answer := httpx.get(f"{self.url}/readyz", timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.3)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
