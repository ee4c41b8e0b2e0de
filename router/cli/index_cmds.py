"""``deskroute index``: the vector index of past tickets: rebuild it from the store, describe it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from router.cli.common import (
    ConfigOption,
    console,
    fail,
    open_store,
    progress,
    settings,
    user_errors,
    warn,
)
from router.cli.options import output_file
from router.store import TicketRow, iter_tickets
from router.training.encoder_factory import build_encoder

if TYPE_CHECKING:
    from connectors.records import Ticket
    from embeddings import Encoder

app = typer.Typer(help="The vector index of past tickets (similar-ticket search).", no_args_is_help=True)

# Tickets read, encoded and added per step of the rebuild: bounds memory and paces the progress bar.
_CHUNK = 512


def index_id(ticket: Ticket) -> str:
    """The id a ticket has in the vector index: its source and its helpdesk's own id."""
    return f"{ticket.source}:{ticket.external_id}"


def index_metadata(ticket: Ticket) -> dict[str, Any]:
    """What a search can filter on (e.g. only resolved tickets, one source)."""
    return {
        "source": ticket.source,
        "external_id": ticket.external_id,
        "status": ticket.status,
        "finished": ticket.finished,
        "queue": ticket.queue,
        "priority": ticket.priority,
        "language": ticket.language,
        "created_at": ticket.created_at.isoformat(),
    }


@contextlib.contextmanager
def embedding_errors() -> Iterator[None]:
    """The embeddings package's user-fixable errors become one clear line and exit status 1."""
    from embeddings import EmbeddingCacheError, ModelNotFoundError

    with user_errors():
        try:
            yield
        except (ModelNotFoundError, EmbeddingCacheError) as exc:
            raise fail(str(exc)) from None


@app.command("rebuild")
def rebuild(
    source: str | None = typer.Option(None, "--source", help="Only tickets from this source."),
    config: Path | None = ConfigOption,
) -> None:
    """Encode every stored ticket (vectors already in the embedding cache are reused) and write a new index.

    The new index replaces the old one atomically: a running agent never reads a half-written file.
    """
    from sqlmodel import func, select

    from embeddings import VectorIndex

    cfg = settings(config)
    output_file(cfg.index_path, "data_dir")  # before minutes of encoding, not after
    store = open_store(cfg)
    started = time.perf_counter()
    with embedding_errors():
        encoder = build_encoder(cfg)
        index = VectorIndex(encoder.dimension, encoder.model_id)
        with store.session() as session:
            query = select(func.count()).select_from(TicketRow)
            if source:
                query = query.where(TicketRow.source == source)
            total = int(session.exec(query).one())
            with progress(
                TextColumn("indexing tickets"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
                disable=total < _CHUNK,
            ) as bar:
                task = bar.add_task("index", total=total)
                chunk: list[Ticket] = []
                for ticket in iter_tickets(session, source=source):
                    chunk.append(ticket)
                    if len(chunk) == _CHUNK:
                        _add(index, encoder, chunk, cfg.embeddings.batch_size)
                        bar.advance(task, len(chunk))
                        chunk = []
                if chunk:
                    _add(index, encoder, chunk, cfg.embeddings.batch_size)
                    bar.advance(task, len(chunk))
        if len(index) == 0:
            where = f" from source {source!r}" if source else ""
            raise fail(f"no tickets{where} in the store: import some first (`deskroute import tickets FILE`)")
        index.save(cfg.index_path)
    info = index.describe()
    recall = f", recall@10 {info['recall_at_10']:.3f}" if info["kind"] != "exact" else ""
    console.print(
        f"indexed {len(index):,} tickets in {time.perf_counter() - started:.1f} s: "
        f"{encoder.stats.encoded:,} encoded, {encoder.stats.cache_hits:,} from the embedding cache; "
        f"{info['kind']} search{recall}; written to {cfg.index_path}",
        soft_wrap=True,
    )


def _add(index: Any, encoder: Encoder, tickets: list[Ticket], batch_size: int) -> None:
    vectors = encoder.encode_tickets([(t.subject, t.body) for t in tickets], batch_size=batch_size, show_progress=False)
    index.add([index_id(t) for t in tickets], vectors, [index_metadata(t) for t in tickets])


@app.command("describe")
def describe(
    as_json: bool = typer.Option(False, "--json", help="Print the description as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """What the index holds: model, size, exact or approximate search and why, measured recall@10.

    The file is checked against its checksum first; a damaged one is an error that says to rebuild it.
    """
    from embeddings import VectorIndex
    from embeddings.model import resolve_model

    cfg = settings(config)
    with embedding_errors():
        index = VectorIndex.load(cfg.index_path)
        # The header alone would describe a damaged file as healthy: check the whole file first.
        index.verify()
        info = index.describe()
        info["path"] = str(cfg.index_path)
        configured = resolve_model(cfg.embeddings.model, allow_download=cfg.embeddings.allow_download)
    if as_json:
        console.print_json(data=info)
    else:
        table = Table(show_header=False, box=None)
        for key in ("path", "model_id", "dimension", "count", "kind", "reason", "recall_at_10"):
            table.add_row(key, str(info.get(key)))
        table.add_row("removed, awaiting compaction", str(info.get("removed_pending_compaction", 0)))
        table.add_row("memory (FAISS)", f"{info.get('memory_bytes', 0) / 2**20:.1f} MiB")
        console.print(table)
    if configured.model_id != info.get("model_id"):
        warn(
            f"the index was built with {info.get('model_id')!r} but the configuration "
            f"now names {configured.model_id!r}: run `deskroute index rebuild`"
        )
