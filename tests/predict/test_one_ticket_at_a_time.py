"""Routing one ticket at a time predicts what routing a batch predicts: the single-ticket speed work (the
training tickets' n-gram columns kept between calls, the OpenMP wait policy set when router loads, the encoder's
transformer in ONNX Runtime for a few texts, one BLAS thread while routing one ticket) must not move a label or a
probability beyond float tolerance."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import Encoder
from embeddings.native_threads import one_blas_thread
from router.predict import TicketClassifier
from router.predict.classifier import ticket_text
from router.predict.text_features import gram_columns

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "examples" / "sample" / "tickets.csv"
# Tickets held out of training, of lengths from a subject line to a long thread (their order in the sample).
HELD_OUT = 24


def _sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        return [row for row in csv.DictReader(fh) if row["queue"]]


@pytest.fixture(scope="module")
def sample_model() -> tuple[TicketClassifier, list[tuple[str, str]]]:
    rows = _sample_rows()
    train, new = rows[HELD_OUT : HELD_OUT + 160], rows[:HELD_OUT]
    # Every scorer, the attention network included (it joins by default only from 300 tickets).
    model = TicketClassifier(target="queue", attention_min_tickets=0, inner_folds=3).fit(
        [(r["subject"], r["body"]) for r in train], [r["queue"] for r in train], ids=[r["id"] for r in train]
    )
    return model, [(r["subject"], r["body"]) for r in new]


@pytest.mark.slow
def test_one_ticket_at_a_time_predicts_what_a_batch_predicts(
    sample_model: tuple[TicketClassifier, list[tuple[str, str]]],
) -> None:
    model, tickets = sample_model
    lengths = {len(s) + len(b) for s, b in tickets}
    assert len(lengths) == len(tickets), "the held-out tickets should all differ in length"
    batch = model.predict_tickets([s for s, _ in tickets], [b for _, b in tickets])
    batch_proba = model.predict_proba(tickets)
    for i, (subject, body) in enumerate(tickets):
        (one,) = model.predict_tickets([subject], [body])
        assert one.label == batch[i].label, f"ticket {i}: {one.label} alone, {batch[i].label} in the batch"
        assert one.probability == pytest.approx(batch[i].probability, abs=1e-5)
        assert np.allclose(model.predict_proba([(subject, body)])[0], batch_proba[i], atol=1e-5)


@pytest.mark.slow
def test_the_onnx_encoder_and_one_blas_thread_predict_what_torch_and_two_threads_predict(
    sample_model: tuple[TicketClassifier, list[tuple[str, str]]],
) -> None:
    model, tickets = sample_model
    fast = model.encoder()
    assert fast.runtime == "onnx"
    with one_blas_thread():
        routed = [model.predict_tickets([s], [b])[0] for s, b in tickets]
        proba = np.vstack([model.predict_proba([t]) for t in tickets])
    model.attach_encoder(Encoder(runtime="torch"))
    try:
        reference = [model.predict_tickets([s], [b])[0] for s, b in tickets]
        reference_proba = np.vstack([model.predict_proba([t]) for t in tickets])
        assert model.encoder().runtime == "torch"
    finally:
        model.attach_encoder(fast)
    assert [p.label for p in routed] == [p.label for p in reference]
    assert [p.abstained for p in routed] == [p.abstained for p in reference]
    assert [p.novel for p in routed] == [p.novel for p in reference]
    assert np.abs(proba - reference_proba).max() < 1e-5


@pytest.mark.slow
def test_kept_training_columns_give_the_gram_computed_afresh(
    sample_model: tuple[TicketClassifier, list[tuple[str, str]]], tmp_path: Path
) -> None:
    model, tickets = sample_model
    model.predict_proba(tickets[:1])  # fills the kept columns
    kept = model._reference_columns
    assert kept is not None and kept[0] is model.reference_
    matrix = model.features_.transform([ticket_text(s, b) for s, b in tickets], model.encoder().encode_tickets(tickets))
    fresh = model.features_.gram_parts(matrix, model.reference_)
    reused = model.features_.gram_parts(matrix, model.reference_, kept[1])
    assert np.array_equal(fresh[0], reused[0]) and np.array_equal(fresh[1], reused[1])
    # Derived data is not saved with the model: the artefact stays as it was, and a loaded model rebuilds it.
    assert "_reference_columns" not in model.__getstate__()
    model.save(tmp_path)
    loaded = TicketClassifier.load(tmp_path, "queue")
    assert loaded._reference_columns is None
    assert np.allclose(loaded.predict_proba(tickets), model.predict_proba(tickets), atol=1e-6)
    assert loaded._reference_columns is not None and gram_columns(loaded.reference_).words.shape == kept[1].words.shape


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_router_sets_passive_openmp_waits_before_torch_loads_unless_the_user_chose(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os\nimport router.predict.classifier\nprint(os.environ.get('OMP_WAIT_POLICY'))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == expected
