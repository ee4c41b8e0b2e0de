"""`python -m evals.language_eval`: accuracy per language against a labelled column, as evaluators run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.language_eval import language_accuracy, main
from tests.predict.conftest import write_csv

_TEXTS = {
    "en": "My parcel has not arrived and the tracking number shows no update for a whole week.",
    "de": "Mein Paket ist immer noch nicht angekommen und die Sendungsverfolgung zeigt seit einer Woche nichts.",
    "fr": "Mon colis n'est toujours pas arrivé et le suivi n'indique rien depuis une semaine entière.",
}


def test_accuracy_per_language_names_what_each_was_taken_for() -> None:
    result = language_accuracy(["de", "de", "de", "en"], ["de", "en", "de", "en"])
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["per_language"]["de"] == {"tickets": 3, "accuracy": pytest.approx(2 / 3), "taken_for": {"en": 1}}
    assert result["per_language"]["en"]["taken_for"] == {}
    with pytest.raises(ValueError, match="no labelled tickets"):
        language_accuracy([], [])


def test_the_script_reports_each_language_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"subject": "Help", "body": text, "language": code.upper()} for code, text in _TEXTS.items()]
    # The last ticket's column says German but the text is English: the report shows what it was taken for.
    rows.append({"subject": "Help", "body": _TEXTS["en"], "language": "de"})
    data = write_csv(tmp_path / "tickets.csv", rows)
    report = tmp_path / "out" / "language.json"
    assert main(["--file", str(data), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "4 tickets, detected language agrees with 'language' for 75.0%" in out
    assert "de: 50.0% of 2 (taken for: en 1)" in out
    result = json.loads(report.read_text())
    assert result["per_language"]["fr"]["accuracy"] == 1.0


def test_a_missing_label_column_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "tickets.csv", [{"subject": "Help", "body": _TEXTS["en"]}])
    assert main(["--file", str(data)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "language" in err and "Traceback" not in err
