"""The scorers the classifier blends, on small problems whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from router.predict.attention import AttentionHead
from router.predict.scorers import KernelRidge

KEYWORDS = np.random.default_rng(9).normal(size=(3, 16)) * 3.0


def _token_tickets(rng: np.random.Generator, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Tickets of 5–20 noise tokens; a ticket's label is which of three keyword tokens one position holds."""
    keywords = KEYWORDS
    tokens, labels = [], []
    for _ in range(n):
        length = int(rng.integers(5, 21))
        matrix = rng.normal(size=(length, 16))
        label = int(rng.integers(0, 3))
        matrix[int(rng.integers(0, length))] = keywords[label]
        tokens.append(matrix.astype(np.float16))
        labels.append(label)
    return tokens, np.array(labels)


def test_attention_head_finds_the_token_that_decides_the_label() -> None:
    rng = np.random.default_rng(0)
    train_tokens, train_y = _token_tickets(rng, 600)
    test_tokens, test_y = _token_tickets(rng, 200)
    head = AttentionHead(hidden=64, epochs=20).fit(train_tokens, train_y, 4)  # a fourth label never seen
    (scores,) = head.scores(test_tokens)
    assert scores.shape == (200, 4)
    assert np.allclose(np.exp(scores).sum(axis=1), 1.0)  # log-probabilities
    assert (scores.argmax(axis=1) == test_y).mean() > 0.9
    assert scores[:, 3].max() < np.log(0.2)


def test_attention_head_is_reproducible_and_keeps_only_arrays() -> None:
    rng = np.random.default_rng(1)
    tokens, y = _token_tickets(rng, 100)
    first = AttentionHead(hidden=32, random_state=3).fit(tokens, y, 3)
    second = AttentionHead(hidden=32, random_state=3).fit(tokens, y, 3)
    assert np.allclose(first.scores(tokens)[0], second.scores(tokens)[0], atol=1e-5)
    learnt = {k: v for k, v in vars(first).items() if k.endswith("_") and k != "n_classes_"}
    assert learnt and all(isinstance(v, np.ndarray) for v in learnt.values())


def test_attention_head_refuses_mismatched_input() -> None:
    with pytest.raises(ValueError, match="2 token matrices but 3 labels"):
        AttentionHead().fit([np.zeros((3, 4), np.float16)] * 2, np.array([0, 1, 0]), 2)


def test_kernel_ridge_regresses_labels_through_the_gram_matrix() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(3, 8)) * 3
    y = rng.integers(0, 3, size=150)
    x = centres[y] + rng.normal(size=(150, 8))
    gram = x @ x.T + 1.0  # the constant plays the intercept
    ridge = KernelRidge(alpha=1.0).fit_gram(gram[:100, :100], y[:100], 3)
    (scores,) = ridge.scores_gram(gram[100:, :100])
    assert scores.shape == (50, 3)
    assert (scores.argmax(axis=1) == y[100:]).mean() > 0.9
