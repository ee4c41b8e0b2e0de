"""Fixtures for the text-predictor tests: small labelled ticket sets written as a user would write them."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

# No test may reach the network: the default model comes from the installed package.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

# Three queues whose tickets differ in wording, with enough variety that cross-validation is not trivial.
_PHRASES = {
    "Billing": [
        ("Charged twice", "I was charged twice for my subscription this month, please refund one payment."),
        ("Refund request", "The invoice shows an amount I never agreed to. I want my money back."),
        ("Wrong invoice", "Our invoice lists twelve seats but we only pay for eight."),
        ("Card declined", "My credit card payment was declined although the card is valid."),
        ("VAT missing", "The VAT number is missing on the last invoice, please correct the billing address."),
    ],
    "Access": [
        ("Cannot log in", "I cannot log in since yesterday, the password reset email never arrives."),
        ("Account locked", "My account is locked after too many attempts, please unlock it."),
        ("2FA lost", "I lost my phone and cannot pass two-factor authentication anymore."),
        ("SSO broken", "Single sign-on with our identity provider fails with an error page."),
        ("Invite expired", "The invitation link to join the workspace has expired, I cannot sign up."),
    ],
    "Shipping": [
        ("Parcel late", "My parcel has not arrived, the tracking number shows no update for a week."),
        ("Damaged box", "The package arrived damaged and the device inside is broken."),
        ("Wrong address", "Please change the delivery address of my order before it ships."),
        ("Missing item", "One item from my order was missing from the delivery."),
        ("Courier lost it", "The courier says the shipment was delivered but I never received it."),
    ],
}
_OPENERS = ["Hello,", "Hi team,", "Good morning,", "Dear support,", ""]
_CLOSERS = ["Thanks.", "Regards, Sam", "Kind regards", "Please help asap.", ""]


def labelled_rows(per_label: int = 14, seed: int = 7) -> list[dict[str, str]]:
    """Rows with id, subject, body, queue, priority and language."""
    rng = random.Random(seed)
    rows = []
    for queue, phrases in _PHRASES.items():
        for i in range(per_label):
            subject, body = phrases[i % len(phrases)]
            text = f"{rng.choice(_OPENERS)} {body} Order {rng.randint(1000, 9999)}. {rng.choice(_CLOSERS)}".strip()
            rows.append(
                {
                    "id": f"{queue[:1]}{i}",
                    "subject": subject,
                    "body": text,
                    "queue": queue,
                    "priority": rng.choice(["low", "normal", "high"]),
                    "language": "en",
                }
            )
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def tickets_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "tickets.csv", labelled_rows())
