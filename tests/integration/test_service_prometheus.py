"""A real Prometheus scrapes ``deskroute serve``: after a few routed tickets its HTTP API returns deskroute's
counters. Needs the Debian package ``prometheus`` (``.ci/run`` installs it)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI
from tests.service.service_workspace import Served, free_port, make_workspace

pytestmark = pytest.mark.integration


def _prometheus(folder: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: deskroute\n    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['{target}']\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(folder / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def test_prometheus_scrapes_the_decided_tickets(sqlite_url: str, tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        message = "prometheus is absent (Debian package prometheus; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    workspace = make_workspace(tmp_path, sqlite_url, poll_seconds=3600, mode="suggest")
    served = Served(workspace)
    prometheus, url = _prometheus(tmp_path, f"127.0.0.1:{served.port}")
    try:
        deadline = time.monotonic() + 60
        found: list[dict] = []
        query = 'sum by (outcome) (deskroute_tickets_decided_total{job="deskroute"})'
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
                found = answer.json()["data"]["result"] if answer.status_code == 200 else []
            except httpx.TransportError:
                found = []
            if found:
                break
            time.sleep(0.5)
        assert found, (tmp_path / "prometheus.log").read_text()[-2000:] + served.log()
        # The workspace's two tickets were decided by the service's first cycle.
        assert sum(float(r["value"][1]) for r in found) == 2.0
        up = httpx.get(f"{url}/api/v1/query", params={"query": 'up{job="deskroute"}'}).json()["data"]["result"]
        assert up and up[0]["value"][1] == "1"
    finally:
        prometheus.terminate()
        prometheus.wait(20)
        served.stop()
