"""The model registry: fitted models saved as versioned artefacts with metadata, loaded without running code.

Layout under the data dir's ``models`` folder::

    models/<kind>/<target>/v<N>/model.skops      the fitted model (skops format, never pickle)
    models/<kind>/<target>/v<N>/metadata.json    created, training-data fingerprint, labels, metrics, versions

Loading is safe by construction: a skops file is a JSON description of objects, and :func:`load_model` reads
the list of types it would build *before* building anything; a type outside the allow-list (our own model
classes, scikit-learn, NumPy and SciPy containers, plus what the caller names) refuses the file. The SHA-256
of the artefact is kept in its metadata, so a file changed after it was saved is refused too.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1

# Types that skops does not trust on its own but that are plain data or our own estimators. Every entry is a
# class whose construction from a skops file runs no code named by the file.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._coo.coo_matrix",
        "router.predict.classifier.TicketClassifier",
        "router.predict.text_features.TicketFeatures",
        "router.predict.text_features.TicketMatrix",
        "router.predict.scorers.PairwiseSVM",
        "router.predict.scorers.OneVsRestSVM",
        "router.predict.scorers.KernelRidge",
        "router.predict.attention.AttentionHead",
        "router.predict.calibration.ScoreBlend",
        "router.predict.neighbours.NeighbourVote",
        "router.predict.novelty.NoveltyDetector",
    }
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION_DIR = re.compile(r"^v(\d+)$")
_LIBRARIES = (
    "scikit-learn",
    "numpy",
    "scipy",
    "skops",
    "shap",
    "sentence-transformers",
    "torch",
    "faiss-cpu",
    "lingua-language-detector",
    "deskroute",
)


class RegistryError(ValueError):
    """A model cannot be saved or loaded; the message names the artefact and what to do."""


class UntrustedArtefactError(RegistryError):
    """The artefact would build types outside the allow-list, or it changed after it was saved."""


@dataclass(frozen=True)
class StoredModel:
    """A model loaded from the registry, with its version string and metadata."""

    model: Any
    kind: str
    target: str
    version: str
    metadata: dict[str, Any]
    path: Path

    @property
    def label(self) -> str:
        """``kind/target@version``: how predictions name the model that made them."""
        return f"{self.kind}/{self.target}@{self.version}"


def data_fingerprint(rows: Iterable[Sequence[Any]]) -> str:
    """A SHA-256 over the training rows (texts and labels, in order): which data a model learnt from."""
    digest = hashlib.sha256()
    n = 0
    for row in rows:
        digest.update(json.dumps([str(v) for v in row], ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
        n += 1
    return f"sha256:{digest.hexdigest()}:{n}"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a fitted model (text, churn or urgency), for its metadata.

    A library that is not installed did not shape the model and is left out.
    """
    found = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return found


def _check_name(what: str, value: str) -> str:
    # Names become folder names: keep them to one safe path segment.
    if not _NAME.match(value):
        raise RegistryError(
            f"{what} {value!r} is not a valid model name (letters, digits, '.', '_', '-'; up to 64 characters)"
        )
    return value


def _target_dir(models_dir: Path, kind: str, target: str) -> Path:
    return Path(models_dir) / _check_name("kind", kind) / _check_name("target", target.lower())


def list_versions(models_dir: Path, kind: str, target: str) -> list[str]:
    """Saved versions of one model, oldest first."""
    folder = _target_dir(models_dir, kind, target)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _VERSION_DIR.match(child.name)
        if match and (child / MODEL_FILE).is_file():
            found.append((int(match.group(1)), child.name))
    return [name for _, name in sorted(found)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(
    model: Any,
    *,
    kind: str,
    target: str,
    metadata: dict[str, Any] | None = None,
    models_dir: Path,
) -> str:
    """Save a fitted model as the next version of ``kind/target``; returns the version (``v1``, ``v2``, ...).

    ``metadata`` is merged into what the registry records itself (created time, library versions, the
    artefact's SHA-256); it must be JSON-serialisable. The version folder appears atomically.
    """
    import skops.io as sio

    folder = _target_dir(models_dir, kind, target)
    folder.mkdir(parents=True, exist_ok=True)
    existing = [int(v[1:]) for v in list_versions(models_dir, kind, target)]
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))
    try:
        model_path = staging / MODEL_FILE
        sio.dump(model, model_path, compression=zipfile.ZIP_DEFLATED)
        record: dict[str, Any] = dict(metadata or {})
        record.update(
            {
                "format": FORMAT_VERSION,
                "kind": kind,
                "target": target.lower(),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "model_type": f"{type(model).__module__}.{type(model).__qualname__}",
                "libraries": library_versions(),
                "artefact_sha256": _sha256(model_path),
            }
        )
        number = max(existing, default=0) + 1
        while True:
            version = f"v{number}"
            record["version"] = version
            try:
                text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise RegistryError(f"model metadata is not plain JSON: {exc}") from None
            (staging / METADATA_FILE).write_text(text + "\n", encoding="utf-8")
            try:
                # rename is atomic; a concurrent save that took this number makes us take the next one.
                os.rename(staging, folder / version)
                return version
            except OSError:
                if not (folder / version).exists():
                    raise
                number += 1
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def read_metadata(models_dir: Path, kind: str, target: str, version: str | None = None) -> dict[str, Any]:
    """The metadata of one saved version (latest by default), without loading the model."""
    path = _version_dir(models_dir, kind, target, version)
    return _read_metadata(path)


