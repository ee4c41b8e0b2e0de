"""The scorers the classifier blends, on small problems whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from router.predict.attention import AttentionHead
from router.predict.scorers import KernelRidge, OneVsRestSVM, PairwiseSVM

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


def test_balanced_svms_find_more_of_a_rare_overlapping_label() -> None:
    rng = np.random.default_rng(3)
    # Two overlapping clouds, the second a tenth of the tickets: unweighted, the SVM mostly gives it up.
    x = np.vstack([rng.normal(0.0, 1.0, size=(450, 5)), rng.normal(0.8, 1.0, size=(50, 5))])
    y = np.r_[np.zeros(450, dtype=np.int64), np.ones(50, dtype=np.int64)]
    gram = x @ x.T
    plain = PairwiseSVM(1.0).fit_gram(gram, y, 2)
    balanced = PairwiseSVM(1.0, balanced=True).fit_gram(gram, y, 2)
    found_plain = (plain.scores_gram(gram)[1].argmax(axis=1)[y == 1] == 1).mean()
    found_balanced = (balanced.scores_gram(gram)[1].argmax(axis=1)[y == 1] == 1).mean()
    assert found_balanced > found_plain + 0.3
    linear_plain = OneVsRestSVM(1.0).fit(x, y, 2).scores(x, len(x))[0].argmax(axis=1)
    linear_balanced = OneVsRestSVM(1.0, balanced=True).fit(x, y, 2).scores(x, len(x))[0].argmax(axis=1)
    assert (linear_balanced[y == 1] == 1).mean() > (linear_plain[y == 1] == 1).mean() + 0.3


def test_pairwise_svm_on_two_labels_agrees_with_scikit_learn() -> None:
    from sklearn.svm import SVC

    rng = np.random.default_rng(4)
    x = np.vstack([rng.normal(-1.0, 1.0, size=(60, 4)), rng.normal(1.0, 1.0, size=(40, 4))])
    y = np.r_[np.zeros(60, dtype=np.int64), np.ones(40, dtype=np.int64)]
    gram = x @ x.T
    votes, margins = PairwiseSVM(1.0).fit_gram(gram, y, 2).scores_gram(gram)
    expected = SVC(C=1.0, kernel="precomputed").fit(gram, y).predict(gram)
    # scikit-learn flips a two-label SVC's sign; the scores must still favour the label it predicts.
    assert np.array_equal(margins.argmax(axis=1), expected) and np.array_equal(votes.argmax(axis=1), expected)
    assert (expected == y).mean() > 0.85
