"""deskroute run as a user runs it, in processes of its own, against a fake helpdesk: the pieces every
helpdesk's end-to-end tests share (the environment, starting and running commands, the store they write)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from router.store import Store
from tests.conftest import REPO_ROOT


def process_env(
    folder: Path, database_url: str, entry_points: Path | None, secrets: Mapping[str, str]
) -> dict[str, str]:
    """The environment of a deskroute process: this checkout (and the adapters' test registrations) on its path,
    its own database and data folder, the connector's ``secrets``, nothing downloaded, no stray configuration."""
    path = os.pathsep.join(str(p) for p in (REPO_ROOT, entry_points) if p is not None)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "DESKROUTE_DATABASE_URL": database_url,
        "DESKROUTE_DATA_DIR": str(folder / "data"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **secrets,
    }
    for name in ("DESKROUTE_CONFIG", "DESKROUTE_POLICY"):
        env.pop(name, None)
    return env


@dataclass
class DeskrouteProcesses:
    """deskroute commands run in ``folder`` (where its deskroute.toml is) with ``env``."""

    folder: Path
    env: dict[str, str]
    database_url: str

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "router.cli", *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=180
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def store(self) -> Store:
        return Store(self.database_url)
