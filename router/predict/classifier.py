"""TicketClassifier: a label (queue, priority, type, intent) from ticket text, with a confidence to trust.

What it learns, for any label column:

1. Features: word and character n-gram TF-IDF plus the sentence embedding (:mod:`router.predict.text_features`).
2. Scorers over those features: pairwise SVMs and kernel ridge regression through the ticket-similarity
   kernel (one-vs-rest linear SVMs instead above ``kernel_limit`` tickets, or as well when asked), an
   attention network over the encoder's token embeddings (:mod:`router.predict.attention`; from
   ``attention_min_tickets`` training tickets, 300 by default: below, it adds nothing), and the votes
   of the most similar past tickets from the vector index (:mod:`router.predict.neighbours`).
3. Inner cross-validation on the training tickets only (five folds up to 5,000 tickets, three above): the
   embedding's weight in the kernel and each scorer's C (or ridge penalty) are chosen on out-of-fold accuracy;
   the out-of-fold scores then fit the blend (evidence weights and one bias per label) that turns them into
   calibrated probabilities, and the abstention threshold that keeps automatic routing at the target precision.
   Neighbour votes in a fold come from that fold's training part only, so no ticket ever finds itself.
4. The chosen scorers are refitted on all training tickets.
5. A novelty detector (:mod:`router.predict.novelty`) learns, inside the same inner folds with some labels
   left out, how far a ticket of an unseen topic lies from its nearest training tickets and how their labels
   scatter (with enough tickets it reads the 100 nearest and their labels from the index, and with enough
   tickets routed it adds the held-out confidence of step 3 and counts its cost on those only); such a ticket
   is abstained on with its own reason (``TextPrediction.novel``), whatever its confidence. It changes no
   probability and no label: on tickets it does not flag, accuracy and calibration are those without it.

Only text known when a ticket arrives is read: subject and body.

Languages the sentence encoder was not trained on (``encoder_languages``; all-MiniLM-L6-v2 knows English) get
their own treatment when the training tickets hold enough of them (detected with lingua): the kernel leaves
their embeddings out (their n-grams carry them), and the blend is fitted apart for them, so that evidence
that misleads on other languages (embedding neighbours, the attention network) counts less there. Measured by
5-fold cross-validation × 3 on the support-ticket queue (``deskroute eval classify``, tfidf baseline 43.1%):
43.4% → 44.1%; German tickets 37.3% → 39.4%, French 49.2% → 51.8%, English unchanged at 43.5%.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from embeddings import TicketText, prepare_ticket_text
from policies.figures import distinct_figures
from router.predict.abstention import threshold_for_precision
from router.predict.attention import AttentionHead, TokenMatrix
from router.predict.calibration import ScoreBlend
from router.predict.classifier_metrics import classification_metrics
from router.predict.decision import balanced_weights, check_decision, decide, decision_for
from router.predict.neighbours import NeighbourVote
from router.predict.novelty import NoveltyDetector, NoveltyVerdict
from router.predict.scorers import KernelRidge, OneVsRestSVM, PairwiseSVM, Scores
from router.predict.text_features import GramColumns, TicketFeatures, TicketMatrix, gram_columns

if TYPE_CHECKING:
    from embeddings import Encoder
    from router.store.model_registry import StoredModel


MODEL_KIND = "text"
SCORERS = ("pairwise", "ridge", "linear", "attention", "neighbours")
DEFAULT_SCORERS = ("pairwise", "ridge", "attention", "neighbours")
# TF-IDF reads at most this much of a ticket: a pasted log adds nothing after its first pages.
MAX_TEXT_CHARS = 20_000
MIN_TICKETS = 10
# A neighbour vote of zero for a label becomes this log-score: "no similar ticket had it", not "impossible".
_VOTE_FLOOR = 0.01
# Tickets in languages the encoder does not know are treated apart only when there are enough of them (and of
# the others) for a blend of their own: misdetected short texts in an English dataset stay with the rest.
_MIN_GROUP = 100
_MIN_FOREIGN_SHARE = 0.05
# Inner folds when not set: on few tickets, five folds give held-out scores from models trained on 80% of them,
# nearer the final model than 67% and so a better fit for the blend and the choices (support-ticket queue,
# 5-fold x 3 CV, 3,348 tickets: 44.1% -> 44.4%); on many, three keep training within two minutes on two cores.
_SMALL_DATA = 5_000
_INNER_FOLDS_SMALL, _INNER_FOLDS_LARGE = 5, 3


@dataclass(frozen=True)
class NeighbourTicket:
    """A similar training ticket: its id, cosine similarity and label."""

    ticket_id: str
    score: float
    label: str


@dataclass(frozen=True)
class TextPrediction:
    """One ticket's predicted label with its calibrated probability, alternatives and abstention verdict.

    ``top_k`` lists the most probable labels; ``label`` is the one to act on, which for a balanced decision
    (priority levels) can be a less probable but rarer level than ``top_k[0]``.
    """

    label: str
    probability: float
    top_k: tuple[tuple[str, float], ...]
    abstained: bool
    abstain_reason: str | None = None
    neighbours: tuple[NeighbourTicket, ...] = ()
    model_version: str | None = None
    novel: bool = False  # abstained because the ticket is unlike every training ticket (not for low confidence)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "label": self.label,
            "probability": round(self.probability, 4),
            "top_k": [{"label": label, "probability": round(p, 4)} for label, p in self.top_k],
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "novel": self.novel,
            "neighbours": [
                {"ticket_id": n.ticket_id, "score": round(n.score, 4), "label": n.label} for n in self.neighbours
            ],
            "model_version": self.model_version,
        }


def ticket_text(subject: str | None, body: str | None) -> str:
    """The text a classifier's n-gram features read: subject and body, HTML, quotes and signature removed."""
    return prepare_ticket_text(subject, body, max_chars=MAX_TEXT_CHARS)


