"""``deskroute train`` and ``deskroute predict``: fit a model for a target column, save it, use it.

``train`` dispatches on the target: a target listed in :data:`TRAINERS` has its own trainer (for example a
behavioural model); any other column gets a text classifier over subject and body. Adding a target is one
function taking a :class:`TrainRequest` and one entry in :data:`TRAINERS`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from connectors.redaction import mask_url
from router.cli.common import ConfigOption, console, err_console, fail, open_store, safe_json, settings, warn
from router.cli.index_cmds import embedding_errors
from router.training.encoder_factory import build_encoder

if TYPE_CHECKING:
    from policies import RoutingPolicy
    from router.config import Settings
    from router.predict import TicketClassifier
    from router.training.labelled import LabelledTickets


@dataclass(frozen=True)
class TrainRequest:
    """What ``deskroute train`` was asked: the target column and where the labelled data comes from."""

    target: str
    files: tuple[Path, ...]
    from_store: bool
    source: str | None
    text_columns: tuple[str, ...]
    settings: Settings
    decision: str = "auto"


Trainer = Callable[[TrainRequest], None]


def load_config_quietly(config: Path | None = None) -> Settings:
    """Settings from deskroute.toml / DESKROUTE_* (errors become a clean exit)."""
    return settings(config)


def _labelled(request: TrainRequest) -> LabelledTickets:
    from router.training.labelled import DatasetError, read_labelled, tickets_from_store

    try:
        if request.from_store:
            store = open_store(request.settings)
            policy = _policy(request.settings.policy) if request.target.lower() == "queue" else None
            return tickets_from_store(store, request.target, source=request.source, policy=policy)
        return read_labelled(list(request.files), text_columns=request.text_columns, label_column=request.target)
    except DatasetError as exc:
        raise fail(str(exc)) from None


def _policy(policy_path: Path | None) -> RoutingPolicy | None:
    """The configured policy, whose teams a helpdesk's final queues are mapped to; none when none is set."""
    from policies import PolicyError, load_policy

    if policy_path is None:
        return None
    try:
        return load_policy(policy_path)
    except PolicyError as exc:
        raise fail(str(exc)) from None


def _train_churn(request: TrainRequest) -> None:
    """``--target churn``: the behaviour model, from the store (cancellation events are the label)."""
    from router.cli.churn_cmds import train_churn

    if not request.from_store:
        if len(request.files) != 1:
            raise fail("--target churn takes one customer table (--file FILE with a 'churn' column) or --from-store")
        from connectors.files import FileFormatError, read_rows

        try:
            _, first = next(iter(read_rows(request.files[0])), (0, {}))
        except FileFormatError as exc:
            raise fail(str(exc)) from None
        label = next((c for c in first if c.lower() == "churn"), "churn")
        train_churn(request.files[0], label=label)
        return
    train_churn(from_store=True, source=request.source or "file")


def _train_urgency(request: TrainRequest) -> None:
    """``--target urgency``: the text priority model weighed with who is writing, from the store's histories."""
    from router.behaviour.identity import IdentityLinks
    from router.store.model_registry import RegistryError
    from router.training.urgency_training import fit_urgency_model

    if not request.from_store:
        raise fail("--target urgency learns from who wrote each ticket, which only the store knows: use --from-store")
    store = open_store(request.settings)
    with err_console.status("training behaviour-aware urgency") as status:
        try:
            meta = fit_urgency_model(
                store,
                request.settings.models_dir,
                source=request.source,
                links=IdentityLinks(request.settings.events.source, request.settings.events.identity_attribute),
                on_step=lambda step: status.update(f"training behaviour-aware urgency: {step}"),
            )
        except ValueError as exc:
            raise fail(str(exc)) from None
        except (RegistryError, OSError) as exc:
            raise fail(f"cannot save the model: {exc}") from None
    data = meta["training_data"]
    losses = ", ".join(f"{k} {v:.3f}" for k, v in sorted(meta["selection_log_loss"].items()))
    console.print(
        f"saved {meta['version']} on {data['tickets']} tickets from {data['writers']} writers, stacked on "
        f"{meta['text_model']}"
        + (f" and churn {meta['churn_model']}" if meta.get("churn_model") else "")
        + f"; stacker {meta['stacker']}"
        + (f" (cross-validated log-loss {losses})" if losses else ""),
        soft_wrap=True,
    )


def train_text_classifier(request: TrainRequest) -> None:
    """Fit a TicketClassifier for ``request.target`` and save it in the models folder."""
    from router.store.model_registry import RegistryError
    from router.training.labelled import AFTER_ROUTING_FIELDS
    from router.training.text_training import fit_text_model

    late = [c for c in request.text_columns if c.lower() in AFTER_ROUTING_FIELDS]
    if late and not request.from_store:
        warn(
            f"{', '.join(late)} is written after a ticket is routed; "
            "new tickets will not have it when the model predicts"
        )
    data = _labelled(request)
    for line in data.warnings():
        warn(line)
    labels = data.labelled()
    origin = (
        {"store": mask_url(request.settings.database_url), "source": request.source}
        if request.from_store
        else {"files": [str(p) for p in request.files], "text_columns": list(request.text_columns)}
    )
    with err_console.status(f"training '{request.target}' on {len(labels)} tickets") as status, embedding_errors():
        try:
            classifier = fit_text_model(
                request.settings,
                data,
                target=request.target,
                origin=origin,
                decision=request.decision,
                on_step=lambda step: status.update(f"training '{request.target}': {step}"),
            )
        except (RegistryError, OSError) as exc:
            raise fail(f"cannot save the model: {exc}") from None
    metrics = classifier.cv_metrics_
    threshold = classifier.threshold_
    console.print(
        f"saved {classifier.version_} ({len(classifier.classes_)} labels, {len(labels)} tickets) "
        f"in {request.settings.models_dir}",
        soft_wrap=True,
    )
    console.print(
        f"inner cross-validation ({_decision_words(classifier)}): "
        f"accuracy {metrics['accuracy']:.1%}, macro-F1 {metrics['macro_f1']:.3f}, "
        f"top-3 {metrics['top3_accuracy']:.1%}, ECE {metrics['ece']:.3f}; "
        + (
            f"routes {metrics['auto_coverage']:.0%} of tickets automatically above confidence {threshold:.2f}"
            if threshold is not None
            else "never confident enough for 90% precision: every ticket goes to triage"
        ),
        soft_wrap=True,
    )


