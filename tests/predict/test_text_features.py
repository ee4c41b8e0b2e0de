"""The few-texts TF-IDF path gives scikit-learn's numbers: one ticket at a time must featurise as a batch does."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from router.predict.classifier import ticket_text
from router.predict.text_features import FEW_TEXTS, TicketFeatures, few_tfidf_rows

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample" / "tickets.csv"


def _texts() -> list[str]:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        return [ticket_text(r["subject"], r["body"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=np.float32),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), dtype=np.float64),
        TfidfVectorizer(binary=True),  # another setting: scikit-learn's own transform
    ],
)
def test_few_texts_featurise_as_scikit_learn_does(vectorizer: TfidfVectorizer) -> None:
    texts = _texts()
    vectorizer.fit(texts[100:])
    new = [*texts[:40], "", "zzzz qqqq xxxx", "Ünïcödé straße 東京 — ¿qué?", "a a a a a a a a"]
    expected = vectorizer.transform(new)
    got = few_tfidf_rows(vectorizer, new)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert abs(got - expected).max() < 1e-6
    assert np.array_equal((got != 0).toarray(), (expected != 0).toarray())
    one = few_tfidf_rows(vectorizer, [new[3]])
    assert abs(one - expected[3]).max() < 1e-6


def test_ticket_features_take_the_few_texts_path_only_for_a_few() -> None:
    texts = _texts()
    features = TicketFeatures()
    vectors = np.random.default_rng(0).normal(size=(len(texts), 8)).astype(np.float32)
    features.fit_transform(texts[100:], vectors[100:])
    many = features.transform(texts[: FEW_TEXTS + 1], vectors[: FEW_TEXTS + 1])
    for i in range(FEW_TEXTS + 1):
        one = features.transform([texts[i]], vectors[i : i + 1])
        assert abs(one.words - many.words[i]).max() < 1e-6
        assert abs(one.chars - many.chars[i]).max() < 1e-6
