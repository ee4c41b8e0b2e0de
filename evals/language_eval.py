"""Language detection against a labelled language column: accuracy per language and what it was taken for.

The detector is the one the engine uses (lingua over deskroute's fixed set of languages, on subject and body).
A disagreement is not always the detector's fault: a dataset's language column may name the language a ticket
was meant to be in. The confusion counts show which.

Run: ``python -m evals.language_eval --file FILE [--file FILE] [--text subject,body] [--label language] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from router.predict.language_detection import detect_ticket_languages
from router.training.labelled import DatasetError, parse_columns, read_labelled

UNDETECTED = "none"


def language_accuracy(truth: Sequence[str], detected: Sequence[str]) -> dict[str, Any]:
    """Overall and per-language accuracy, and per language what the detector said instead."""
    if len(truth) != len(detected):
        raise ValueError(f"{len(truth)} labels but {len(detected)} detections")
    if not truth:
        raise ValueError("no labelled tickets to evaluate")
    per_language: dict[str, dict[str, Any]] = {}
    for code in sorted(set(truth)):
        said = Counter(d for t, d in zip(truth, detected, strict=True) if t == code)
        total = sum(said.values())
        per_language[code] = {
            "tickets": total,
            "accuracy": said[code] / total,
            "taken_for": {other: n for other, n in said.most_common() if other != code},
        }
    correct = sum(t == d for t, d in zip(truth, detected, strict=True))
    return {"tickets": len(truth), "accuracy": correct / len(truth), "per_language": per_language}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.language_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, action="append", required=True, help="CSV or JSONL (repeatable)")
    parser.add_argument("--text", default="subject,body", help="text column(s) the detector reads")
    parser.add_argument("--label", default="language", help="the column holding each ticket's language code")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        data = read_labelled(args.file, text_columns=parse_columns(args.text), label_column=args.label)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    truth = [label.strip().lower() for label in data.labelled()]
    found = detect_ticket_languages(data.tickets)
    detected = [language.code if language is not None else UNDETECTED for language in found]
    result = language_accuracy(truth, detected)
    print(f"{result['tickets']} tickets, detected language agrees with '{args.label}' for {result['accuracy']:.1%}")
    for code, figures in result["per_language"].items():
        others = ", ".join(f"{other} {n}" for other, n in figures["taken_for"].items()) or "-"
        print(f"  {code}: {figures['accuracy']:.1%} of {figures['tickets']} (taken for: {others})")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
