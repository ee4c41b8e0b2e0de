"""`deskroute index` and `deskroute bench embeddings` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embeddings import Encoder, VectorIndex
from router.cli import app

runner = CliRunner()

TICKETS = (
    "subject,body,queue,priority\n"
    '"Cannot log in","I reset my password twice and still cannot log in.",IT,high\n'
    '"Invoice wrong","We were charged twice for the March invoice.",Billing,medium\n'
    '"VPN drops","<p>The VPN drops every ten minutes.</p><p>Best regards,<br>Ann</p>",IT,low\n'
    '"Drucker offline","Der Drucker im dritten Stock ist offline.",IT,medium\n'
)


@pytest.mark.slow
def test_rebuild_then_describe_then_search(cli_env: Path, shared_encoder: Encoder) -> None:
    (cli_env / "t.csv").write_text(TICKETS, encoding="utf-8")
    assert runner.invoke(app, ["import", "tickets", "t.csv"]).exit_code == 0

    first = runner.invoke(app, ["index", "rebuild"])
    assert first.exit_code == 0, first.output
    assert "indexed 4 tickets" in first.stdout and "4 encoded" in first.stdout

    # Re-indexing never encodes the same text twice.
    again = runner.invoke(app, ["index", "rebuild"])
    assert again.exit_code == 0, again.output
    assert "0 encoded, 4 from the embedding cache" in again.stdout

    described = runner.invoke(app, ["index", "describe", "--json"])
    assert described.exit_code == 0, described.output
    info = json.loads(described.stdout)
    assert info["count"] == 4 and info["kind"] == "exact" and info["recall_at_10"] == 1.0
    assert info["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"

    index = VectorIndex.load(cli_env / "data" / "index", model_id=info["model_id"], dimension=384)
    query = shared_encoder.encode_tickets([("Invoice", "billed twice for one invoice")])
    (best, _), *_ = index.search(query, k=1)[0]
    assert best.startswith("file:") and index.metadata(best)["queue"] == "Billing"
    it_only = index.search(query, k=4, where=lambda m: m["queue"] == "IT")[0]
    assert len(it_only) == 3 and best not in [t for t, _ in it_only]


def test_describe_without_an_index_says_how_to_build_one(cli_env: Path) -> None:
    result = runner.invoke(app, ["index", "describe"])
    assert result.exit_code == 1
    assert "deskroute index rebuild" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_rebuild_with_an_empty_store_is_a_clear_error(cli_env: Path) -> None:
    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 1
    assert "no tickets" in result.output and "deskroute import tickets" in result.output


def test_a_configured_model_that_is_missing_is_a_clear_error(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKROUTE_EMBEDDINGS__MODEL", str(cli_env / "no-such-model"))
    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_bench_embeddings_index_section_writes_json(cli_env: Path) -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "embeddings",
            "--no-encoder",
            "--no-threshold",
            "--sizes",
            "3k",
            "--queries",
            "50",
            "--json",
            "b.json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((cli_env / "b.json").read_text())
    (row,) = report["index"]
    assert row["vectors"] == 3000 and row["kind"] == "exact" and row["recall_at_10"] == 1.0
    assert row["single"]["p95_ms"] >= row["single"]["p50_ms"] > 0
    assert row["faiss_bytes_per_vector"] == 384 * 4
    assert "threshold" not in report and "encoder" not in report
    assert "| 3,000 | exact |" in result.stdout


def test_bench_embeddings_rejects_bad_sizes(cli_env: Path) -> None:
    result = runner.invoke(app, ["bench", "embeddings", "--sizes", "lots"])
    assert result.exit_code == 1
    assert "'lots' is not a size" in result.output


def test_describe_reports_a_damaged_index_and_how_to_repair_it(cli_env: Path) -> None:
    rng = np.random.default_rng(3)
    index = VectorIndex(384, "sentence-transformers/all-MiniLM-L6-v2")
    index.add([f"file:{i}" for i in range(30)], rng.normal(size=(30, 384)).astype(np.float32))
    path = cli_env / "data" / "index"
    index.save(path)
    healthy = runner.invoke(app, ["index", "describe", "--json"])
    assert healthy.exit_code == 0, healthy.output
    assert json.loads(healthy.stdout)["count"] == 30

    data = path.read_bytes()
    for damage, expected in (
        (data[: len(data) // 2], "cut short or overwritten at the end"),
        (data[:-100] + bytes([data[-100] ^ 1]) + data[-99:], "its content does not match its SHA-256 checksum"),
    ):
        path.write_bytes(damage)
        result = runner.invoke(app, ["index", "describe"])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        text = " ".join(result.output.split())
        assert f"vector index {path} is damaged ({expected}" in text
        assert "rebuild it with `deskroute index rebuild`" in text


def test_rebuild_checks_where_it_will_write_before_encoding(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cli_env / "t.csv").write_text(TICKETS, encoding="utf-8")
    assert runner.invoke(app, ["import", "tickets", "t.csv"]).exit_code == 0
    (cli_env / "not-a-folder").write_text("keep")
    monkeypatch.setenv("DESKROUTE_DATA_DIR", str(cli_env / "not-a-folder"))
    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"data_dir: cannot create {cli_env / 'not-a-folder' / 'index'}" in " ".join(result.output.split())
    assert (cli_env / "not-a-folder").read_text() == "keep"
