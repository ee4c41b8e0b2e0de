"""Rebuild examples/bank/tickets.csv from the BANKING77 training split and examples/bank/queues.csv.

Usage (from the repository root, with the development datasets at ../shared/datasets):
    python scripts/bank_sample.py [--per-intent 8] [--seed 26]

A fixed number of requests per intent, drawn with a fixed seed, so every intent (and so every queue in
proportion to its intents) is represented and the file is the same on every run. Each request becomes a ticket
with the queue and priority its intent maps to; the intent is kept in its own column for reference.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
MAPPING = ROOT / "examples" / "bank" / "queues.csv"
TARGET = ROOT / "examples" / "bank" / "tickets.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-intent", type=int, default=8)
    parser.add_argument("--seed", type=int, default=26)
    args = parser.parse_args()
    if not SOURCE.is_file():
        print(f"{SOURCE}: not found; this script needs the development datasets at ../shared", file=sys.stderr)
        return 1
    with MAPPING.open(encoding="utf-8", newline="") as fh:
        mapping = {row["intent"]: (row["queue"], row["priority"]) for row in csv.DictReader(fh)}
    by_intent: dict[str, list[str]] = {}
    with SOURCE.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            if row["category"] not in mapping:
                print(f"{SOURCE}:{line}: intent {row['category']!r} is not in {MAPPING.name}; add it", file=sys.stderr)
                return 1
            by_intent.setdefault(row["category"], []).append(row["text"].strip())
    rng = random.Random(args.seed)
    chosen = []
    for intent in sorted(by_intent):
        texts = sorted(set(by_intent[intent]))
        chosen += [(intent, text) for text in rng.sample(texts, min(args.per_intent, len(texts)))]
    rng.shuffle(chosen)
    with TARGET.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "subject", "body", "queue", "priority", "language", "intent"])
        for number, (intent, text) in enumerate(chosen, start=1):
            queue, priority = mapping[intent]
            writer.writerow([f"B{number:04d}", "", text, queue, priority, "en", intent])
    print(f"{TARGET}: {len(chosen)} tickets from {len(by_intent)} intents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