def _version_dir(models_dir: Path, kind: str, target: str, version: str | None) -> Path:
    versions = list_versions(models_dir, kind, target)
    where = _target_dir(models_dir, kind, target)
    if not versions:
        raise RegistryError(
            f"no saved {kind} model for '{target}' under {Path(models_dir)}; "
            f"fit one first (e.g. `deskroute train --target {target}`)"
        )
    if version is None:
        version = versions[-1]
    if version not in versions:
        raise RegistryError(f"{where}: no version {version!r}; saved versions: {', '.join(versions)}")
    return where / version


def _read_metadata(path: Path) -> dict[str, Any]:
    meta_path = path / METADATA_FILE
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{meta_path}: missing; the model folder is incomplete, train the model again") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{meta_path}: not valid JSON ({exc}); train the model again") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{meta_path}: expected a JSON object; train the model again")
    return data


def load_model(
    models_dir: Path,
    kind: str,
    target: str,
    version: str | None = None,
    *,
    trusted: Iterable[str] = (),
) -> StoredModel:
    """Load a saved model (the latest version by default), refusing anything outside the allow-list.

    ``trusted`` adds fully qualified type names to the allow-list for models of other packages' classes.
    Raises :class:`UntrustedArtefactError` when the file changed since it was saved or would build a type
    that is not allowed; nothing from the file is executed in either case.
    """
    import skops.io as sio

    path = _version_dir(models_dir, kind, target, version)
    metadata = _read_metadata(path)
    model_path = path / MODEL_FILE
    expected = metadata.get("artefact_sha256")
    if not isinstance(expected, str) or _sha256(model_path) != expected:
        raise UntrustedArtefactError(
            f"{model_path}: the artefact does not match the checksum recorded when it was saved; "
            "it was changed or corrupted — refusing to load it. Train the model again."
        )
    allowed = TRUSTED_TYPES | set(trusted)
    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as exc:  # a damaged zip or schema: skops raises several types; none is loadable
        raise UntrustedArtefactError(f"{model_path}: not a readable skops artefact ({exc}); refusing it") from None
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        raise UntrustedArtefactError(
            f"{model_path}: would build types outside the allow-list ({', '.join(refused)}); refusing to load it"
        )
    try:
        model = sio.load(model_path, trusted=sorted(untrusted))
    except Exception as exc:  # skops validates as it builds; any failure means the file is not ours
        raise UntrustedArtefactError(f"{model_path}: cannot be loaded safely ({exc}); refusing it") from None
    return StoredModel(
        model=model, kind=kind, target=target.lower(), version=path.name, metadata=metadata, path=model_path
    )


def save_folder_model(
    directory: Path, *, model_file: str, metadata_file: str, parts: dict[str, Any], metadata: dict[str, Any]
) -> dict[str, Any]:
    """Write a behaviour model's fitted ``parts`` (skops, never pickle) and its metadata JSON to a folder.

    The churn and urgency models keep this one-folder layout (``models/churn``, ``models/urgency``); the
    library versions are added to the metadata here, as :func:`save_model` does.
    """
    import skops.io as sio

    directory.mkdir(parents=True, exist_ok=True)
    sio.dump(parts, directory / model_file)
    meta = {**metadata, "libraries": library_versions()}
    (directory / metadata_file).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return meta


def load_folder_model(
    directory: Path,
    *,
    model_file: str,
    metadata_file: str,
    trusted: Sequence[str],
    what: str,
    train_hint: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fitted parts and metadata saved by :func:`save_folder_model`, refusing any type outside ``trusted``.

    ``what`` names the model in messages (``churn model``); ``train_hint`` is the command that makes one.
    Nothing from the file is built before its types are checked.
    """
    import skops.io as sio

    model_path, meta_path = directory / model_file, directory / metadata_file
    for path in (model_path, meta_path):
        if not path.is_file():
            hint = f"; train one with `{train_hint}`" if train_hint else ""
            raise FileNotFoundError(f"{path}: no saved {what} here{hint}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    untrusted = [t for t in sio.get_untrusted_types(file=model_path) if t not in trusted]
    if untrusted:
        raise ValueError(
            f"{model_path}: holds types no {what} contains ({', '.join(untrusted)}); "
            "refusing to load it. Retrain the model rather than loading a file of unknown origin"
        )
    return sio.load(model_path, trusted=list(trusted)), meta
