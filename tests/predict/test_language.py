"""Language detection for Signals.language: offline, ISO 639-1 codes, None when there is nothing to read."""

from __future__ import annotations

import pytest

from router.predict import LanguageDetector, detect_language

SAMPLES = {
    "en": "My invoice was charged twice this month and I would like a refund for the second payment.",
    "de": "Meine Rechnung wurde diesen Monat doppelt belastet und ich möchte die zweite Zahlung zurück.",
    "fr": "Ma facture a été débitée deux fois ce mois-ci et je voudrais un remboursement.",
    "es": "Mi factura se cobró dos veces este mes y quisiera un reembolso del segundo pago.",
    "pt": "A minha fatura foi cobrada duas vezes este mês e gostaria de um reembolso.",
    "it": "La mia fattura è stata addebitata due volte questo mese e vorrei un rimborso.",
    "nl": "Mijn factuur is deze maand twee keer afgeschreven en ik wil graag een terugbetaling.",
    "ru": "С моей карты дважды списали оплату за этот месяц, прошу вернуть деньги.",
    "ja": "今月の請求が二重に引き落とされました。返金をお願いします。",
}


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_common_support_languages_are_recognised(code: str) -> None:
    assert detect_language(SAMPLES[code]) == code


def test_batch_detection_keeps_order_and_gives_none_for_no_text() -> None:
    detector = LanguageDetector()
    found = detector.detect_many([SAMPLES["de"], "", "12345 !!!", SAMPLES["en"]])
    assert [f.code if f else None for f in found] == ["de", None, None, "en"]
    assert found[0] is not None and 0.0 < found[0].confidence <= 1.0


def test_a_restricted_language_set_and_bad_codes() -> None:
    assert LanguageDetector(["en", "de"]).detect(SAMPLES["nl"]) is not None  # the closer of the two
    with pytest.raises(ValueError, match="at least two distinct languages"):
        LanguageDetector(["en", "EN"])
    with pytest.raises(ValueError, match="'xx' is not an ISO 639-1 code"):
        LanguageDetector(["en", "xx"]).detect("hello")


def test_one_text_at_a_time_finds_what_a_batch_finds() -> None:
    # A ticket routed alone is detected in the calling thread, a batch in lingua's pool: same languages, same
    # confidences (to float rounding), on the sample's tickets of every length.
    from evals.bench_route import sample_tickets

    texts = [t.text for t in sample_tickets(count=60)]
    batch = LanguageDetector().detect_many(texts)
    alone = LanguageDetector()
    for text, expected in zip(texts, batch, strict=True):
        (found,) = alone.detect_many([text])
        assert (found.code if found else None) == (expected.code if expected else None)
        if found and expected:
            assert found.confidence == pytest.approx(expected.confidence, abs=1e-9)


def test_the_same_texts_asked_again_are_answered_without_detecting_again() -> None:
    detector = LanguageDetector()
    first = detector.detect_many([SAMPLES["fr"], SAMPLES["de"]])
    detector._detect = None  # type: ignore[assignment,method-assign]  # any new detection would now fail
    assert detector.detect_many([SAMPLES["fr"], SAMPLES["de"]]) == first
    with pytest.raises(TypeError):
        detector.detect_many([SAMPLES["fr"]])