@dataclass
class _OutOfFold:
    """Held-out scores of every candidate, collected over the inner folds."""

    n: int
    scores: dict[str, list[NDArray[np.float64]]] = field(default_factory=dict)

    def put(self, key: str, rows: NDArray[np.int64], blocks: Scores) -> None:
        if key not in self.scores:
            self.scores[key] = [np.zeros((self.n, b.shape[1])) for b in blocks]
        for store, block in zip(self.scores[key], blocks, strict=True):
            store[rows] = block

    def accuracy(self, key: str, y: NDArray[np.int64]) -> float:
        """Share of tickets whose held-out scores under ``key`` put the true label first."""
        return float((_primary(self.scores[key]).argmax(axis=1) == y).mean())


def _primary(blocks: Scores) -> NDArray[np.float64]:
    # Votes tie often among many labels: the margins (second block, when there is one) break the ties.
    return blocks[0] + 1e-3 * blocks[1] if len(blocks) > 1 else blocks[0]


class TicketClassifier:
    """Predicts one label column from ticket text; an estimator in scikit-learn's manner (``fit`` → ``self``).

    Parameters are set in ``__init__``; learnt state ends in ``_``. ``predict_tickets`` is what the engine
    calls; ``predict_proba`` returns calibrated probabilities over ``classes_``.
    """

    def __init__(
        self,
        *,
        target: str = "label",
        scorers: Sequence[str] = DEFAULT_SCORERS,
        pairwise_c: Sequence[float] = (1.0, 3.0, 10.0),
        ridge_alpha: Sequence[float] = (0.3, 3.0),
        embedding_weights: Sequence[float] = (0.25, 0.5, 1.0),
        linear_c: Sequence[float] = (0.1, 0.5),
        neighbours: int = 10,
        inner_folds: int | None = None,
        target_precision: float = 0.9,
        top_k: int = 3,
        kernel_limit: int = 12_000,
        random_state: int = 0,
        label_bias: bool = True,
        encoder_languages: Sequence[str] = ("en",),
        decision: str = "auto",
        detect_novelty: bool = True,
        attention_min_tickets: int = 300,
    ):
        unknown = set(scorers) - set(SCORERS)
        if unknown or not set(scorers) & {"pairwise", "linear"}:
            raise ValueError(
                "scorers must include 'pairwise' or 'linear' and may add 'ridge', 'attention' and 'neighbours'; "
                f"got {list(scorers)}"
            )
        if not ridge_alpha or min(ridge_alpha) <= 0:
            raise ValueError("ridge_alpha needs at least one value, each above zero")
        if not pairwise_c or not embedding_weights or min(embedding_weights) < 0:
            raise ValueError("pairwise_c and embedding_weights need at least one value; weights are not negative")
        if inner_folds is not None and inner_folds < 2:
            raise ValueError(f"inner_folds must be at least 2 (or unset: chosen by the data's size), got {inner_folds}")
        check_decision(decision)  # an unknown rule is refused before any work
        if not 0.0 < target_precision < 1.0:
            raise ValueError(f"target precision must lie between 0 and 1, got {target_precision}")
        self.target = target
        self.scorers = tuple(scorers)
        self.pairwise_c = tuple(pairwise_c)
        self.ridge_alpha = tuple(ridge_alpha)
        self.embedding_weights = tuple(embedding_weights)
        self.linear_c = tuple(linear_c)
        self.neighbours = neighbours
        self.inner_folds = inner_folds
        self.target_precision = target_precision
        self.top_k = top_k
        self.kernel_limit = kernel_limit
        self.random_state = random_state
        self.label_bias = label_bias
        self.encoder_languages = tuple(encoder_languages)
        self.decision = decision
        self.detect_novelty = detect_novelty
        self.attention_min_tickets = attention_min_tickets
        self.version_: str | None = None
        self._encoder: Encoder | None = None
        self._reference_columns: tuple[TicketMatrix, GramColumns] | None = None

    # ------------------------------------------------------------------------------------------ state
    def __getstate__(self) -> dict[str, Any]:
        # The encoder is a loaded neural network: it is never saved with the classifier, only its model id.
        state = dict(self.__dict__)
        state["_encoder"] = None
        state.pop("_reference_columns", None)  # derived from reference_ on first use (see _columns_of)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._encoder = None
        self._reference_columns = None

    def attach_encoder(self, encoder: Encoder) -> None:
        """Use this encoder (with its cache) for new tickets; it must be the model the classifier learnt with."""
        expected = getattr(self, "encoder_model_id_", None)
        if expected is not None and encoder.model_id != expected:
            raise ValueError(
                f"the {self.target} model was trained with embeddings from {expected}, but the configured "
                f"encoder is {encoder.model_id}: set embeddings.model to {expected} or train the model again"
            )
        self._encoder = encoder

    def encoder(self) -> Encoder:
        """The encoder for new tickets (the model the classifier learnt with, loaded on first use)."""
        if self._encoder is None:
            from embeddings import Encoder

            model = getattr(self, "encoder_model_id_", None)
            self.attach_encoder(Encoder(model, max_seq_length=getattr(self, "encoder_window_", None)))
        assert self._encoder is not None
        return self._encoder

    # -------------------------------------------------------------------------------------------- fit
    def fit(
        self,
        tickets: Sequence[TicketText],
        labels: Sequence[str],
        *,
        vectors: NDArray[np.floating] | None = None,
        tokens: Sequence[TokenMatrix] | None = None,
        ids: Sequence[str] | None = None,
        encoder: Encoder | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> TicketClassifier:
        """Learn from tickets' (subject, body) and their labels.

        ``vectors`` (and ``tokens``, for the attention scorer) are the tickets' embeddings when already
        computed (``encoder.encode_tickets_with_tokens(tickets)``); otherwise ``encoder`` (or the default
        model) computes them. ``ids`` name the tickets for the neighbour evidence (default: their positions).
        """
        started = time.perf_counter()
        say = on_step or (lambda message: None)
        labels = [str(label) for label in labels]
        if len(tickets) != len(labels):
            raise ValueError(f"{len(tickets)} tickets but {len(labels)} labels")
        if len(tickets) < MIN_TICKETS:
            raise ValueError(f"training needs at least {MIN_TICKETS} labelled tickets, got {len(tickets)}")
        classes, y = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"the label '{self.target}' has only one value ({classes[0]!r}) in the training data: "
                "a classifier needs at least two"
            )
        self.classes_ = [str(c) for c in classes]
        y = y.astype(np.int64)
        n_classes = len(self.classes_)
        # Known before any scorer is fitted: a balanced decision also trains the SVMs with balanced label costs.
        self.decision_ = decision_for(self.classes_, self.decision)
        balanced = self.decision_ == "balanced"
        if encoder is not None:
            self._encoder = encoder
        # The attention network learns which tokens matter from many examples; on a few hundred tickets it adds
        # nothing the kernel models do not already know and costs ~98% of the fit (held-out accuracy, 3 random
        # splits: bank sample 80 tickets 78.9% with it vs 78.6% without, 250: 89.4 vs 89.9, 560: 95.2 vs 94.7;
        # support sample 80: 28.3 vs 28.8), so it joins the blend from ``attention_min_tickets`` tickets.
        self.uses_attention_ = "attention" in self.scorers and len(tickets) >= self.attention_min_tickets
        if vectors is None or (self.uses_attention_ and tokens is None):
            say("encoding ticket text")
        vectors, tokens = self._encoded(tickets, vectors, tokens)
        if len(vectors) != len(tickets) or (tokens is not None and len(tokens) != len(tickets)):
            raise ValueError(f"{len(tickets)} tickets but {len(vectors)} embedding vectors")
        active = self._encoder
        self.encoder_model_id_ = active.model_id if active is not None else "unknown"
        self.encoder_window_ = active.max_seq_length if active is not None else None
        ticket_ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(tickets))]
        if len(set(ticket_ids)) != len(ticket_ids):
            raise ValueError("ticket ids must be unique")

        say("learning n-gram vocabularies")
        texts = [ticket_text(s, b) for s, b in tickets]
        self.features_ = TicketFeatures()
        matrix = self.features_.fit_transform(texts, vectors)
        say("detecting languages")
        native = self._native(texts)
        foreign = int((~native).sum())
        self.language_aware_ = (
            foreign >= max(_MIN_GROUP, _MIN_FOREIGN_SHARE * len(texts)) and len(texts) - foreign >= _MIN_GROUP
        )
        self.uses_kernel_ = "pairwise" in self.scorers and len(texts) <= self.kernel_limit
        self.uses_ridge_ = self.uses_kernel_ and "ridge" in self.scorers
        self.uses_linear_ = "linear" in self.scorers or not self.uses_kernel_
        self.uses_neighbours_ = "neighbours" in self.scorers
        folds = self._inner_folds(y)
        self.novelty_: NoveltyDetector | None = None
        if self.detect_novelty:
            say("choosing the novelty threshold with labels left out")
            self.novelty_ = NoveltyDetector(random_state=self.random_state).fit(vectors, y, folds)
        oof = _OutOfFold(len(texts))
        self.chosen_: dict[str, float] = {}
        blocks: Scores = []
        gram: NDArray[np.float64] | None = None
        # The attention network trains (PyTorch, both cores) while the kernel SVMs are fitted (libsvm, one
        # core): on 10,000 tickets that overlap keeps training within two minutes on two cores.
        pool = ThreadPoolExecutor(max_workers=1)
        attention = pool.submit(self._fit_attention, tokens, y, n_classes, folds) if tokens is not None else None
        pool.shutdown(wait=False)
        if self.uses_kernel_:
            gram = self._select_kernel(matrix, y, n_classes, folds, oof, say, native)
            blocks.extend(oof.scores["pairwise"])
        if gram is not None and self.uses_ridge_:
            self._select_ridge(gram, y, n_classes, folds, oof, say)
            blocks.extend(oof.scores["ridge"])
        # The stacked matrix is built after the kernel's choice: it carries the chosen embedding weight.
        stacked = self.features_.stacked(matrix) if self.uses_linear_ else None
        for number, (train, held_out) in enumerate(folds, start=1):
            if stacked is None and not self.uses_neighbours_:
                break
            say(f"inner cross-validation, fold {number} of {len(folds)}")
            if stacked is not None:
                for c in self.linear_c:
                    linear = OneVsRestSVM(c, balanced=balanced).fit(stacked[train], y[train], n_classes)
                    oof.put(f"linear:{c}", held_out, linear.scores(stacked[held_out], len(held_out)))
            if self.uses_neighbours_:
                vote = NeighbourVote(self.neighbours).fit(
                    [ticket_ids[i] for i in train], vectors[train], y[train], n_classes, self.encoder_model_id_
                )
                oof.put("neighbours", held_out, [np.log(vote.votes(vectors[held_out]) + _VOTE_FLOOR)])
        if stacked is not None:
            self.chosen_["linear"] = self._best(oof, "linear", self.linear_c, y)
            blocks.extend(oof.scores[f"linear:{self.chosen_['linear']}"])
        if self.uses_neighbours_:
            blocks.extend(oof.scores["neighbours"])
        self.attention_: AttentionHead | None = None
        if attention is not None:
            say("waiting for the attention network")
            held_out_scores, self.attention_ = attention.result()
            blocks.extend(held_out_scores)

        say("calibrating")
        self.blend_ = ScoreBlend(label_bias=self.label_bias).fit(blocks, y)
        self.group_blends_: tuple[ScoreBlend, ScoreBlend] | None = None
        if self.language_aware_:
            self.group_blends_ = (
                ScoreBlend(label_bias=self.label_bias).fit([b[native] for b in blocks], y[native]),
                ScoreBlend(label_bias=self.label_bias).fit([b[~native] for b in blocks], y[~native]),
            )
        held_out_p = self._blend(blocks, native)
        # Kept so a model stacked on this one (behaviour-aware urgency) learns from probabilities of tickets the
        # text model had not seen, as new tickets will be: in-sample ones would teach it to trust the words too much.
        self.held_out_proba_ = np.asarray(held_out_p, dtype=float)
        self.held_out_ids_ = list(ticket_ids)
        self.label_weights_ = balanced_weights(held_out_p, y) if balanced else None
        decided = self.decided(held_out_p)
        confidence = held_out_p[np.arange(len(y)), decided]
        correct = decided == y
        self.threshold_ = threshold_for_precision(confidence, correct, self.target_precision)
        if self.novelty_ is not None and self.threshold_ is not None:
            # The detector adds the held-out confidence to its score, and counts as cost only the familiar
            # tickets this threshold would route.
            self.novelty_.use_confidence(confidence, confidence >= self.threshold_)
        self.cv_metrics_ = classification_metrics(
            labels,
            held_out_p,
            self.classes_,
            target_precision=self.target_precision,
            abstention=True,
            threshold=self.threshold_,
            predicted=decided,
        )
        self.cv_metrics_["inner_folds"] = len(folds)

        say("fitting on all tickets")
        self.pairwise_: PairwiseSVM | None = None
        self.ridge_: KernelRidge | None = None
        self.linear_: OneVsRestSVM | None = None
        if gram is not None:
            self.pairwise_ = PairwiseSVM(self.chosen_["pairwise"], balanced=balanced).fit_gram(gram, y, n_classes)
            if self.uses_ridge_:
                self.ridge_ = KernelRidge(self.chosen_["ridge"]).fit_gram(gram, y, n_classes)
            del gram
            # New tickets are compared with every training ticket: ridge regression weighs them all.
            self.reference_ = matrix
            self.reference_native_ = native
        if stacked is not None:
            self.linear_ = OneVsRestSVM(self.chosen_["linear"], balanced=balanced).fit(stacked, y, n_classes)
        self.vote_ = NeighbourVote(self.neighbours).fit(ticket_ids, vectors, y, n_classes, self.encoder_model_id_)
        self.n_train_ = len(texts)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _best(self, oof: _OutOfFold, scorer: str, grid: Sequence[float], y: NDArray[np.int64]) -> float:
        """The grid value whose out-of-fold scores were most accurate (ties: the smaller value)."""
        accuracy = {c: oof.accuracy(f"{scorer}:{c}", y) for c in grid}
        return max(grid, key=lambda c: (accuracy[c], -c))

    def _select_kernel(
        self,
        matrix: TicketMatrix,
        y: NDArray[np.int64],
        n_classes: int,
        folds: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
        oof: _OutOfFold,
        say: Callable[[str], None],
        native: NDArray[np.bool_],
    ) -> NDArray[np.float64]:
        """Choose the embedding's weight in the kernel, then C, on the inner folds; returns the chosen Gram.

        How much the sentence embedding should count depends on the label: it carries intents across
        paraphrases, while a ticket's type or a multilingual queue is read better from its words. The weight
        is chosen first at the first C of the grid, then C at that weight: two short searches instead of
        their product, which keeps training on 10,000 tickets within two minutes on two cores. With enough
        tickets in languages the encoder does not know (``language_aware_``), a pair's embedding part is left
        out wherever one of the two is in such a language: their n-grams carry them.
        """
        text, meaning = self.features_.gram_parts(matrix, matrix)
        if self.language_aware_:
            meaning *= np.outer(native, native)
        weights = tuple(dict.fromkeys(self.embedding_weights))
        first_c, *other_c = self.pairwise_c

        def try_candidates(weight: float, grid: Sequence[float], step: str) -> None:
            gram = self.features_.kernel(text.copy(), meaning, weight)
            for number, (train, held_out) in enumerate(folds, start=1):
                say(f"inner cross-validation ({step}), fold {number} of {len(folds)}")
                inner, outer = gram[np.ix_(train, train)], gram[np.ix_(held_out, train)]
                for c in grid:
                    model = PairwiseSVM(c, balanced=self.decision_ == "balanced").fit_gram(inner, y[train], n_classes)
                    oof.put(f"kernel:{weight}:{c}", held_out, model.scores_gram(outer))

        for weight in weights:
            try_candidates(weight, [first_c], f"embedding weight {weight}")
        accuracy = {w: oof.accuracy(f"kernel:{w}:{first_c}", y) for w in weights}
        weight = max(weights, key=lambda w: (accuracy[w], w))  # ties: the embedding, which generalises
        if other_c:
            try_candidates(weight, other_c, f"C at embedding weight {weight}")
        for c in self.pairwise_c:
            oof.scores[f"pairwise:{c}"] = oof.scores[f"kernel:{weight}:{c}"]
        best_c = self._best(oof, "pairwise", self.pairwise_c, y)
        oof.scores["pairwise"] = oof.scores[f"pairwise:{best_c}"]
        self.chosen_["pairwise"] = best_c
        self.chosen_["embedding_weight"] = weight
        self.features_.embedding_weight = weight
        return self.features_.kernel(text, meaning, weight)

    def _select_ridge(
        self,
        gram: NDArray[np.float64],
        y: NDArray[np.int64],
        n_classes: int,
        folds: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
        oof: _OutOfFold,
        say: Callable[[str], None],
    ) -> None:
        """Choose the ridge penalty on the inner folds, over the kernel the SVMs chose."""
        for number, (train, held_out) in enumerate(folds, start=1):
            say(f"inner cross-validation (ridge), fold {number} of {len(folds)}")
            inner, outer = gram[np.ix_(train, train)], gram[np.ix_(held_out, train)]
            for alpha in self.ridge_alpha:
                model = KernelRidge(alpha).fit_gram(inner, y[train], n_classes)
                oof.put(f"ridge:{alpha}", held_out, model.scores_gram(outer))
        self.chosen_["ridge"] = self._best(oof, "ridge", self.ridge_alpha, y)
        oof.scores["ridge"] = oof.scores[f"ridge:{self.chosen_['ridge']}"]

    def _fit_attention(
        self,
        tokens: Sequence[TokenMatrix],
        y: NDArray[np.int64],
        n_classes: int,
        folds: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
    ) -> tuple[Scores, AttentionHead]:
        """The attention network's held-out scores over the inner folds, and the network fitted on all tickets."""
        oof = _OutOfFold(len(y))
        for train, held_out in folds:
            head = AttentionHead(random_state=self.random_state).fit([tokens[i] for i in train], y[train], n_classes)
            oof.put("attention", held_out, head.scores([tokens[i] for i in held_out]))
        return oof.scores["attention"], AttentionHead(random_state=self.random_state).fit(tokens, y, n_classes)

    def _native(self, texts: Sequence[str]) -> NDArray[np.bool_]:
        """Whether each text is in a language the encoder knows (or in none detected: nothing to correct)."""
        from router.predict.language_detection import default_detector

        known = set(self.encoder_languages)
        found = default_detector().detect_many(texts)
        return np.array([language is None or language.code in known for language in found], dtype=bool)

    def _reference_gram(
        self, matrix: TicketMatrix, reference: TicketMatrix, native: NDArray[np.bool_] | None
    ) -> NDArray[np.float64]:
        """The kernel between new tickets and the training tickets (see ``_select_kernel``)."""
        text, meaning = self.features_.gram_parts(matrix, reference, self._columns_of(reference))
        if native is not None:
            meaning *= np.outer(native, self.reference_native_)
        return self.features_.kernel(text, meaning, self.features_.embedding_weight)

    def _columns_of(self, reference: TicketMatrix) -> GramColumns:
        """The training tickets' transposed n-gram blocks, computed on the first prediction and kept (never saved)."""
        cached: tuple[TicketMatrix, GramColumns] | None = getattr(self, "_reference_columns", None)
        if cached is None or cached[0] is not reference:
            cached = (reference, gram_columns(reference))
            self._reference_columns = cached
        return cached[1]

    def _blend(self, blocks: Scores, native: NDArray[np.bool_] | None) -> NDArray[np.float64]:
        """Calibrated probabilities: each language group through its own blend when there are two."""
        groups: tuple[ScoreBlend, ScoreBlend] | None = getattr(self, "group_blends_", None)
        if groups is None or native is None:
            return self.blend_.transform(blocks)
        out = np.empty((len(blocks[0]), len(self.classes_)))
        for blend, rows in zip(groups, (native, ~native), strict=True):
            if rows.any():
                out[rows] = blend.transform([b[rows] for b in blocks])
        return out

    def _inner_folds(self, y: NDArray[np.int64]) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        from sklearn.model_selection import StratifiedKFold

        wanted = self.inner_folds
        if wanted is None:
            wanted = _INNER_FOLDS_SMALL if len(y) <= _SMALL_DATA else _INNER_FOLDS_LARGE
        splits = max(2, min(wanted, len(y) // 2))
        folds = StratifiedKFold(splits, shuffle=True, random_state=self.random_state)
        with warnings.catch_warnings():
            # A label with fewer tickets than folds is simply absent from some folds' training part.
            warnings.simplefilter("ignore", UserWarning)
            return [(np.asarray(a), np.asarray(b)) for a, b in folds.split(np.zeros(len(y)), y)]

    # ---------------------------------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "blend_"):
            raise ValueError("this classifier is not fitted yet: call fit() or load a saved model")

    @property
    def needs_tokens(self) -> bool:
        """Whether the classifier reads the encoder's token embeddings (pass ``tokens=`` with ``vectors=``)."""
        return bool(getattr(self, "uses_attention_", "attention" in self.scorers))

    def _encoded(
        self,
        tickets: Sequence[TicketText],
        vectors: NDArray[np.floating] | None,
        tokens: Sequence[TokenMatrix] | None,
    ) -> tuple[NDArray[np.float32], Sequence[TokenMatrix] | None]:
        """The tickets' vectors, and their token embeddings when the attention scorer reads them."""
        if not self.needs_tokens:
            tokens = None
        elif tokens is None:
            # One pass through the model gives both; vectors passed in are the same numbers.
            encoded, tokens = self.encoder().encode_tickets_with_tokens(list(tickets))
            vectors = encoded if vectors is None else vectors
        if vectors is None:
            vectors = self.encoder().encode_tickets(list(tickets))
        return np.asarray(vectors, dtype=np.float32), tokens

    def _blocks(
        self, matrix: TicketMatrix, tokens: Sequence[TokenMatrix] | None, native: NDArray[np.bool_] | None = None
    ) -> Scores:
        blocks: Scores = []
        reference: TicketMatrix | None = getattr(self, "reference_", None)  # older models: support tickets only
        if self.pairwise_ is not None and reference is not None:
            gram = self._reference_gram(matrix, reference, native)
            blocks.extend(self.pairwise_.scores_gram(gram))
            ridge: KernelRidge | None = getattr(self, "ridge_", None)
            if ridge is not None:
                blocks.extend(ridge.scores_gram(gram))
        elif self.pairwise_ is not None:
            blocks.extend(self.pairwise_.scores(self.features_, matrix))
        if self.linear_ is not None:
            blocks.extend(self.linear_.scores(self.features_.stacked(matrix), len(matrix)))
        if self.uses_neighbours_:
            blocks.append(np.log(self.vote_.votes(matrix.vectors).astype(np.float64) + _VOTE_FLOOR))
        attention: AttentionHead | None = getattr(self, "attention_", None)
        if attention is not None:
            assert tokens is not None
            blocks.extend(attention.scores(tokens))
        return blocks

    def _probabilities(
        self,
        tickets: Sequence[TicketText],
        vectors: NDArray[np.floating] | None,
        tokens: Sequence[TokenMatrix] | None,
    ) -> tuple[NDArray[np.float64], TicketMatrix]:
        vectors, tokens = self._encoded(tickets, vectors, tokens)
        texts = [ticket_text(s, b) for s, b in tickets]
        matrix = self.features_.transform(texts, vectors)
        native = self._native(texts) if getattr(self, "language_aware_", False) else None
        return self._blend(self._blocks(matrix, tokens, native), native), matrix

    def predict_proba(
        self,
        tickets: Sequence[TicketText],
        *,
        vectors: NDArray[np.floating] | None = None,
        tokens: Sequence[TokenMatrix] | None = None,
    ) -> NDArray[np.float64]:
        """Calibrated probabilities, (tickets, classes_)."""
        self._check_fitted()
        if len(tickets) == 0:
            return np.zeros((0, len(self.classes_)))
        return self._probabilities(tickets, vectors, tokens)[0]

    def decided(self, probabilities: NDArray[np.floating]) -> NDArray[np.int64]:
        """The label (index into ``classes_``) to act on for each row of probabilities.

        The most probable label, or for a balanced decision (priority levels, see
        :mod:`router.predict.decision`) the most probable after the label weights learnt in cross-validation.
        """
        return decide(probabilities, getattr(self, "label_weights_", None))

    def predict(
        self,
        tickets: Sequence[TicketText],
        *,
        vectors: NDArray[np.floating] | None = None,
        tokens: Sequence[TokenMatrix] | None = None,
    ) -> list[str]:
        """The label to act on for each ticket (see ``decided``)."""
        probabilities = self.predict_proba(tickets, vectors=vectors, tokens=tokens)
        return [self.classes_[i] for i in self.decided(probabilities)]

    def predict_tickets(
        self,
        subjects: Sequence[str | None],
        bodies: Sequence[str | None],
        *,
        vectors: NDArray[np.floating] | None = None,
        tokens: Sequence[TokenMatrix] | None = None,
        neighbours: int = 5,
    ) -> list[TextPrediction]:
        """Label, probability, top-k, abstention verdict and similar training tickets for each ticket."""
        self._check_fitted()
        if len(subjects) != len(bodies):
            raise ValueError(f"{len(subjects)} subjects but {len(bodies)} bodies")
        tickets = list(zip(subjects, bodies, strict=True))
        if not tickets:
            return []
        probabilities, matrix = self._probabilities(tickets, vectors, tokens)
        detector = self._detector()
        wanted = max(neighbours, detector.neighbours_needed if detector is not None else 0)
        hits = self.vote_.search(matrix.vectors, wanted) if wanted > 0 else [[] for _ in tickets]
        decided = self.decided(probabilities)
        verdicts = self._verdicts(hits, probabilities[np.arange(len(tickets)), decided])
        out = []
        for row, chosen, found, verdict in zip(probabilities, decided, hits, verdicts, strict=True):
            order = np.argsort(-row, kind="stable")[: max(self.top_k, 1)]
            best = float(row[chosen])
            abstained, reason = self._abstain(best)
            novel = verdict is not None and verdict.novel
            if novel:
                assert verdict is not None
                # Said before low confidence, which a new topic often has too: it is the reason to act on.
                reason = f"unlike anything seen before: nearest past ticket at similarity {verdict.nearest:.2f}"
                if detector is not None and detector.reads_confidence:
                    # The score weighs the model's confidence too: say both, so a reader sees what made it new.
                    reason += f", best label at {best:.0%}"
                abstained = True
            shown = found[: max(neighbours, 0)]
            codes = self.vote_.label_codes_of([ticket for ticket, _ in shown])
            out.append(
                TextPrediction(
                    label=self.classes_[chosen],
                    probability=best,
                    top_k=tuple((self.classes_[i], float(row[i])) for i in order),
                    abstained=abstained,
                    abstain_reason=reason,
                    neighbours=tuple(
                        NeighbourTicket(ticket, float(score), self.classes_[code])
                        for (ticket, score), code in zip(shown, codes, strict=True)
                    ),
                    model_version=self.version_,
                    novel=novel,
                )
            )
        return out

    def _detector(self) -> NoveltyDetector | None:
        # Models saved before the detector existed have none: they never flag a ticket as novel.
        return getattr(self, "novelty_", None)

    def _verdicts(
        self, hits: list[list[tuple[str, float]]], confidence: NDArray[np.floating] | None
    ) -> list[NoveltyVerdict | None]:
        detector = self._detector()
        if detector is None or not hits or not any(hits):
            return [None] * len(hits)
        width = max(len(found) for found in hits)
        similarities = np.full((len(hits), width), -np.inf)
        # The learnt novelty score reads the neighbours' labels too (-1 marks a missing neighbour).
        codes = np.full((len(hits), width), -1, dtype=np.int64)
        for i, found in enumerate(hits):
            similarities[i, : len(found)] = [score for _, score in found]
            codes[i, : len(found)] = self.vote_.label_codes_of([ticket for ticket, _ in found])
        return list(detector.verdicts(similarities, codes, confidence if detector.reads_confidence else None))

    def novelty_verdicts(
        self, vectors: NDArray[np.floating], confidence: NDArray[np.floating] | None = None
    ) -> list[NoveltyVerdict | None]:
        """Each ticket's novelty verdict from its sentence embedding (None when the model has no detector).

        ``confidence`` is the probability of the decided label for each ticket (``predict_proba`` then
        ``decided``), which a detector fitted with the classifier's confidence reads as well.
        """
        self._check_fitted()
        detector = self._detector()
        if detector is None:
            return [None] * len(vectors)
        hits = self.vote_.search(np.asarray(vectors, dtype=np.float32), detector.neighbours_needed)
        return self._verdicts(hits, confidence)

    def _abstain(self, probability: float) -> tuple[bool, str | None]:
        target = f"{self.target_precision:.0%}"
        if self.threshold_ is None:
            return True, f"in cross-validation no confidence level reached {target} precision for {self.target}"
        if probability < self.threshold_:
            shown, bound = distinct_figures(probability, self.threshold_)
            return True, (
                f"confidence {shown} is below {bound}, the threshold that kept {target} precision in cross-validation"
            )
        return False, None

    # -------------------------------------------------------------------------------------- registry
    def describe(self) -> dict[str, Any]:
        """What to record with a saved model: labels, choices, threshold, cross-validated figures."""
        self._check_fitted()
        return {
            "target": self.target,
            "labels": list(self.classes_),
            "n_train": self.n_train_,
            "encoder_model_id": self.encoder_model_id_,
            "encoder_window": self.encoder_window_,
            "scorers": [name for name, used in self._used().items() if used],
            "hyperparameters": dict(self.chosen_),
            "blend_weights": [float(w) for w in self.blend_.weights_],
            "language_aware": bool(getattr(self, "language_aware_", False)),
            "decision": getattr(self, "decision_", "accuracy"),
            "label_weights": self.label_weights(),
            "abstention_threshold": self.threshold_,
            "target_precision": self.target_precision,
            "novelty": self._describe_novelty(),
            "cv_metrics": self.cv_metrics_,
            "fit_seconds": round(self.fit_seconds_, 2),
        }

    def _describe_novelty(self) -> dict[str, Any] | None:
        detector = self._detector()
        if detector is None:
            return None
        return {
            "neighbours": detector.k,
            "threshold": detector.threshold_,
            "expected_recall": detector.expected_recall_,
            "expected_familiar_flagged": detector.expected_familiar_,
            "confidence_weight": getattr(detector, "confidence_weight_", None),
        }

    def label_weights(self) -> dict[str, float] | None:
        """The balanced decision's weight per label (None when the classifier acts on the most probable)."""
        weights: NDArray[np.float64] | None = getattr(self, "label_weights_", None)
        if weights is None:
            return None
        return {label: round(float(w), 4) for label, w in zip(self.classes_, weights, strict=True)}

    def _used(self) -> dict[str, bool]:
        return {
            "pairwise": self.uses_kernel_,
            "ridge": getattr(self, "uses_ridge_", False),
            "linear": self.uses_linear_,
            "attention": getattr(self, "uses_attention_", False),
            "neighbours": self.uses_neighbours_,
        }

    def save(self, models_dir: Path, *, metadata: dict[str, Any] | None = None) -> str:
        """Save as the next version of ``text/<target>`` in the registry; returns the version."""
        from router.store.model_registry import save_model

        record = {**self.describe(), **(metadata or {})}
        version = save_model(self, kind=MODEL_KIND, target=self.target, metadata=record, models_dir=models_dir)
        self.version_ = f"{MODEL_KIND}/{self.target.lower()}@{version}"
        return version

    @classmethod
    def load(cls, models_dir: Path, target: str, version: str | None = None) -> TicketClassifier:
        """Load a saved classifier (latest version by default), refusing tampered or foreign artefacts."""
        from router.store.model_registry import RegistryError, load_model

        stored: StoredModel = load_model(models_dir, MODEL_KIND, target, version)
        model = stored.model
        if not isinstance(model, cls):
            raise RegistryError(f"{stored.path}: holds a {type(model).__name__}, not a ticket classifier")
        model.version_ = stored.label
        return model
