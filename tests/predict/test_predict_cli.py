"""`deskroute train`, `deskroute predict` and `deskroute eval classify` as an evaluator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.classify import by_language
from router.cli import app
from tests.predict.conftest import labelled_rows, write_csv

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _refused(args: list[str]) -> str:
    """The command fails with a message for a person: exit status 1 and no stack trace."""
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return " ".join(result.stderr.split())


def test_train_then_predict_writes_one_json_line_per_ticket(cli_env: Path, tickets_csv: Path) -> None:
    out = _ok(["train", "--target", "queue", "--file", str(tickets_csv)])
    assert "saved text/queue@v1 (3 labels, 42 tickets)" in out
    assert "acts on the most probable label" in " ".join(out.split())  # a queue is not a priority scale
    new = write_csv(
        cli_env / "new.csv",
        [
            {"id": "n1", "subject": "Refund", "body": "You charged my card twice, refund the second payment."},
            {"id": "n2", "subject": "Anmeldung", "body": "Ich kann mich nicht anmelden, das Passwort geht nicht."},
        ],
    )
    lines = [json.loads(line) for line in _ok(["predict", str(new), "--neighbours", "2"]).splitlines()]
    assert [line["id"] for line in lines] == ["n1", "n2"]
    first = lines[0]
    assert first["label"] == "Billing" and first["target"] == "queue" and first["model_version"] == "text/queue@v1"
    assert {"probability", "top_k", "abstained", "abstain_reason", "language", "neighbours"} <= set(first)
    assert len(first["neighbours"]) == 2 and first["neighbours"][0]["label"] == "Billing"
    assert [line["language"] for line in lines] == ["en", "de"]


def test_a_priority_model_decides_for_balance_unless_told_otherwise(cli_env: Path, tickets_csv: Path) -> None:
    out = " ".join(_ok(["train", "--target", "priority", "--file", str(tickets_csv)]).split())
    assert "balanced decision, label weights high x" in out
    metadata = json.loads((cli_env / "data" / "models" / "text" / "priority" / "v1" / "metadata.json").read_text())
    assert metadata["decision"] == "balanced" and set(metadata["label_weights"]) == {"high", "low", "normal"}
    message = _refused(["train", "--target", "priority", "--file", str(tickets_csv), "--decision", "fairest"])
    assert "--decision must be one of auto, accuracy, balanced, got 'fairest'" in message


def test_predict_refuses_a_tampered_model(cli_env: Path, tickets_csv: Path) -> None:
    _ok(["train", "--target", "queue", "--file", str(tickets_csv)])
    artefact = cli_env / "data" / "models" / "text" / "queue" / "v1" / "model.skops"
    artefact.write_bytes(artefact.read_bytes()[:-10] + b"0123456789")
    message = _refused(["predict", str(tickets_csv), "--target", "queue"])
    assert "does not match the checksum" in message and "refusing to load it" in message


def test_eval_classify_cross_validates_beside_the_baselines(cli_env: Path) -> None:
    rows = labelled_rows()
    first = write_csv(cli_env / "a.csv", rows[:20])
    second = cli_env / "b.jsonl"  # CSV and JSON lines mix
    second.write_text("".join(json.dumps(r) + "\n" for r in rows[20:]), encoding="utf-8")
    report = cli_env / "out" / "eval.json"
    out = _ok(
        [
            "eval", "classify", "--train", str(first), "--train", str(second), "--cv", "3", "--repeats", "2",
            "--text", "Subject,Body", "--label", "QUEUE", "--json", str(report),
        ]
    )  # fmt: skip
    flat = " ".join(out.split())
    assert "3-fold cross-validation × 2" in flat and "tfidf baseline" in flat
    result = json.loads(report.read_text())
    assert result["mode"] == "cv" and result["folds"] == 3 and result["repeats"] == 2
    assert len(result["splits"]) == 6
    assert result["n_train"] + result["n_test"] == pytest.approx(42)
    for key in (
        "accuracy",
        "macro_f1",
        "top3_accuracy",
        "ece",
        "coverage_at_90_precision",
        "n_train",
        "n_test",
        "train_seconds",
        "predict_per_second",
    ):
        assert key in result and f"{key}_std" in result, key
    assert set(result["per_class"]) == {"Access", "Billing", "Shipping"}
    assert set(result["per_class"]["Billing"]) == {"precision", "recall", "f1", "support"}
    assert set(result["baselines"]) == {"majority", "tfidf"}
    assert result["baselines"]["majority"]["accuracy"] < result["accuracy"]
    assert "C" in result["baselines"]["tfidf"]["hyperparameters"]
    # Queues are decided by probability, and the baseline's C is chosen on accuracy: the figure they are judged by.
    assert result["hyperparameters"]["decision"] == {"accuracy": 6}
    assert result["baselines"]["tfidf"]["hyperparameters"]["chosen_on"] == {"accuracy": 6}


_GERMAN = {
    "Billing": "Die Rechnung ist falsch, Sie haben meine Kreditkarte zweimal belastet. Bitte erstatten Sie den Betrag.",
    "Access": "Ich kann mich seit gestern nicht mehr anmelden, die E-Mail zum Zurücksetzen des Passworts kommt nie an.",
    "Shipping": "Mein Paket ist immer noch nicht angekommen und die Sendungsverfolgung zeigt seit einer Woche nichts.",
}


def test_eval_classify_reports_accuracy_per_detected_language(cli_env: Path) -> None:
    rows = labelled_rows()
    for row in rows[::3]:  # a third of the tickets in German
        row["subject"], row["body"] = "Hilfe", _GERMAN[row["queue"]]
    data = write_csv(cli_env / "mixed.csv", rows)
    report = cli_env / "eval.json"
    out = _ok(
        [
            "eval", "classify", "--train", str(data), "--cv", "3", "--text", "subject,body", "--label", "queue",
            "--json", str(report),
        ]
    )  # fmt: skip
    assert "accuracy by detected language" in " ".join(out.split())
    result = json.loads(report.read_text())
    german = len(rows[::3])
    assert {code: f["support"] for code, f in result["per_language"].items()} == {"en": 42 - german, "de": german}
    for figures in (result["per_language"], result["baselines"]["tfidf"]["per_language"]):
        assert set(figures) == {"en", "de"}
        assert all(0.0 <= f["accuracy"] <= 1.0 and "accuracy_std" in f for f in figures.values())


def test_accuracy_by_language_counts_each_language_apart() -> None:
    predicted = ["Billing", "Access", "Access", "Shipping", "Billing"]
    truth = ["Billing", "Billing", "Access", "Shipping", "Legal"]  # 'Legal' was never predictable: wrong
    languages = ["en", "en", "de", "unknown", "de"]
    assert by_language(predicted, truth, languages) == {
        "de": {"accuracy": 0.5, "support": 2},
        "en": {"accuracy": 0.5, "support": 2},
        "unknown": {"accuracy": 1.0, "support": 1},
    }


def test_eval_classify_with_a_test_file_warns_about_unseen_labels(cli_env: Path) -> None:
    rows = labelled_rows()
    train = write_csv(cli_env / "train.csv", rows[:33])
    unseen = [dict(rows[33], queue="Legal"), *rows[34:]]
    test = write_csv(cli_env / "test.csv", unseen)
    result = runner.invoke(
        app,
        ["eval", "classify", "--train", str(train), "--test", str(test), "--text", "subject,body", "--label", "queue"],
    )
    assert result.exit_code == 0, result.output
    assert "1 test ticket(s) have labels never seen in training ('Legal' (1)); they count as wrong" in " ".join(
        result.stderr.split()
    )


def test_eval_classify_bad_input_gets_a_clear_message(cli_env: Path, tickets_csv: Path) -> None:
    base = ["eval", "classify", "--train", str(tickets_csv), "--text", "subject,body"]
    message = _refused([*base, "--label", "team", "--cv", "3"])
    assert f"{tickets_csv}: no column 'team'; the file has: id, subject, body, queue" in message
    message = _refused(
        ["eval", "classify", "--train", str(tickets_csv), "--text", "title", "--label", "queue", "--cv", "3"]
    )
    assert "no column 'title'" in message
    one_class = write_csv(cli_env / "one.csv", [dict(r, queue="Billing") for r in labelled_rows()])
    message = _refused(
        ["eval", "classify", "--train", str(one_class), "--text", "subject,body", "--label", "queue", "--cv", "3"]
    )
    assert "the label 'queue' has only one value ('Billing')" in message
    message = _refused([*base, "--label", "queue", "--cv", "3", "--test", str(tickets_csv)])
    assert "give either --test FILE or --cv K" in message
    message = _refused([*base, "--label", "subject", "--cv", "3"])
    assert "'subject' is both the label and a text column" in message
    missing = cli_env / "nope.csv"
    message = _refused(
        ["eval", "classify", "--train", str(missing), "--text", "subject,body", "--label", "queue", "--cv", "3"]
    )
    assert str(missing) in message


def test_rows_without_text_or_label_are_skipped_and_counted(cli_env: Path) -> None:
    rows = labelled_rows()
    rows[0]["subject"] = rows[0]["body"] = ""
    rows[1]["queue"] = ""
    data = write_csv(cli_env / "holes.csv", rows)
    result = runner.invoke(
        app, ["eval", "classify", "--train", str(data), "--cv", "2", "--text", "subject,body", "--label", "queue"]
    )
    assert result.exit_code == 0, result.output
    warnings = " ".join(result.stderr.split())
    assert f"skipped 1 row(s): no text in subject, body (first at {data}:2)" in warnings
    assert f"skipped 1 row(s): empty label 'queue' (first at {data}:3)" in warnings
    empty = write_csv(cli_env / "empty.csv", [dict(r, subject="", body="") for r in labelled_rows()[:5]])
    message = _refused(
        ["eval", "classify", "--train", str(empty), "--cv", "2", "--text", "subject,body", "--label", "queue"]
    )
    assert "no usable tickets" in message and "no text in subject, body" in message
