"""Novelty: whether a ticket is unlike every ticket the classifier learnt from.

A classifier's confidence is learnt on tickets of known labels, so a ticket about a topic it never saw is routed
with the same assurance as a familiar one: the labels' probabilities must sum to one, and some label wins. Novelty
is read instead from the sentence embedding: the mean cosine similarity of a ticket to its ``k`` nearest training
tickets. A familiar ticket has near paraphrases among them; a new topic has only loose matches.

The threshold is learnt without any novel ticket: in each of the classifier's inner folds a share of the labels
is left out of the fold's training part, and the fold's held-out tickets are scored against what remains.
Held-out tickets of left-out labels stand in for new topics, the others for familiar tickets; the threshold is
the one that flags the most stand-in novel tickets while flagging at most ``max_familiar`` of the familiar ones.
The labels left out of a fold are drawn at random, differently in each fold, so every label serves as new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# A fold's familiar and stand-in novel tickets are both needed for a threshold worth trusting.
MIN_FAMILIAR, MIN_NOVEL = 20, 5


@dataclass(frozen=True)
class NoveltyVerdict:
    """One ticket's novelty: its score (mean similarity of its nearest training tickets) and the nearest one."""

    novel: bool
    score: float
    nearest: float


def similarity_score(similarities: NDArray[np.floating], k: int) -> NDArray[np.float64]:
    """Mean of each row's ``k`` largest cosine similarities (rows sorted or not); -inf pads missing neighbours."""
    s = np.asarray(similarities, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"similarities must be a (tickets, neighbours) array with neighbours, got shape {s.shape}")
    top = -np.sort(-s, axis=1)[:, : min(k, s.shape[1])]
    top = np.where(np.isfinite(top), top, np.nan)
    with np.errstate(all="ignore"):
        score = np.nanmean(top, axis=1)
    return np.asarray(np.nan_to_num(score, nan=-1.0), dtype=np.float64)


class NoveltyDetector:
    """Flags tickets whose nearest training tickets are all far away; fitted inside the classifier's folds."""

    def __init__(self, *, k: int = 5, left_out_share: float = 0.15, max_familiar: float = 0.04, random_state: int = 0):
        if k < 1:
            raise ValueError(f"the novelty detector needs k >= 1 neighbours, got {k}")
        if not 0.0 < left_out_share < 1.0:
            raise ValueError(f"left_out_share must lie between 0 and 1, got {left_out_share}")
        if not 0.0 < max_familiar < 1.0:
            raise ValueError(f"max_familiar must lie between 0 and 1, got {max_familiar}")
        self.k = k
        self.left_out_share = left_out_share
        self.max_familiar = max_familiar
        self.random_state = random_state

    def fit(
        self,
        vectors: NDArray[np.floating],
        y: NDArray[np.int64],
        folds: Sequence[tuple[NDArray[np.int64], NDArray[np.int64]]],
    ) -> NoveltyDetector:
        """Choose the threshold from the inner folds, each with a random share of the labels left out.

        ``vectors`` are unit-length sentence embeddings of the training tickets, ``y`` their label indices.
        ``threshold_`` stays None (nothing is ever flagged) when the folds hold too few tickets to choose it.
        """
        v = np.asarray(vectors, dtype=np.float32)
        labels = np.asarray(y, dtype=np.int64)
        rng = np.random.default_rng(self.random_state)
        familiar: list[NDArray[np.float64]] = []
        novel: list[NDArray[np.float64]] = []
        for train, held_out in folds:
            present = np.unique(labels[train])
            if len(present) < 2:
                continue
            n_out = min(len(present) - 1, max(1, round(self.left_out_share * len(present))))
            out = rng.choice(present, size=n_out, replace=False)
            reference = train[~np.isin(labels[train], out)]
            if len(reference) == 0:
                continue
            scores = similarity_score(v[held_out] @ v[reference].T, self.k)
            is_new = np.isin(labels[held_out], out)
            novel.append(scores[is_new])
            familiar.append(scores[~is_new])
        known = np.concatenate(familiar) if familiar else np.zeros(0)
        new = np.concatenate(novel) if novel else np.zeros(0)
        self.threshold_: float | None = None
        self.expected_recall_: float | None = None
        self.expected_familiar_: float | None = None
        if len(known) < MIN_FAMILIAR or len(new) < MIN_NOVEL:
            return self
        threshold = choose_threshold(known, new, self.max_familiar)
        self.threshold_ = threshold
        self.expected_recall_ = float((new < threshold).mean())
        self.expected_familiar_ = float((known < threshold).mean())
        return self

    def verdicts(self, similarities: NDArray[np.floating]) -> list[NoveltyVerdict]:
        """Each ticket's verdict from its similarities to the nearest training tickets (rows: tickets)."""
        s = np.asarray(similarities, dtype=np.float64)
        if len(s) == 0:
            return []
        scores = similarity_score(s, self.k)
        nearest = np.where(np.isfinite(s), s, -1.0).max(axis=1)
        threshold = self.threshold_
        return [
            NoveltyVerdict(novel=threshold is not None and score < threshold, score=float(score), nearest=float(best))
            for score, best in zip(scores, nearest, strict=True)
        ]


def choose_threshold(familiar: NDArray[np.float64], novel: NDArray[np.float64], max_familiar: float) -> float:
    """The score below which tickets are flagged: most novel ones flagged, familiar ones at most ``max_familiar``.

    Among the thresholds that flag at most that share of familiar tickets, the one with the largest gap between
    the two flagged shares (novel minus familiar) wins: flagging more familiar tickets is only worth it when it
    flags even more novel ones.
    """
    candidates = np.unique(np.concatenate([familiar, novel]))
    known = np.sort(familiar)
    new = np.sort(novel)
    # A ticket is flagged when its score is strictly below the threshold.
    flagged_known = np.searchsorted(known, candidates, side="left") / len(known)
    flagged_new = np.searchsorted(new, candidates, side="left") / len(new)
    allowed = flagged_known <= max_familiar
    if not allowed.any():
        return float(candidates[0])
    gain = np.where(allowed, flagged_new - flagged_known, -np.inf)
    return float(candidates[int(np.argmax(gain))])
