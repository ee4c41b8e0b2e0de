"""The encoder's transformer run by ONNX Runtime: the same weights and numbers, less time per ticket.

One ticket at a time, torch spends most of a call outside the arithmetic: dispatching each of the six layers'
operators and waking its OpenMP threads per operator. ONNX Runtime runs the same float32 graph with fused
attention, layer-norm and GELU kernels and its own thread pool. Measured on the bundled sample's tickets
(docs/speed.md): the same token embeddings within 1e-3 after the float16 rounding the token matrices are kept
in, and less than two thirds of torch's CPU time per ticket.

The graph is exported once per model from the loaded sentence-transformers model (``torch.onnx.export`` of
torch.export's program, ~7 s) and kept in the user's cache (``$XDG_CACHE_HOME/deskroute/encoder-graphs``),
keyed by the model's files, so later processes and other data dirs load it in a fraction of a second. Only
the transformer is replaced: tokenisation, pooling and normalisation stay sentence-transformers' own modules,
so the vectors are the ones the models were trained on. A model whose first module is not a plain text
transformer, or whose exported graph disagrees with torch on a probe text, keeps running in torch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

    from embeddings.model import ModelSource

# torch.export's ONNX translation targets opset 18 (LayerNormalization is one operator, as ONNX Runtime fuses).
OPSET = 18
# Token embeddings from the graph may differ from torch's by float32 rounding in another summation order;
# anything beyond this on the probe text means the export went wrong.
AGREEMENT = 1e-3
_PROBE = "Probe ticket: my card payment was declined twice at checkout, please help."
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")
# Graphs exported by a process without a cache directory: one temporary folder per process.
_scratch: tempfile.TemporaryDirectory[str] | None = None
_scratch_lock = threading.Lock()


class GraphUnavailable(Exception):
    """The model cannot run in ONNX Runtime here (not a plain text transformer, or the export disagrees)."""


def runtime_available() -> bool:
    """Whether ONNX Runtime and the exporter's ``onnx`` package are installed."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def graph_path(folder: Path, source: ModelSource) -> Path:
    """Where the exported graph of ``source`` lives under ``folder``: named by the model and its files' state."""
    import torch

    digest = hashlib.sha256(f"{source.model_id}\0{torch.__version__}\0{OPSET}".encode())
    if source.path is not None and source.path.is_dir():
        # Files at the model's top level (weights, configuration, vocabulary): a changed model gets a new graph.
        for item in sorted(source.path.iterdir()):
            if item.is_file() and item.suffix in _WEIGHT_SUFFIXES:
                stat = item.stat()
                digest.update(f"\0{item.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in source.model_id)[-60:]
    return folder / f"{slug}-{digest.hexdigest()[:16]}.onnx"


def graph_folders() -> list[Path]:
    """Where graphs are kept, in order of preference: the user's cache, shared by every data dir and process
    (a graph depends only on the installed model), then a folder that lives as long as this process."""
    global _scratch
    folders = []
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folders.append(Path(base) / "deskroute" / "encoder-graphs")
    except RuntimeError:
        pass  # no home directory to hold a cache
    with _scratch_lock:
        if _scratch is None:
            _scratch = tempfile.TemporaryDirectory(prefix="deskroute-graphs-")
        return [*folders, Path(_scratch.name)]


def _input_names(model: SentenceTransformer) -> list[str]:
    first = model[0]
    if type(first).__name__ != "Transformer" or not hasattr(first, "auto_model"):
        raise GraphUnavailable(f"the first module is {type(first).__name__}, not a text transformer")
    config = getattr(first, "modality_config", {"text": {"method": "forward"}}).get("text", {})
    if config.get("method", "forward") != "forward" or config.get("method_output_name", "last_hidden_state") not in (
        "last_hidden_state",
        ("last_hidden_state",),
        ["last_hidden_state"],
    ):
        raise GraphUnavailable("the transformer's text output is not its last hidden state")
    features = model.preprocess([_PROBE])
    names = [name for name in _INPUTS if name in features]
    if "input_ids" not in names or "attention_mask" not in names:
        raise GraphUnavailable("the tokenizer gives no input ids and attention mask")
    return names


def export(model: SentenceTransformer, target: Path) -> None:
    """Export the transformer of ``model`` to ``target`` (written whole or not at all)."""
    import contextlib
    import io
    import logging
    import warnings

    import torch

    names = _input_names(model)
    network: Any = model[0].auto_model

    class LastHiddenState(torch.nn.Module):
        # Named arguments in the order of ``_INPUTS``: the exporter binds the graph's inputs by position.
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
        ) -> torch.Tensor:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            output = self.network(input_ids=input_ids, attention_mask=attention_mask, **extra, return_dict=True)
            return output.last_hidden_state

    # A padded pair, so the traced program keeps the attention mask's path (one unpadded text would not).
    features = model.preprocess([_PROBE, "short"])
    tickets, tokens = torch.export.Dim("tickets"), torch.export.Dim("tokens")
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_parts(target.parent)
    # A unique temporary name, then an atomic rename: concurrent processes may export the same graph, and a
    # process killed mid-export leaves no half-written graph under the real name.
    partial = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        network.eval()
        # torch.export's program (not the older tracer, which fixes transformers' masking choices as constants).
        # Its progress lines and shape notes are not the user's business.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(),
                tuple(features[name] for name in names),
                str(partial),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_shapes=tuple({0: tickets, 1: tokens} for _ in names),
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        exporter_log.setLevel(level)
        partial.unlink(missing_ok=True)


