"""Novelty: whether a ticket is unlike every ticket the classifier learnt from.

A classifier's confidence is learnt on tickets of known labels, so a ticket about a topic it never saw is routed
with the same assurance as a familiar one: the labels' probabilities must sum to one, and some label wins. Novelty
is read instead from the sentence embedding and the ticket's nearest training tickets. A familiar ticket has
near paraphrases among them, mostly of one label; a new topic has only loose matches, spread over several labels.

Two scores. The plain one is the mean cosine similarity of the ``k`` nearest training tickets. The learnt one
combines six readings of the ``search`` nearest tickets and their labels (the nearest similarity, the mean of the
5 and of the 10 nearest, the best label's mean of its 3 nearest and its margin over the second label, and the
share of a similarity-weighted vote of the 10 nearest that the leading label takes) with a logistic regression
taught to tell stand-in new topics from familiar tickets. It is used when the inner folds give enough of both
(``MIN_LEARN_FAMILIAR``, ``MIN_LEARN_NOVEL``), the plain score otherwise (and for models saved before it).

The threshold is learnt without any novel ticket: in each of the classifier's inner folds a share of the labels
is left out of the fold's training part, and the fold's held-out tickets are scored against what remains.
Held-out tickets of left-out labels stand in for new topics, the others for familiar tickets; the threshold is
the one that flags the most stand-in novel tickets while flagging at most ``max_familiar`` of the familiar ones.
The labels left out of a fold are drawn at random, differently in each fold, so every label serves as new. The
learnt score's threshold is chosen on cross-fitted scores (each fold's tickets scored by weights learnt on the
other folds), so it is not set on tickets the weights were fitted to.

With enough familiar tickets that the classifier would route (``MIN_LEARN_FAMILIAR``), the classifier's own
confidence joins the learnt score (``use_confidence``): the score is the mean of the learnt neighbour score and
the log-odds of the classifier's held-out confidence in its decided label, each standardised over the inner
folds' familiar tickets. The two disagree usefully: the neighbours read the sentence embedding only, the
confidence the n-grams, the kernels and the attention network too. Only familiar tickets' confidences are
honest (the classifier's inner folds saw the stand-ins' labels), so the weight is fixed at 0.5, not learnt on
the stand-ins, and the threshold is then the ``max_familiar`` quantile of the familiar tickets the abstention
threshold would route: flagging a ticket abstained on anyway costs no coverage. ``expected_recall_`` is then a
lower bound (the stand-ins look more familiar to folds that learnt their labels than new topics do).

Measured on Banking77 (5 outer splits, 10 labels left out of each entirely). Offline, on cached sentence embeddings
with the threshold from 3 inner folds exactly as here, the plain mean of 5 flagged 32.9% of new-topic tickets at
2.8% of familiar ones and the learnt score 39.6% at the same 2.8%; a nonlinear learner (gradient boosting) or a
seventh reading (distinct labels among the 10 nearest) gained nothing. With ``max_familiar`` 0.06, ``deskroute eval
classify --novelty 10 --cv 5`` gave, for the neighbour score alone, a novelty recall of 50.7% ± 12.3 at a coverage
cost of 4.4 points ± 0.4, against 46.6% ± 7.3 for the classifier's maximum probability raised to the same cost
(ahead in 3 of the 5 splits). Readings that gained nothing on top of the six (offline, recall at 5% of familiar
tickets flagged, neighbour score alone 53.8%): the six readings again in the classifier's kernel space (n-grams +
embedding) 53.1%; per-label normalised similarities 52.6%; the top probability, margin and entropy of a proxy
softmax classifier on the embeddings (ridge 53.2%, logistic regression 56.2% but 40 s more training, and nothing
more once the real confidence is in: 60.3% against 60.4%); the two nearest label centroids 55.7% but 52.0% at 4.4%
flagged (52.1% without). With the classifier's real held-out confidences (dumped per split), recall at exactly 5
points: neighbour score 53.8%, confidence alone 50.3%, their mean 60.4% (confidence weight 0.3: 60.4%, 0.4: 60.7%,
0.6: 60.4%, 0.7: 58.7%; product of the two familiar ranks 58.9%, their minimum 54.1%). The threshold from the inner
folds lands low on held-out tickets (at 0.06, 4.5% flagged), whose neighbours and confidences come from all training
tickets: 0.065 gave 59.2% at 4.8 points but one split at 5.4, so 0.06 stays. ``deskroute eval classify --novelty 10
--cv 5`` with the confidence: **58.0% ± 10.9 at 4.5 points ± 0.4** (no split above 4.94), maximum probability at the
same cost 47.0% ± 6.6, ahead in 4 of the 5 splits (+14.6, +16.9, +8.2, +16.7; behind by 1.1 in the fifth); along the
curve 38.8% against 28.5% at 2 points, 55.0% against 44.6% at 4 and 60.4% against 50.3% at 5; training 46.6 s ± 16.2
per split. On the support-ticket queue (2 of 10 labels left out) the classifier routes about a tenth of the tickets,
too few familiar ones for the combined score (it keeps the neighbour score): 95.0% ± 3.0 of new-topic tickets
abstained on (94.8% by confidence alone) at 0.2 points of cost, maximum probability at the same cost 94.9%; training
41.3 s per split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# A fold's familiar and stand-in novel tickets are both needed for a threshold worth trusting.
MIN_FAMILIAR, MIN_NOVEL = 20, 5
# Six weights need more examples than a threshold does: below these the plain mean similarity is used.
MIN_LEARN_FAMILIAR, MIN_LEARN_NOVEL = 300, 60
# Neighbours read for the learnt score: the best label's three nearest tickets are almost always among them.
SEARCH = 100
# Temperature of the neighbours' similarity-weighted vote (as the classifier's own neighbour vote).
_VOTE_TEMPERATURE = 0.05
_VOTERS = 10
_LABEL_NEAREST = 3
# Weight of the classifier's confidence (log-odds, standardised) beside the learnt neighbour score.
CONFIDENCE_WEIGHT = 0.5
_ODDS_EPS = 1e-6
FEATURES = ("nearest", "mean of 5", "mean of 10", "best label's 3", "margin to second label", "vote share")


@dataclass(frozen=True)
class NoveltyVerdict:
    """One ticket's novelty: its score (higher: more familiar), whether flagged, and the nearest similarity."""

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


