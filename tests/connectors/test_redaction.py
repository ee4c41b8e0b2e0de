"""Masking credentials in URLs and free text: what every layer that shows a URL relies on."""

from __future__ import annotations

import pytest

from connectors.redaction import mask_url, redact, register_secret, url_secrets


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://user:SECRET@host/x", "http://user:***@host/x"),
        ("postgresql://u:p@ss:w@rd@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        (
            "postgresql://host/db?user=u&password=SECRET&sslmode=require",
            "postgresql://host/db?user=u&password=***&sslmode=require",
        ),
        (
            "https://TOKEN@api.example/v2?a=1&X-Api-Key=k#access_token=t",
            "https://***@api.example/v2?a=1&X-Api-Key=***#access_token=***",
        ),
        ("http://u:pw@[::1]:8080/p?client_secret=s", "http://u:***@[::1]:8080/p?client_secret=***"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
        ("sqlite:///.deskroute/deskroute.db", "sqlite:///.deskroute/deskroute.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert mask_url(masked) == masked  # masking twice changes nothing


def test_redact_masks_urls_and_pairs_in_free_text_and_keeps_the_rest() -> None:
    text = "cannot reach http://a:b%40c@h/x?token=t: refused; dsn password=hunter2 [link=http://e]L[/link]"
    assert redact(text) == "cannot reach http://a:***@h/x?token=***: refused; dsn password=*** [link=http://e]L[/link]"


def test_registered_secrets_are_scrubbed_in_every_written_form() -> None:
    register_secret("S3cr@t/value")
    assert redact("echo S3cr@t/value and S3cr%40t%2Fvalue") == "echo *** and ***"
    register_secret("abc")  # too short to scrub without garbling messages
    assert redact("abc") == "abc"


def test_url_secrets_are_the_parts_mask_url_hides() -> None:
    assert url_secrets("postgresql://u:p%40ss@h/db?password=q") == ["p%40ss", "p@ss", "q"]
    assert url_secrets("https://TOKEN@h/") == ["TOKEN"]
    assert url_secrets("postgresql://postgres@h/db") == []