def _sweep_parts(folder: Path) -> None:
    """Remove part files of exports whose process is gone (killed midway); a live export's part stays."""
    for part in folder.glob(".*.part"):
        pieces = part.name.split(".")
        pid = int(pieces[-3]) if len(pieces) >= 4 and pieces[-3].isdigit() else None
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except PermissionError:
            continue  # another user's live process


class OnnxTransformer:
    """An exported transformer in an ONNX Runtime session: features in, token embeddings out."""

    def __init__(self, path: Path, names: list[str], *, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Waiting threads sleep instead of spinning, as torch's do here (embeddings.native_threads): on cores
        # shared with a database, a helpdesk and other workers, spinning threads take the time others need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = names

    def token_embeddings(self, features: dict[str, Any]) -> torch.Tensor:
        """The last hidden state for tokenised ``features`` (torch tensors, as sentence-transformers makes)."""
        import torch

        feeds = {name: np.ascontiguousarray(features[name].numpy(), dtype=np.int64) for name in self.names}
        (hidden,) = self.session.run(["token_embeddings"], feeds)
        return torch.from_numpy(hidden)


def load_graph(model: SentenceTransformer, source: ModelSource, *, threads: int) -> OnnxTransformer:
    """The transformer of ``model`` in ONNX Runtime, exported first if no folder of ``graph_folders`` has it.

    Raises ``GraphUnavailable`` when the model is not a plain text transformer, cannot be exported, or the graph
    disagrees with torch on a probe text (the caller then keeps torch).
    """
    import torch

    names = _input_names(model)
    graph: OnnxTransformer | None = None
    problems = []
    for folder in graph_folders():
        path = graph_path(folder, source)
        try:
            if path.exists():
                try:
                    graph = OnnxTransformer(path, names, threads=threads)
                except Exception:
                    # An unreadable graph (a disk that lost part of it) is exported again.
                    graph = None
            if graph is None:
                export(model, path)
                graph = OnnxTransformer(path, names, threads=threads)
            break
        except OSError as error:
            # A read-only or full cache: the next folder.
            problems.append(f"{folder}: {error.strerror or error}")
        except Exception as error:
            raise GraphUnavailable(f"the export failed ({type(error).__name__}: {error})") from error
    if graph is None:
        raise GraphUnavailable("no folder to keep the graph in (" + "; ".join(problems) + ")")
    features = model.preprocess([_PROBE])
    with torch.inference_mode():
        expected = model[0](dict(features))["token_embeddings"]
    got = graph.token_embeddings(features)
    difference = float((expected - got).abs().max())
    if not difference <= AGREEMENT:
        raise GraphUnavailable(f"the exported graph differs from torch by {difference:.2g} on a probe text")
    return graph
