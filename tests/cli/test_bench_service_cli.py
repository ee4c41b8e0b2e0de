"""``deskroute bench service`` end to end: a real ``deskroute serve --no-jobs`` process on loopback, routed to and
sent webhooks, with every accepted delivery found once in its store; and what makes a run fail."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from router.cli.bench_service_cmds import delivery_problems
from router.predict import TicketClassifier
from tests.cli.hostile import invoke
from tests.conftest import REPO_ROOT

SAMPLE = REPO_ROOT / "examples" / "sample" / "tickets.csv"
KEYS = {
    "route_p50_ms",
    "route_p95_ms",
    "route_p99_ms",
    "share",
    "webhook_accept_p50_ms",
    "webhook_accept_p95_ms",
    "webhook_deliveries_per_s",
    "webhook_lost",
    "webhook_duplicated",
    "tickets",
    "clients",
    "deliveries",
    "models_from",
}


def _trained_data_dir(root: Path) -> Path:
    """A data dir with an intent model fitted cheaply: 60 sample tickets, one scorer, two inner folds."""
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["queue"]][:60]
    model = TicketClassifier(target="queue", scorers=("linear",), inner_folds=2).fit(
        [(r["subject"], r["body"]) for r in rows], [r["queue"] for r in rows], ids=[r["id"] for r in rows]
    )
    data = root / "data"
    model.save(data / "models")
    return data


@pytest.mark.slow  # fits a small model with the real encoder and starts the service (about half a minute)
def test_bench_service_measures_a_real_service_and_loses_no_delivery(tmp_path: Path) -> None:
    data = _trained_data_dir(tmp_path)
    config = tmp_path / "deskroute.toml"
    own = f"sqlite:///{tmp_path / 'own.db'}"
    config.write_text(f"data_dir = {json.dumps(str(data))}\ndatabase_url = {json.dumps(own)}\n", encoding="utf-8")
    out = tmp_path / "out.json"
    args = ["bench", "service", "--tickets", "12", "--deliveries", "60", "--clients", "4", "--json", str(out)]
    result = invoke([*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) >= KEYS
    assert 0 < report["route_p50_ms"] <= report["route_p95_ms"] <= report["route_p99_ms"]
    assert report["tickets"] == 12 and report["clients"] == 4 and 0 < report["deliveries"] <= 60
    assert report["webhook_lost"] == report["webhook_duplicated"] == report["webhook_refused"] == 0
    assert report["webhook_deliveries_per_s"] > 0
    assert 0 < report["webhook_accept_p50_ms"] <= report["webhook_accept_p95_ms"]
    # The service's own step times, as shares of what the client waited; the encoder did real work.
    assert set(report["share"]) == {"encode", "language", "classify", "decide"}
    assert report["share"]["encode"] > 0 and sum(report["share"].values()) <= 1.0
    assert report["models_from"] == str(data)
    # Nothing was written where the models live: the service had a data dir (and an embedding cache) of its own.
    assert sorted(p.name for p in data.iterdir()) == ["models"]
    assert not (tmp_path / "own.db").exists()  # nor in the configured store
    assert "accepted deliveries lost" in result.output


def test_lost_duplicated_or_refused_deliveries_fail_the_run() -> None:
    clean = {"webhook_lost": 0, "webhook_duplicated": 0, "webhook_refused": 0, "webhook_refused_by_status": {}}
    assert delivery_problems(clean) == []
    problems = delivery_problems(
        {
            "webhook_lost": 2,
            "webhook_duplicated": 1,
            "webhook_refused": 3,
            "webhook_refused_by_status": {"0": 1, "503": 2},
        }
    )
    assert problems == [
        "2 accepted webhook deliveries are missing from the store",
        "1 webhook deliveries are stored more than once",
        "3 webhook deliveries were not accepted (1 answered nothing, 2 answered 503)",
    ]