def _decision_words(classifier: TicketClassifier) -> str:
    if classifier.decision_ == "accuracy":
        return "acts on the most probable label"
    weights = ", ".join(f"{label} x{w:.2f}" for label, w in (classifier.label_weights() or {}).items())
    return f"balanced decision, label weights {weights}"


# Targets with a model of their own; every other target is a text classifier over subject and body.
TRAINERS: dict[str, Trainer] = {"churn": _train_churn, "urgency": _train_urgency}


def train(
    target: str = typer.Option(..., "--target", help="The column to predict, e.g. queue, priority, type."),
    from_store: bool = typer.Option(False, "--from-store", help="Train on the tickets in the store."),
    file: list[Path] = typer.Option(
        [], "--file", help="Train on labelled tickets in a CSV/JSONL file (repeat for several files)."
    ),
    text: str = typer.Option("subject,body", "--text", help="Text column(s) of the file the model reads."),
    source: str | None = typer.Option(None, "--source", help="With --from-store: only tickets of this source."),
    decision: str = typer.Option(
        "auto",
        "--decision",
        help="Which label a text model acts on: accuracy (the most probable), balanced (label weights learnt for "
        "macro-F1, so rarer levels are predicted), auto (balanced for priority levels, accuracy otherwise).",
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Fit a model for TARGET and save it as a new version in the data dir's models folder."""
    from router.predict.decision import check_decision
    from router.training.labelled import DatasetError, parse_columns

    if from_store == bool(file):
        raise fail("give either --from-store or --file FILE (one of them)")
    try:
        check_decision(decision)
    except ValueError as exc:
        raise fail(f"--{exc}") from None
    try:
        columns = parse_columns(text)
    except DatasetError as exc:
        raise fail(str(exc)) from None
    request = TrainRequest(
        target=target.strip(),
        files=tuple(file),
        from_store=from_store,
        source=source,
        text_columns=columns,
        settings=settings(config),
        decision=decision,
    )
    TRAINERS.get(request.target.lower(), train_text_classifier)(request)


def _load_classifier(cfg: Settings, target: str | None, version: str | None) -> TicketClassifier:
    from router.predict import MODEL_KIND, TicketClassifier
    from router.store.model_registry import RegistryError, list_versions

    models = cfg.models_dir / MODEL_KIND
    saved = (
        sorted(p.name for p in models.iterdir() if p.is_dir() and list_versions(cfg.models_dir, MODEL_KIND, p.name))
        if models.is_dir()
        else []
    )
    if target is None:
        if len(saved) != 1:
            hint = f"saved models: {', '.join(saved)}" if saved else "no model is saved yet"
            raise fail(f"say which model to use with --target ({hint}); train one with `deskroute train --target COL`")
        target = saved[0]
    try:
        return TicketClassifier.load(cfg.models_dir, target, version)
    except RegistryError as exc:
        raise fail(str(exc)) from None


def predict(
    file: Path = typer.Argument(..., help="Tickets to label (CSV or JSONL with subject/body columns)."),
    target: str | None = typer.Option(None, "--target", help="Which saved model (default: the only one)."),
    version: str | None = typer.Option(None, "--version", help="A saved version (default: the latest)."),
    text: str = typer.Option("subject,body", "--text", help="Text column(s) the model reads."),
    neighbours: int = typer.Option(3, "--neighbours", min=0, help="Similar training tickets to show per ticket."),
    config: Path | None = ConfigOption,
) -> None:
    """Print one JSON line per ticket: label, probability, top-k, abstained (and why), language, neighbours."""
    from router.predict.language_detection import detect_ticket_languages
    from router.training.labelled import DatasetError, parse_columns, read_labelled

    cfg = settings(config)
    classifier = _load_classifier(cfg, target, version)
    try:
        data = read_labelled([file], text_columns=parse_columns(text))
    except DatasetError as exc:
        raise fail(str(exc)) from None
    for line in data.warnings():
        warn(line)
    with embedding_errors():
        classifier.attach_encoder(build_encoder(cfg))
    subjects = [s for s, _ in data.tickets]
    bodies = [b for _, b in data.tickets]
    with err_console.status(f"predicting {len(data)} tickets with {classifier.version_}"):
        predictions = classifier.predict_tickets(subjects, bodies, neighbours=neighbours)
        languages = detect_ticket_languages(data.tickets)
    out = sys.stdout
    for ticket_id, prediction, language in zip(data.ids, predictions, languages, strict=True):
        record: dict[str, Any] = {"id": ticket_id, "target": classifier.target, **prediction.as_dict()}
        record["language"] = language.code if language else None
        out.write(safe_json(record, indent=None) + "\n")
    out.flush()
