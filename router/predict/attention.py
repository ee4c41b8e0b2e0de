"""A scorer that reads the sentence encoder's token embeddings: learnt attention pooling and a small network.

The sentence embedding is the plain mean of the encoder's contextual token vectors: every word counts the
same. Intents that differ by one word ("my card has not *arrived*" vs "when will my card *arrive*") are
close in that mean. This scorer learns, from the labelled tickets, which tokens to attend to: a few
attention heads pool the (frozen) token vectors, and a one-hidden-layer network maps the pooled vectors and
the mean to label scores. The encoder itself is not fine-tuned: that costs ~20x more CPU time.

It errs differently from the kernel models over n-grams and the mean embedding, which is what a blend of
them needs. Measured by 5-fold cross-validation on Banking77 (same folds): this scorer alone 92.9%, the
kernel SVM 93.2%, both blended with kernel ridge 93.6–93.8%.

Training uses PyTorch (already there for the encoder); the fitted weights are kept as plain arrays and
scoring runs in NumPy, so a saved model holds no PyTorch objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

from router.predict.calibration import log_softmax
from router.predict.scorers import Scores

TokenMatrix = NDArray[np.float16]
"""One ticket's token embeddings: (tokens, dimension), padding excluded."""

# At least this many optimiser steps, whatever the number of tickets: small training sets still converge.
_MIN_STEPS = 300
_LENGTH_CHUNK = 50  # batches whose tickets are grouped by length (less padding), then shuffled


def _pad(tokens: Sequence[TokenMatrix], rows: NDArray[np.int64]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Token matrices of ``rows`` padded to the longest: (n, length, dim) values and an (n, length) mask."""
    length = max(1, max(len(tokens[i]) for i in rows))
    dim = tokens[rows[0]].shape[1]
    x = np.zeros((len(rows), length, dim), dtype=np.float32)
    mask = np.zeros((len(rows), length), dtype=np.float32)
    for j, i in enumerate(rows):
        n = len(tokens[i])
        x[j, :n] = tokens[i]
        mask[j, :n] = 1.0
    return x, mask


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.asarray(0.5 * x * (1.0 + erf(x / np.sqrt(2.0))), dtype=np.float32)


class AttentionHead:
    """Attention pooling over frozen token embeddings, then a small network; scores are log-probabilities."""

    def __init__(
        self,
        *,
        heads: int = 4,
        hidden: int = 512,
        epochs: int = 6,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        dropout: float = 0.1,
        label_smoothing: float = 0.1,
        random_state: int = 0,
    ):
        self.heads = heads
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.random_state = random_state

    def fit(self, tokens: Sequence[TokenMatrix], y: NDArray[np.int64], n_classes: int) -> AttentionHead:
        """Learn from each ticket's token embeddings and its label index."""
        import torch
        from torch import nn

        if len(tokens) != len(y) or len(y) == 0:
            raise ValueError(f"{len(tokens)} token matrices but {len(y)} labels")
        self.n_classes_ = n_classes
        dim = int(tokens[0].shape[1])
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        attention = nn.Linear(dim, self.heads)
        network = nn.Sequential(
            nn.Linear(dim * (self.heads + 1), self.hidden),
            nn.GELU(),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, n_classes),
        )
        parameters = list(attention.parameters()) + list(network.parameters())
        optimiser = torch.optim.AdamW(parameters, lr=self.learning_rate, weight_decay=0.01)
        batches_per_epoch = -(-len(y) // self.batch_size)
        epochs = max(self.epochs, -(-_MIN_STEPS // batches_per_epoch))
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=self.learning_rate, total_steps=epochs * batches_per_epoch
        )
        lengths = np.array([len(t) for t in tokens])
        labels = torch.as_tensor(np.asarray(y, dtype=np.int64))
        network.train()
        for _ in range(epochs):
            for batch in self._batches(rng, lengths):
                x, mask = (torch.from_numpy(a) for a in _pad(tokens, batch))
                # Whole tokens are dropped (a word left out), not single coordinates: one random draw per token
                # instead of per value costs a sixth of the time and learns as well (5-fold CV, head alone:
                # Banking77 92.8% -> 92.7% ± 0.6, support tickets 34.4% -> 35.1% ± 1.4; fit time -33% and -50%).
                x = x * (torch.rand(x.shape[0], x.shape[1], 1) >= self.dropout).to(x.dtype) / (1.0 - self.dropout)
                weights = torch.softmax(attention(x) + (mask.unsqueeze(-1) - 1.0) * 1e4, dim=1)
                pooled = torch.einsum("blh,bld->bhd", weights, x).flatten(1)
                mean = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
                logits = network(torch.cat([pooled, mean], dim=1))
                loss = nn.functional.cross_entropy(
                    logits, labels[torch.from_numpy(batch)], label_smoothing=self.label_smoothing
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
        # Plain arrays from here on: scoring needs no PyTorch, and a saved model holds none of its objects.
        self.attention_weight_ = attention.weight.detach().numpy().T.copy()  # (dim, heads)
        self.attention_bias_ = attention.bias.detach().numpy().copy()
        first, last = network[0], network[3]
        assert isinstance(first, nn.Linear) and isinstance(last, nn.Linear)
        self.hidden_weight_ = first.weight.detach().numpy().T.copy()  # (dim·(heads+1), hidden)
        self.hidden_bias_ = first.bias.detach().numpy().copy()
        self.output_weight_ = last.weight.detach().numpy().T.copy()  # (hidden, classes)
        self.output_bias_ = last.bias.detach().numpy().copy()
        return self

    def _batches(self, rng: np.random.Generator, lengths: NDArray[np.int64]) -> list[NDArray[np.int64]]:
        order = rng.permutation(len(lengths))
        chunk = self.batch_size * _LENGTH_CHUNK
        batches: list[NDArray[np.int64]] = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches.extend(part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def scores(self, tokens: Sequence[TokenMatrix], *, batch_size: int = 256) -> Scores:
        """[log-probability] per label for each ticket."""
        out = np.empty((len(tokens), self.n_classes_), dtype=np.float64)
        for start in range(0, len(tokens), batch_size):
            rows = np.arange(start, min(start + batch_size, len(tokens)))
            x, mask = _pad(tokens, rows)
            logits = x @ self.attention_weight_ + self.attention_bias_ + (mask[..., None] - 1.0) * 1e4
            logits -= logits.max(axis=1, keepdims=True)
            weights = np.exp(logits)
            weights /= weights.sum(axis=1, keepdims=True)
            pooled = np.einsum("blh,bld->bhd", weights, x).reshape(len(rows), -1)
            mean = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
            hidden = _gelu(np.concatenate([pooled, mean], axis=1) @ self.hidden_weight_ + self.hidden_bias_)
            out[rows] = log_softmax((hidden @ self.output_weight_ + self.output_bias_).astype(np.float64))
        return [out]
