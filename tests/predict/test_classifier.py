"""TicketClassifier and the model registry through the Python API: fit, predict, abstain, save, refuse."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from router.predict import TicketClassifier
from router.store.model_registry import RegistryError, UntrustedArtefactError, list_versions, load_model, read_metadata
from tests.predict.conftest import labelled_rows


@pytest.fixture(scope="module")
def fitted() -> TicketClassifier:
    rows = labelled_rows()
    return TicketClassifier(target="queue").fit(
        [(r["subject"], r["body"]) for r in rows], [r["queue"] for r in rows], ids=[r["id"] for r in rows]
    )


NEW_TICKETS = [
    ("Double payment", "My card was billed two times for the same invoice, I need a refund."),
    ("Password reset", "The reset link does not work and I cannot log in to my account."),
    ("Where is my order", "Tracking has not moved for days and the parcel never arrived."),
]


def test_new_tickets_get_their_queue_with_calibrated_top_k(fitted: TicketClassifier) -> None:
    predictions = fitted.predict_tickets([s for s, _ in NEW_TICKETS], [b for _, b in NEW_TICKETS], neighbours=3)
    assert [p.label for p in predictions] == ["Billing", "Access", "Shipping"]
    for prediction in predictions:
        assert prediction.top_k[0][0] == prediction.label
        assert len(prediction.top_k) == 3
        assert sum(p for _, p in prediction.top_k) == pytest.approx(1.0, abs=1e-6)
        # The similar past tickets shown to the agent are training tickets of the predicted queue.
        assert len(prediction.neighbours) == 3 and prediction.neighbours[0].label == prediction.label
    probabilities = fitted.predict_proba(NEW_TICKETS)
    assert probabilities.shape == (3, 3) and np.allclose(probabilities.sum(axis=1), 1.0)


def test_cross_validated_figures_are_recorded(fitted: TicketClassifier) -> None:
    described = fitted.describe()
    assert described["labels"] == ["Access", "Billing", "Shipping"]
    assert described["n_train"] == 42
    metrics = described["cv_metrics"]
    for key in ("accuracy", "macro_f1", "top3_accuracy", "ece", "coverage_at_90_precision"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["accuracy"] > 0.8  # the three queues use different words
    assert metrics["inner_folds"] == 5  # few tickets: five inner folds unless told otherwise


def test_inner_folds_are_five_on_few_tickets_three_on_many_unless_set() -> None:
    def folds(n: int, **kw: int) -> list[int]:
        y = np.arange(n) % 2
        return [len(held_out) for _, held_out in TicketClassifier(**kw)._inner_folds(y)]

    assert len(folds(5_000)) == 5 and len(folds(5_001)) == 3
    assert len(folds(600, inner_folds=3)) == 3 and len(folds(6)) == 3  # never more folds than pairs of tickets
    assert sum(folds(5_001)) == 5_001


def test_abstains_when_confidence_is_below_the_learnt_threshold(fitted: TicketClassifier) -> None:
    fitted_threshold = fitted.threshold_
    try:
        fitted.threshold_ = 1.01  # no prediction can be that sure
        (prediction,) = fitted.predict_tickets([NEW_TICKETS[0][0]], [NEW_TICKETS[0][1]])
        assert prediction.abstained and "below 1.01" in (prediction.abstain_reason or "")
        fitted.threshold_ = None  # cross-validation never reached the target precision
        (prediction,) = fitted.predict_tickets([NEW_TICKETS[0][0]], [NEW_TICKETS[0][1]])
        assert prediction.abstained and "no confidence level reached 90%" in (prediction.abstain_reason or "")
    finally:
        fitted.threshold_ = fitted_threshold


def test_a_label_with_one_value_is_refused_by_name() -> None:
    rows = labelled_rows()
    with pytest.raises(ValueError, match="'queue' has only one value \\('Billing'\\)"):
        TicketClassifier(target="queue").fit([(r["subject"], r["body"]) for r in rows], ["Billing"] * len(rows))


def test_save_and_load_give_the_same_probabilities(fitted: TicketClassifier, tmp_path: Path) -> None:
    assert fitted.save(tmp_path, metadata={"training_data": {"tickets": 42}}) == "v1"
    assert fitted.save(tmp_path) == "v2"
    assert list_versions(tmp_path, "text", "queue") == ["v1", "v2"]
    loaded = TicketClassifier.load(tmp_path, "queue", "v1")
    assert loaded.version_ == "text/queue@v1"
    assert np.allclose(loaded.predict_proba(NEW_TICKETS), fitted.predict_proba(NEW_TICKETS))
    meta = read_metadata(tmp_path, "text", "queue", "v1")
    assert meta["labels"] == ["Access", "Billing", "Shipping"] and meta["training_data"] == {"tickets": 42}
    assert {"created", "libraries", "artefact_sha256", "cv_metrics"} <= set(meta)
    assert "scikit-learn" in meta["libraries"] and "skops" in meta["libraries"]


def _artefact(models: Path) -> Path:
    return models / "text" / "queue" / "v1" / "model.skops"


def test_a_changed_artefact_is_refused(fitted: TicketClassifier, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    artefact = _artefact(tmp_path)
    data = bytearray(artefact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artefact.write_bytes(bytes(data))
    with pytest.raises(UntrustedArtefactError, match="does not match the checksum"):
        TicketClassifier.load(tmp_path, "queue")


def test_an_artefact_naming_code_outside_the_allow_list_is_refused_even_with_a_matching_checksum(
    fitted: TicketClassifier, tmp_path: Path
) -> None:
    import hashlib

    fitted.save(tmp_path)
    artefact = _artefact(tmp_path)
    # Rewrite the artefact's schema so that one object would be built by os.system, then forge the checksum.
    with zipfile.ZipFile(artefact) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(members["schema.json"])
    schema["__module__"], schema["__class__"] = "os", "system"
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(artefact, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    meta_path = artefact.parent / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["artefact_sha256"] = hashlib.sha256(artefact.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(UntrustedArtefactError, match=r"outside the allow-list \(os\.system\)|refusing"):
        load_model(tmp_path, "text", "queue")


def test_missing_model_and_bad_names_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"no saved text model for 'queue'.*deskroute train --target queue"):
        TicketClassifier.load(tmp_path, "queue")
    with pytest.raises(RegistryError, match="not a valid model name"):
        TicketClassifier.load(tmp_path, "../etc")


def test_a_detector_that_reads_the_confidence_gets_it_and_changes_no_label(
    fitted: TicketClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.predict.novelty import NoveltyDetector
    from tests.predict.test_novelty import _fitted_with_confidence

    before = fitted.predict_tickets([s for s, _ in NEW_TICKETS], [b for _, b in NEW_TICKETS])
    detector: NoveltyDetector = _fitted_with_confidence()[0]
    assert detector.reads_confidence
    detector.threshold_ = np.inf  # every ticket flagged: the verdicts are read, whatever the neighbours
    monkeypatch.setattr(fitted, "novelty_", detector)
    after = fitted.predict_tickets([s for s, _ in NEW_TICKETS], [b for _, b in NEW_TICKETS])
    assert all(p.novel and p.abstained for p in after)
    # The reason names both readings the score weighed: the nearest similarity and the model's confidence.
    assert all(
        p.abstain_reason is not None
        and p.abstain_reason.startswith("unlike anything seen before: nearest past ticket at similarity ")
        and p.abstain_reason.endswith(f", best label at {p.probability:.0%}")
        for p in after
    )
    assert [(p.label, p.probability) for p in after] == [(p.label, p.probability) for p in before]
    vectors = fitted.encoder().encode_tickets(NEW_TICKETS)
    with pytest.raises(ValueError, match="confidence="):
        fitted.novelty_verdicts(vectors)
    confidence = np.array([p.probability for p in after])
    scores = [v.score for v in fitted.novelty_verdicts(vectors, confidence) if v is not None]
    lower = [v.score for v in fitted.novelty_verdicts(vectors, confidence / 2) if v is not None]
    assert len(scores) == 3 and all(b < a for a, b in zip(scores, lower, strict=True))