def neighbour_features(similarities: NDArray[np.floating], labels: NDArray[np.integer]) -> NDArray[np.float64]:
    """The learnt score's readings (columns as ``FEATURES``) of each ticket's nearest tickets and their labels.

    ``similarities`` and ``labels`` are (tickets, neighbours); -inf similarity or a negative label marks a
    missing neighbour. A label with fewer than three tickets among those read has its missing ones counted at
    the lowest similarity read: they are no nearer than that.
    """
    s = np.asarray(similarities, dtype=np.float64)
    codes = np.asarray(labels, dtype=np.int64)
    if s.shape != codes.shape or s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"similarities {s.shape} and labels {codes.shape} must be the same (tickets, neighbours)")
    order = np.argsort(-s, axis=1, kind="stable")
    s = np.take_along_axis(s, order, axis=1)
    codes = np.take_along_axis(codes, order, axis=1)
    valid = np.isfinite(s) & (codes >= 0)
    s = np.where(valid, s, -1.0)
    codes = np.where(valid, codes, 0)
    n, width = s.shape
    n_labels = int(codes.max()) + 1
    rows = np.repeat(np.arange(n), width).reshape(n, width)
    # Rank of each neighbour among those of its own label (0 for the label's nearest): a stable sort by
    # (ticket, label) keeps the similarity order within each group. Missing neighbours get keys of their own.
    keys = np.where(valid, rows * n_labels + codes, n * n_labels + np.arange(n * width).reshape(n, width)).ravel()
    by_group = np.argsort(keys, kind="stable")
    grouped = keys[by_group]
    starts = np.r_[True, grouped[1:] != grouped[:-1]]
    positions = np.arange(len(grouped))
    flat_rank = np.empty(len(grouped), dtype=np.int64)
    flat_rank[by_group] = positions - np.maximum.accumulate(np.where(starts, positions, 0))
    keep = valid & (flat_rank.reshape(n, width) < _LABEL_NEAREST)
    sums = np.zeros((n, n_labels))
    counts = np.zeros((n, n_labels))
    np.add.at(sums, (rows[keep], codes[keep]), s[keep])
    np.add.at(counts, (rows[keep], codes[keep]), 1.0)
    floor = np.where(valid, s, np.inf).min(axis=1, initial=np.inf)
    floor = np.where(np.isfinite(floor), floor, -1.0)
    per_label = np.where(counts > 0, (sums + (_LABEL_NEAREST - counts) * floor[:, None]) / _LABEL_NEAREST, -1.0)
    ranked = -np.sort(-per_label, axis=1)
    second = ranked[:, 1] if n_labels > 1 else np.full(n, -1.0)
    voters = valid[:, :_VOTERS]
    weights = np.where(voters, np.exp((s[:, :_VOTERS] - s[:, :1]) / _VOTE_TEMPERATURE), 0.0)
    votes = np.zeros((n, n_labels))
    np.add.at(votes, (rows[:, :_VOTERS], codes[:, :_VOTERS]), weights)
    share = votes.max(axis=1) / np.maximum(votes.sum(axis=1), 1e-12)
    return np.column_stack(
        [
            s[:, 0],
            similarity_score(np.where(valid, s, -np.inf), 5),
            similarity_score(np.where(valid, s, -np.inf), 10),
            ranked[:, 0],
            ranked[:, 0] - second,
            share,
        ]
    )


