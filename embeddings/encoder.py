"""Ticket text in, normalised float32 vectors out, through sentence-transformers and the embedding cache."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embeddings.cache import EmbeddingCache, cache_key
from embeddings.model import ModelSource, resolve_model
from embeddings.native_threads import prefer_passive_waits
from embeddings.text import CHARS_PER_TOKEN, TicketText, prepare_ticket_text

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embeddings.onnx_graph import OnnxTransformer

# Token window for ticket text. all-MiniLM-L6-v2 was trained on 128-token inputs and ships set to 256. On the
# 2,181 support tickets (23% longer than 128 tokens) a 128 window encodes 1.46x more tickets per CPU-second,
# keeps 0.86 of the 10 nearest neighbours found at 256 (0.94 for tickets that fit, 0.58 for long ones), and
# leaves leave-one-out 10-NN label accuracy unchanged within noise (queue 0.333 vs 0.336, type 0.702 vs 0.707,
# priority 0.428 vs 0.419). evals/bench_embeddings.py ("window") re-measures speed and agreement.
DEFAULT_WINDOW = 128
# Batches handed to sentence-transformers per call when texts are length-sorted.
_BATCHES_PER_CALL = 8
# Show a progress bar on its own when at least this many texts need the model.
_PROGRESS_FROM = 512
# Where the transformer runs: ONNX Runtime (same numbers, less time; see embeddings.onnx_graph) or torch.
RUNTIMES = ("onnx", "torch")
# ONNX Runtime takes calls of at most this many texts (a ticket at a time: webhooks, the API, a live cycle);
# larger batches stay in torch. Measured on the bundled sample (docs/speed.md): one ticket 27.5 vs 37.2 ms
# median, 26 vs 35 ms of CPU; batches of 64 texts 24-26 vs 26-29 texts/s, torch's matrix kernels ahead.
GRAPH_MAX_TEXTS = 8


@dataclass
class EncodeStats:
    """What the encoder did since it was created: texts the model encoded, cache hits, time in the model."""

    encoded: int = 0
    cache_hits: int = 0
    model_calls: int = 0
    model_seconds: float = 0.0


class Encoder:
    """A sentence-transformers model with ticket text preparation and an optional on-disk cache.

    The model loads on first use. Every vector is L2-normalised float32; ``model_id`` and ``dimension`` say
    which vector space it belongs to, and the vector index refuses vectors from another one.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        cache_dir: Path | None = None,
        allow_download: bool = False,
        max_seq_length: int | None = None,
        device: str | None = None,
        length_sorted: bool = True,
        runtime: str = "onnx",
    ) -> None:
        self.source: ModelSource = resolve_model(model, allow_download=allow_download)
        self.model_id = self.source.model_id
        if max_seq_length is not None and max_seq_length <= 0:
            raise ValueError(f"max_seq_length must be a positive number of tokens, got {max_seq_length}")
        own_window = self.source.configured_window()
        default = DEFAULT_WINDOW if own_window is None else min(DEFAULT_WINDOW, own_window)
        self.max_seq_length = max_seq_length or default
        self.device = device
        self.length_sorted = length_sorted
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.requested_runtime = runtime
        # What runs the transformer once the model is loaded: "onnx" only if its graph loaded and agreed.
        self.runtime = runtime
        self._graph: OnnxTransformer | None = None
        self.cache = EmbeddingCache(Path(cache_dir)) if cache_dir is not None else None
        self.stats = EncodeStats()
        self._allow_download = allow_download
        self._model: SentenceTransformer | None = None
        self._dimension = self.source.configured_dimension()
        self._load_lock = threading.Lock()

    @property
    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers model (loads it on first access)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        prefer_passive_waits()  # before torch loads (see embeddings.native_threads)
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self.source.name, device=self.device, local_files_only=not self._allow_download)
        limit = getattr(model.tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < self.max_seq_length:
            raise ValueError(
                f"max_seq_length {self.max_seq_length} exceeds what {self.model_id} accepts "
                f"({limit} tokens): set embeddings.max_seq_length to {limit} or less"
            )
        model.max_seq_length = self.max_seq_length
        self._graph = self._load_graph(model)
        # sentence-transformers 5.x renamed the accessor; older releases only have the first name.
        measure = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = measure()
        if dimension is None:
            raise ValueError(f"{self.model_id} does not declare an embedding dimension")
        self._dimension = int(dimension)
        return model

    def _load_graph(self, model: SentenceTransformer) -> OnnxTransformer | None:
        """The transformer in ONNX Runtime when asked for and possible; None keeps torch (with a warning why)."""
        from embeddings.onnx_graph import GraphUnavailable, load_graph, runtime_available

        if self.requested_runtime != "onnx" or (self.device not in (None, "cpu")):
            self.runtime = "torch"
            return None
        if not runtime_available():
            self.runtime = "torch"
            return None
        import torch

        try:
            graph = load_graph(model, self.source, threads=torch.get_num_threads())
        except GraphUnavailable as error:
            warnings.warn(f"{self.model_id} runs in torch: {error}", RuntimeWarning, stacklevel=3)
            self.runtime = "torch"
            return None
        self.runtime = "onnx"
        return graph

    @property
    def dimension(self) -> int:
        """Width of the vectors (read from the model's files, or by loading it)."""
        if self._dimension is None:
            _ = self.model
        assert self._dimension is not None
        return self._dimension

    @property
    def max_chars(self) -> int:
        """Characters of prepared text worth keeping: beyond this the tokenizer would cut them anyway."""
        return self.max_seq_length * CHARS_PER_TOKEN

    def describe(self) -> dict[str, Any]:
        """Which model, from where, with which window and dimension (what an index or report records)."""
        return {
            "model_id": self.model_id,
            "origin": self.source.origin,
            "path": str(self.source.path) if self.source.path else None,
            "dimension": self.dimension,
            "max_seq_length": self.max_seq_length,
            "runtime": self.runtime,
            "cache": str(self.cache.path) if self.cache else None,
        }

    def keys(self, texts: Sequence[str]) -> list[bytes]:
        """Content addresses of ``texts`` under this model and window."""
        return [cache_key(self.model_id, self.max_seq_length, text) for text in texts]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool | None = None) -> np.ndarray:
        """Vectors for already prepared ``texts``: an (n, dimension) float32 array, rows L2-normalised.

        Each distinct text is encoded once; with a cache, texts seen before are not encoded again.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string: wrap it in a list")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is {type(text).__name__}, not str")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)

        unique, slots = _distinct(texts)
        vectors: list[np.ndarray | None] = [None] * len(unique)
        keys = self.keys(unique) if self.cache is not None else []
        if self.cache is not None:
            found = self.cache.get_many(keys, self.dimension)
            for j, key in enumerate(keys):
                hit = found.get(key)
                if hit is not None:
                    vectors[j] = hit
            self.stats.cache_hits += len(found)

        missing = [j for j, vector in enumerate(vectors) if vector is None]
        if missing:
            encoded = self._encode_missing(
                [unique[j] for j in missing],
                batch_size,
                show_progress,
                [keys[j] for j in missing] if keys else None,
            )
            for row, j in enumerate(missing):
                vectors[j] = encoded[row]

        matrix = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, slot in enumerate(slots):
            matrix[i] = vectors[slot]
        return matrix

    def encode_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors and each text's token embeddings (float16, (tokens, dimension)), from one model pass.

        For models that read the tokens themselves. Token embeddings are not cached (they are ~20x larger than
        a vector), so every distinct text goes through the model; its vector is written to the cache.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        unique, slots = _distinct(texts)
        keys = self.keys(unique) if self.cache is not None else None
        tokens: list[np.ndarray] = [np.zeros((0, self.dimension), dtype=np.float16)] * len(unique)
        vectors = self._encode_missing(unique, batch_size, show_progress, keys, tokens=tokens)
        return vectors[slots], [tokens[slot] for slot in slots]

    def encode_tickets_with_tokens(
        self, pairs: Sequence[TicketText], **kwargs: Any
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Prepare (subject, body) pairs as ticket text; vectors and token embeddings (see encode_with_tokens)."""
        return self.encode_with_tokens(self.prepare(pairs), **kwargs)

    def _encode_missing(
        self,
        texts: list[str],
        batch_size: int,
        show_progress: bool | None,
        keys: list[bytes] | None,
        *,
        tokens: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        model = self.model
        order = list(range(len(texts)))
        step = batch_size
        if self.length_sorted:
            # Batches of similar length pad less (measured in evals/bench_embeddings.py, "batching"). Several
            # batches go to the model per call: each call costs ~10 ms of fixed work, 2-3% of a batch of short
            # texts. Unsorted, each call gets one batch, since sentence-transformers sorts within a call.
            order.sort(key=lambda j: len(texts[j]), reverse=True)
            step = batch_size * _BATCHES_PER_CALL
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if show_progress is None:
            show_progress = len(texts) >= _PROGRESS_FROM and sys.stderr.isatty()
        with _progress(show_progress, len(texts), f"encoding with {self.model_id}") as advance:
            for start in range(0, len(order), step):
                batch = order[start : start + step]
                started = time.perf_counter()
                batch_texts = [texts[j] for j in batch]
                if self._graph is not None and len(texts) <= GRAPH_MAX_TEXTS:
                    encoded = self._with_graph(model, self._graph, batch_texts, batch_size, tokens, batch)
                elif tokens is None:
                    encoded = model.encode(
                        batch_texts,
                        batch_size=batch_size,
                        convert_to_numpy=True,
                        normalize_embeddings=True,
                        show_progress_bar=False,
                    )
                else:
                    encoded = self._with_tokens(model, batch_texts, batch_size, tokens, batch)
                self.stats.model_calls += 1
                self.stats.model_seconds += time.perf_counter() - started
                encoded = np.asarray(encoded, dtype=np.float32)
                out[batch] = encoded
                if self.cache is not None and keys is not None:
                    # Written per call, so an interrupted long run resumes where it stopped.
                    self.cache.put_many(self.model_id, [keys[j] for j in batch], encoded)
                self.stats.encoded += len(batch)
                advance(len(batch))
        return out

    @staticmethod
    def _with_tokens(
        model: SentenceTransformer, texts: list[str], batch_size: int, tokens: list[np.ndarray], rows: list[int]
    ) -> np.ndarray:
        """Sentence vectors of ``texts``; their token embeddings (padding cut) go to ``tokens[row]``."""
        # With output_value=None, sentence-transformers returns one dict of tensors per text.
        outputs: list[dict[str, Any]] = list(
            model.encode(texts, batch_size=batch_size, output_value=None, show_progress_bar=False)  # type: ignore[arg-type]
        )
        vectors = np.empty((len(texts), int(outputs[0]["sentence_embedding"].shape[0])), dtype=np.float32)
        for i, (row, output) in enumerate(zip(rows, outputs, strict=True)):
            length = int(output["attention_mask"].sum())
            tokens[row] = output["token_embeddings"][:length].float().numpy().astype(np.float16)
            vector = output["sentence_embedding"].float().numpy()
            vectors[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return vectors

    @staticmethod
    def _with_graph(
        model: SentenceTransformer,
        graph: OnnxTransformer,
        texts: list[str],
        batch_size: int,
        tokens: list[np.ndarray] | None,
        rows: list[int],
    ) -> np.ndarray:
        """As ``_with_tokens`` (``tokens`` may be None), with the transformer in ONNX Runtime.

        sentence-transformers' own tokenisation, pooling and normalisation run around the graph; texts are
        batched longest first, as sentence-transformers batches them.
        """
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: np.ndarray | None = None
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                features = model.preprocess([texts[i] for i in chunk])
                features["token_embeddings"] = graph.token_embeddings(features)
                for module in list(model)[1:]:
                    features = module(features)
                pooled = features["sentence_embedding"].float().numpy()
                if vectors is None:
                    vectors = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
                mask = features["attention_mask"]
                for j, i in enumerate(chunk):
                    vector = pooled[j]
                    vectors[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
                    if tokens is not None:
                        length = int(mask[j].sum())
                        tokens[rows[i]] = features["token_embeddings"][j, :length].float().numpy().astype(np.float16)
        assert vectors is not None  # texts is never empty here
        return vectors

    def encode_tickets(self, pairs: Sequence[TicketText], **kwargs: Any) -> np.ndarray:
        """Prepare (subject, body) pairs as ticket text and encode them; keyword arguments go to encode()."""
        return self.encode(self.prepare(pairs), **kwargs)

    def prepare(self, pairs: Sequence[TicketText]) -> list[str]:
        """Ticket text for (subject, body) pairs, cut to what this encoder's window can use."""
        limit = self.max_chars
        return [prepare_ticket_text(subject, body, max_chars=limit) for subject, body in pairs]

    def forget(self, texts: Sequence[str]) -> int:
        """Erase the cached vectors of prepared ``texts``; returns how many the cache held."""
        if self.cache is None:
            return 0
        return self.cache.discard(self.keys(list(texts)))

    def forget_tickets(self, pairs: Sequence[TicketText]) -> int:
        """Erase the cached vectors of (subject, body) pairs, as prepared by this encoder."""
        return self.forget(self.prepare(pairs))


def _distinct(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct texts in first-seen order, and each text's position among them: duplicates encode once."""
    first: dict[str, int] = {}
    slots = [first.setdefault(text, len(first)) for text in texts]
    return list(first), slots


@contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar when enabled, a no-op otherwise; yields a callable that advances it."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
