"""The encoder's transformer in ONNX Runtime: torch's vectors for one ticket at a time, and a graph that is
exported whole or not at all, by any number of processes, killed at any point, and again when damaged."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings import Encoder, onnx_graph
from embeddings.encoder import GRAPH_MAX_TEXTS

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "examples" / "sample" / "tickets.csv"
# Loads the default encoder with the user's cache pointed elsewhere; prints the runtime it got.
_LOAD = (
    "import warnings; warnings.simplefilter('error', RuntimeWarning)\n"
    "from embeddings import Encoder\n"
    "encoder = Encoder(); encoder.encode(['one ticket'])\n"
    "print(encoder.runtime)\n"
)


def _sample_pairs(count: int) -> list[tuple[str, str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    step = max(1, len(rows) // count)
    return [(r["subject"], r["body"]) for r in rows[::step][:count]]


def _graphs(cache: Path) -> list[Path]:
    return sorted((cache / "deskroute" / "encoder-graphs").glob("*.onnx"))


def _parts(cache: Path) -> list[Path]:
    return sorted((cache / "deskroute" / "encoder-graphs").glob(".*.part"))


def _environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1"}


def test_one_ticket_at_a_time_gets_torchs_vectors_and_tokens(shared_encoder: Encoder) -> None:
    assert shared_encoder.runtime == "onnx"
    reference = Encoder(runtime="torch")
    texts = shared_encoder.prepare(_sample_pairs(16))
    assert len({len(t) for t in texts}) > 10, "the texts should vary in length"
    for text in texts:
        vectors, tokens = shared_encoder.encode_with_tokens([text])
        expected_vectors, expected_tokens = reference.encode_with_tokens([text])
        assert reference.runtime == "torch"
        assert np.abs(vectors - expected_vectors).max() < 1e-5
        assert tokens[0].shape == expected_tokens[0].shape
        # Token embeddings are kept in float16: one step of its rounding at most.
        assert np.abs(tokens[0].astype(np.float32) - expected_tokens[0].astype(np.float32)).max() <= 4e-3
        assert np.abs(shared_encoder.encode([text]) - reference.encode([text])).max() < 1e-5


def test_large_batches_run_in_torch_and_small_ones_in_the_graph(
    shared_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = shared_encoder._graph
    assert graph is not None

    def broken(features: object) -> object:
        raise RuntimeError("the graph was asked")

    monkeypatch.setattr(graph, "token_embeddings", broken)
    many = [f"ticket number {i} about an invoice" for i in range(GRAPH_MAX_TEXTS + 1)]
    assert shared_encoder.encode(many).shape == (len(many), shared_encoder.dimension)
    with pytest.raises(RuntimeError, match="the graph was asked"):
        shared_encoder.encode(["a single new ticket about a refund"])


def test_the_torch_runtime_and_an_unknown_one() -> None:
    encoder = Encoder(runtime="torch")
    encoder.encode(["hello"])
    assert encoder.runtime == "torch" and encoder._graph is None
    assert encoder.describe()["runtime"] == "torch"
    with pytest.raises(ValueError, match="runtime must be one of onnx, torch"):
        Encoder(runtime="tensorflow")


def test_an_unwritable_cache_is_passed_over_and_a_damaged_graph_exported_again(
    shared_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    spare = tmp_path / "spare"
    monkeypatch.setattr(onnx_graph, "graph_folders", lambda: [blocked / "graphs", spare])
    probe = shared_encoder.prepare(_sample_pairs(1))
    expected = Encoder(runtime="torch").encode(probe)
    graph = onnx_graph.load_graph(shared_encoder.model, shared_encoder.source, threads=1)
    (kept,) = spare.glob("*.onnx")
    size = kept.stat().st_size
    # A graph damaged on disk is exported again, whole.
    with kept.open("r+b") as fh:
        fh.truncate(size // 3)
    graph = onnx_graph.load_graph(shared_encoder.model, shared_encoder.source, threads=1)
    assert kept.stat().st_size == size
    features = shared_encoder.model.preprocess(probe)
    assert graph.token_embeddings(features).shape[1] == features["input_ids"].shape[1]
    encoder = Encoder()
    assert np.abs(encoder.encode(probe) - expected).max() < 1e-5
    assert encoder.runtime == "onnx"


def test_processes_exporting_at_once_or_killed_midway_leave_one_whole_graph(tmp_path: Path) -> None:
    # Killed while exporting: the half-written graph never takes the real name.
    victim = subprocess.Popen([sys.executable, "-c", _LOAD], env=_environment(tmp_path), start_new_session=True)
    deadline = time.monotonic() + 240
    while not _parts(tmp_path) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the export finished before it could be interrupted"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert _graphs(tmp_path) == []
    assert len(_parts(tmp_path)) == 1
    # Two processes at once on the same cache: both get the graph, one file, and the killed export's part file
    # is swept away.
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _LOAD], env=_environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == "onnx"
    assert len(_graphs(tmp_path)) == 1
    assert _parts(tmp_path) == []