def _nearest(
    queries: NDArray[np.float32], reference: NDArray[np.float32], labels: NDArray[np.int64], width: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Similarities and labels of each query's ``width`` nearest reference tickets (exact, by matrix product)."""
    s = queries @ reference.T
    width = min(width, s.shape[1])
    if width < s.shape[1]:
        idx = np.argpartition(-s, width - 1, axis=1)[:, :width]
    else:
        idx = np.broadcast_to(np.arange(s.shape[1]), s.shape)
    return np.take_along_axis(s, idx, axis=1).astype(np.float64), labels[idx]


class NoveltyDetector:
    """Flags tickets whose nearest training tickets are all far away; fitted inside the classifier's folds."""

    def __init__(
        self,
        *,
        k: int = 5,
        left_out_share: float = 0.15,
        max_familiar: float = 0.06,
        random_state: int = 0,
        search: int = SEARCH,
    ):
        if k < 1:
            raise ValueError(f"the novelty detector needs k >= 1 neighbours, got {k}")
        if not 0.0 < left_out_share < 1.0:
            raise ValueError(f"left_out_share must lie between 0 and 1, got {left_out_share}")
        if not 0.0 < max_familiar < 1.0:
            raise ValueError(f"max_familiar must lie between 0 and 1, got {max_familiar}")
        if search < max(k, _VOTERS):
            raise ValueError(f"search must read at least {max(k, _VOTERS)} neighbours, got {search}")
        self.k = k
        self.left_out_share = left_out_share
        self.max_familiar = max_familiar
        self.random_state = random_state
        self.search = search

    @property
    def neighbours_needed(self) -> int:
        """How many nearest training tickets (with their labels) ``verdicts`` reads."""
        return self.search if self._weights() is not None else self.k

    @property
    def reads_confidence(self) -> bool:
        """Whether ``verdicts`` reads the classifier's confidence in its decided label (``confidence=``)."""
        return getattr(self, "confidence_weight_", None) is not None

    def _weights(self) -> NDArray[np.float64] | None:
        # Detectors saved before the learnt score existed have no weights: they keep the plain mean similarity.
        return getattr(self, "weights_", None)

    def __getstate__(self) -> dict[str, object]:
        # The inner folds' scores serve ``use_confidence`` during training only: they are not saved.
        state = dict(self.__dict__)
        state.pop("_fold_scores", None)
        return state

    def fit(
        self,
        vectors: NDArray[np.floating],
        y: NDArray[np.int64],
        folds: Sequence[tuple[NDArray[np.int64], NDArray[np.int64]]],
    ) -> NoveltyDetector:
        """Choose the score and its threshold from the inner folds, each with a random share of labels left out.

        ``vectors`` are unit-length sentence embeddings of the training tickets, ``y`` their label indices.
        ``threshold_`` stays None (nothing is ever flagged) when the folds hold too few tickets to choose it.
        """
        v = np.asarray(vectors, dtype=np.float32)
        labels = np.asarray(y, dtype=np.int64)
        rng = np.random.default_rng(self.random_state)
        parts: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]] = []
        held: list[NDArray[np.int64]] = []
        for train, held_out in folds:
            present = np.unique(labels[train])
            if len(present) < 2:
                continue
            n_out = min(len(present) - 1, max(1, round(self.left_out_share * len(present))))
            out = rng.choice(present, size=n_out, replace=False)
            reference = train[~np.isin(labels[train], out)]
            if len(reference) == 0 or len(held_out) == 0:
                continue
            similarities, codes = _nearest(v[held_out], v[reference], labels[reference], self.search)
            plain = similarity_score(np.sort(similarities, axis=1)[:, ::-1], self.k)
            parts.append((neighbour_features(similarities, codes), plain, np.isin(labels[held_out], out)))
            held.append(np.asarray(held_out, dtype=np.int64))
        self.threshold_: float | None = None
        self.expected_recall_: float | None = None
        self.expected_familiar_: float | None = None
        self.weights_: NDArray[np.float64] | None = None
        self.center_: NDArray[np.float64] | None = None
        self.scale_: NDArray[np.float64] | None = None
        self.intercept_ = 0.0
        self.confidence_weight_: float | None = None
        self._fold_scores: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]] | None = None
        if not parts:
            return self
        is_new = np.concatenate([new for _, _, new in parts])
        n_new, n_known = int(is_new.sum()), int((~is_new).sum())
        if n_known < MIN_FAMILIAR or n_new < MIN_NOVEL:
            return self
        if n_known >= MIN_LEARN_FAMILIAR and n_new >= MIN_LEARN_NOVEL and len(parts) >= 2:
            features = [(x, new) for x, _, new in parts]
            scores = self._cross_fitted(features)
            self._learn(np.concatenate([x for x, _ in features]), is_new)
        else:
            scores = np.concatenate([plain for _, plain, _ in parts])
        known, new = scores[~is_new], scores[is_new]
        threshold = choose_threshold(known, new, self.max_familiar)
        self.threshold_ = threshold
        self.expected_recall_ = float((new < threshold).mean())
        self.expected_familiar_ = float((known < threshold).mean())
        if self.weights_ is not None:
            self._fold_scores = (np.concatenate(held), scores, is_new)
        return self

    def use_confidence(
        self, confidence: NDArray[np.floating], routed: NDArray[np.bool_], *, weight: float = CONFIDENCE_WEIGHT
    ) -> NoveltyDetector:
        """Add the classifier's confidence to the learnt score, and choose the threshold on what it costs.

        ``confidence`` is the classifier's held-out confidence in its decided label for each training ticket
        (rows as the ``vectors`` given to ``fit``: from the same inner folds), ``routed`` whether the abstention
        threshold would route it automatically. The score becomes a weighted sum of the learnt neighbour score
        and the confidence's log-odds, each standardised over the familiar tickets of the inner folds; the
        threshold flags at most ``max_familiar`` of the familiar tickets that would be routed (flagging a ticket
        that is abstained on anyway costs nothing). Only familiar tickets' confidences are read: the stand-in new
        topics were seen by the classifier's folds, so their confidences say nothing honest about new topics,
        and the weight is fixed (see the module docstring) rather than learnt on them. Without the learnt score,
        or with too few familiar tickets routed, the detector is left as ``fit`` made it.
        """
        fold_scores = getattr(self, "_fold_scores", None)
        self._fold_scores = None
        if fold_scores is None or self.threshold_ is None:
            return self
        if not 0.0 < weight < 1.0:
            raise ValueError(f"the confidence's weight must lie between 0 and 1, got {weight}")
        index, scores, is_new = fold_scores
        odds = _log_odds(np.asarray(confidence, dtype=np.float64)[index])
        counted = ~is_new & np.asarray(routed, dtype=bool)[index]
        if counted.sum() < MIN_LEARN_FAMILIAR:
            return self
        familiar = ~is_new
        self.score_center_, self.score_scale_ = _centre_and_scale(scores[familiar])
        self.confidence_center_, self.confidence_scale_ = _centre_and_scale(odds[familiar])
        self.confidence_weight_ = weight
        combined = self._combined(scores, odds)
        known = np.sort(combined[counted])
        # Flagged when strictly below: the threshold is the familiar score that lets at most max_familiar under.
        threshold = float(known[min(int(np.floor(self.max_familiar * len(known))), len(known) - 1)])
        self.threshold_ = threshold
        self.expected_recall_ = float((combined[is_new] < threshold).mean())
        self.expected_familiar_ = float((combined[counted] < threshold).mean())
        return self

    def _combined(self, scores: NDArray[np.float64], odds: NDArray[np.float64]) -> NDArray[np.float64]:
        weight = self.confidence_weight_
        assert weight is not None
        return np.asarray(
            (1.0 - weight) * (scores - self.score_center_) / self.score_scale_
            + weight * (odds - self.confidence_center_) / self.confidence_scale_,
            dtype=np.float64,
        )

    def _cross_fitted(self, parts: list[tuple[NDArray[np.float64], NDArray[np.bool_]]]) -> NDArray[np.float64]:
        """Each fold's tickets scored by weights learnt on the other folds, for an honest threshold."""
        out = []
        for i, (x, _) in enumerate(parts):
            others = [p for j, p in enumerate(parts) if j != i]
            target = np.concatenate([new for _, new in others])
            if target.all() or not target.any():
                self._learn(np.concatenate([f for f, _ in parts]), np.concatenate([new for _, new in parts]))
            else:
                self._learn(np.concatenate([f for f, _ in others]), target)
            out.append(self._learnt_score(x))
        return np.concatenate(out)

    def _learn(self, x: NDArray[np.float64], is_new: NDArray[np.bool_]) -> None:
        from sklearn.linear_model import LogisticRegression

        center = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        # Balanced: stand-in new topics are a small share of the held-out tickets, yet the score is about them.
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit((x - center) / scale, is_new.astype(np.int64))
        # Stored as plain arrays: the saved model holds no scikit-learn estimator for the detector.
        self.center_, self.scale_ = center, scale
        self.weights_ = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept_ = float(model.intercept_[0])

    def _learnt_score(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        # Negated log-odds of being new: higher is more familiar, as the plain mean similarity.
        assert self.weights_ is not None and self.center_ is not None and self.scale_ is not None
        return np.asarray(-(((x - self.center_) / self.scale_) @ self.weights_ + self.intercept_), dtype=np.float64)

    def verdicts(
        self,
        similarities: NDArray[np.floating],
        labels: NDArray[np.integer] | None = None,
        confidence: NDArray[np.floating] | None = None,
    ) -> list[NoveltyVerdict]:
        """Each ticket's verdict from its similarities to the nearest training tickets (rows: tickets).

        ``labels`` (same shape, the neighbours' label indices) are needed by the learnt score; without them the
        plain mean similarity is read, which suits only a detector that learnt none. ``confidence`` (the
        classifier's probability of its decided label, one per ticket) is needed when ``reads_confidence``.
        """
        s = np.asarray(similarities, dtype=np.float64)
        if len(s) == 0:
            return []
        if self._weights() is not None:
            if labels is None:
                raise ValueError("this novelty detector reads its neighbours' labels: pass labels=")
            scores = self._learnt_score(neighbour_features(s, np.asarray(labels)))
            if self.reads_confidence:
                if confidence is None:
                    raise ValueError("this novelty detector reads the classifier's confidence: pass confidence=")
                odds = _log_odds(np.asarray(confidence, dtype=np.float64))
                if odds.shape != scores.shape:
                    raise ValueError(f"{len(scores)} tickets but {odds.size} confidences")
                scores = self._combined(scores, odds)
        else:
            scores = similarity_score(s, self.k)
        nearest = np.where(np.isfinite(s), s, -1.0).max(axis=1)
        threshold = self.threshold_
        return [
            NoveltyVerdict(novel=threshold is not None and score < threshold, score=float(score), nearest=float(best))
            for score, best in zip(scores, nearest, strict=True)
        ]


def _log_odds(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log-odds of probabilities, clipped away from 0 and 1 (a probability of 1 reads as very sure, not infinite)."""
    q = np.clip(p, _ODDS_EPS, 1.0 - _ODDS_EPS)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


def _centre_and_scale(x: NDArray[np.float64]) -> tuple[float, float]:
    scale = float(x.std())
    return float(x.mean()), scale if scale > 0 else 1.0


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
