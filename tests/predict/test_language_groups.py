"""Tickets in languages the sentence encoder does not know: read from their words, calibrated apart."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from router.predict import TicketClassifier
from tests.predict.conftest import labelled_rows

_GERMAN = {
    "Billing": [
        "Sie haben meine Kreditkarte zweimal belastet, bitte erstatten Sie eine der Zahlungen.",
        "Auf der Rechnung steht ein Betrag, dem ich nie zugestimmt habe. Ich möchte mein Geld zurück.",
        "Die Umsatzsteuer-Identifikationsnummer fehlt auf der letzten Rechnung.",
        "Meine Zahlung wurde abgelehnt, obwohl die Karte gültig ist.",
    ],
    "Access": [
        "Ich kann mich seit gestern nicht anmelden, die E-Mail zum Zurücksetzen des Passworts kommt nie an.",
        "Mein Konto ist nach zu vielen Versuchen gesperrt, bitte entsperren Sie es.",
        "Ich habe mein Telefon verloren und komme an der Zwei-Faktor-Anmeldung nicht mehr vorbei.",
        "Die Einladung zum Arbeitsbereich ist abgelaufen, ich kann mich nicht registrieren.",
    ],
    "Shipping": [
        "Mein Paket ist nicht angekommen, die Sendungsverfolgung zeigt seit einer Woche nichts Neues.",
        "Die Lieferung kam beschädigt an und das Gerät darin ist kaputt.",
        "Bitte ändern Sie die Lieferadresse meiner Bestellung, bevor sie verschickt wird.",
        "Ein Artikel meiner Bestellung fehlte in der Lieferung.",
    ],
}
_OPENERS = ["Hallo,", "Guten Tag,", "Sehr geehrtes Support-Team,", ""]
_CLOSERS = ["Danke.", "Mit freundlichen Grüßen", "Viele Grüße, Kim", ""]


def _german_rows(per_label: int, seed: int = 3) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for queue, bodies in _GERMAN.items():
        for i in range(per_label):
            body = f"{rng.choice(_OPENERS)} {bodies[i % len(bodies)]} Bestellung {rng.randint(1000, 9999)}."
            rows.append({"id": f"de-{queue}-{i}", "subject": "Anfrage", "body": f"{body} {rng.choice(_CLOSERS)}"})
            rows[-1]["queue"] = queue
    return rows


def _fit(rows: list[dict[str, str]]) -> TicketClassifier:
    # The attention network is left out: it is not what these tests are about, and it is the slowest scorer.
    return TicketClassifier(target="queue", scorers=("pairwise", "ridge", "neighbours")).fit(
        [(r["subject"], r["body"]) for r in rows], [r["queue"] for r in rows], ids=[r["id"] for r in rows]
    )


@pytest.fixture(scope="module")
def mixed() -> TicketClassifier:
    rows = labelled_rows(per_label=40) + _german_rows(per_label=40)
    random.Random(5).shuffle(rows)
    return _fit(rows)


NEW = [
    ("Rechnung", "Sie haben mir die gleiche Rechnung zweimal abgebucht, ich brauche eine Erstattung."),
    ("Double payment", "My card was billed two times for the same invoice, I need a refund."),
]


def test_a_language_the_encoder_does_not_know_leaves_the_embedding_out_of_the_kernel(
    mixed: TicketClassifier,
) -> None:
    assert mixed.language_aware_ and mixed.describe()["language_aware"] is True
    texts = [f"{s}\n{b}" for s, b in NEW]
    vectors = mixed.encoder().encode_tickets(NEW)
    matrix = mixed.features_.transform(texts, vectors)
    native = mixed._native(texts)
    assert native.tolist() == [False, True]
    text, meaning = mixed.features_.gram_parts(matrix, mixed.reference_)
    weight = mixed.features_.embedding_weight
    gram = mixed._reference_gram(matrix, mixed.reference_, native)
    # The German ticket meets every training ticket through its n-grams only; the English one keeps its
    # embedding towards English training tickets and drops it towards German ones.
    np.testing.assert_allclose(gram[0], mixed.features_.kernel(text[0:1].copy(), 0 * meaning[0:1], weight)[0])
    english = mixed.reference_native_
    expected = mixed.features_.kernel(text[1:2].copy(), meaning[1:2] * english, weight)[0]
    np.testing.assert_allclose(gram[1], expected)
    words_only = mixed.features_.kernel(text[1:2].copy(), 0 * meaning[1:2], weight)[0]
    assert not np.allclose(gram[1][english], words_only[english])


def test_each_language_group_gets_its_own_calibration(mixed: TicketClassifier, tmp_path: Path) -> None:
    predictions = mixed.predict_tickets([s for s, _ in NEW], [b for _, b in NEW])
    assert [p.label for p in predictions] == ["Billing", "Billing"]
    assert mixed.group_blends_ is not None
    native_blend, foreign_blend = mixed.group_blends_
    assert not np.allclose(native_blend.weights_, foreign_blend.weights_)
    mixed.save(tmp_path)
    loaded = TicketClassifier.load(tmp_path, "queue")
    np.testing.assert_allclose(loaded.predict_proba(NEW), mixed.predict_proba(NEW))


def test_a_few_tickets_in_other_languages_do_not_split_the_model() -> None:
    rows = labelled_rows(per_label=40) + _german_rows(per_label=2)
    model = _fit(rows)
    assert not model.language_aware_ and model.group_blends_ is None
    assert model.describe()["language_aware"] is False
