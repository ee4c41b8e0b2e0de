"""Ticket text preparation: what of a ticket gets embedded."""

from __future__ import annotations

import pytest

from embeddings import prepare_ticket_text


def test_subject_and_body_become_one_normalised_line() -> None:
    text = prepare_ticket_text("  Printer\toffline ", "The printer on floor 3\n\n  is offline   again.")
    assert text == "Printer offline. The printer on floor 3 is offline again."


def test_missing_parts_are_normal() -> None:
    assert prepare_ticket_text(None, "Only a body.") == "Only a body."
    assert prepare_ticket_text("Only a subject", None) == "Only a subject"
    assert prepare_ticket_text("", "") == ""
    assert prepare_ticket_text(None, None) == ""


def test_html_becomes_text_but_placeholders_survive() -> None:
    body = (
        "<html><head><style>p {color: red}</style></head><body><p>Invoice&nbsp;#42 &amp; refund</p>"
        "<div>Call me on <tel_num>.</div><!-- tracking --></body></html>"
    )
    assert prepare_ticket_text("Billing", body) == "Billing. Invoice #42 & refund Call me on <tel_num>."


def test_html_quoted_reply_is_dropped() -> None:
    body = '<div>Still broken after the update.</div><div class="gmail_quote">On Mon, Ann wrote: old</div>'
    assert prepare_ticket_text(None, body) == "Still broken after the update."


@pytest.mark.parametrize(
    "body",
    [
        "Still broken.\n\nOn Mon, 3 Jun 2024 at 10:00, Support <help@example.com> wrote:\n> Did you restart?",
        "Still broken.\n\nAm 3. Juni 2024 um 10:00 schrieb Support <help@example.de>:\n> Neu gestartet?",
        "Still broken.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nDid you restart?",
        "Still broken.\n> Did you restart?\n> Thanks",
        "Still broken.\n\nBest regards,\nJohn Smith\nACME Inc.\n+1 555 0100",
        "Still broken. Kind regards, [Your Name]",
        "Still broken.\n\nMit freundlichen Grüßen\nMax Mustermann",
        "Still broken.\n-- \nJohn\nSupport lead",
        "Still broken.\n\nSent from my iPhone",
    ],
)
def test_quotes_signatures_and_footers_are_trimmed(body: str) -> None:
    assert prepare_ticket_text("VPN", body) == "VPN. Still broken."


def test_content_that_only_looks_like_a_sign_off_is_kept() -> None:
    assert prepare_ticket_text(None, "Thanks. The server is still down") == "Thanks. The server is still down"
    assert prepare_ticket_text(None, "It fails. Thank you for checking the logs.") == (
        "It fails. Thank you for checking the logs."
    )
    # Trimming never leaves a ticket empty.
    assert prepare_ticket_text(None, "Thanks, John") == "Thanks, John"


def test_subject_repeated_in_body_is_not_doubled() -> None:
    assert prepare_ticket_text("Password reset", "Password reset\nI forgot it.") == "Password reset I forgot it."


def test_long_text_is_cut_at_a_word_boundary() -> None:
    text = prepare_ticket_text("Log", "word " * 1000, max_chars=100)
    assert len(text) <= 100
    assert text.endswith("word")
    assert len(prepare_ticket_text("Log", "word " * 1000, max_chars=None)) > 4000


def test_invisible_characters_are_dropped() -> None:
    assert prepare_ticket_text(None, "pass\u200bword\u00a0reset") == "password reset"
