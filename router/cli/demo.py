"""``deskroute demo``: the main job on embedded defaults (SQLite, the bundled sample)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from router.cli.common import console, fail, user_errors
from router.config import Settings
from router.importing import import_file
from router.store import Store

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "sample"


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's database and reports."),
    sample: Path = typer.Option(SAMPLE_DIR, "--sample", help="Folder holding the sample tickets.csv."),
) -> None:
    """Import the bundled sample into a fresh SQLite store and show what is stored."""
    from router.cli.data import stats

    tickets = sample / "tickets.csv"
    if not tickets.is_file():
        raise fail(f"{tickets}: sample not found; run the demo from a clone of the repository or pass --sample")
    out.mkdir(parents=True, exist_ok=True)
    db = out / "deskroute.db"
    db.unlink(missing_ok=True)
    os.environ["DESKROUTE_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["DESKROUTE_DATA_DIR"] = str(out / "data")
    cfg = Settings()
    with user_errors():
        store = Store(cfg.database_url)
        report = import_file(store, "tickets", tickets, source="file")
    console.print(f"[bold]imported[/] {report.written} sample tickets from {tickets} into {db}")
    stats(as_json=False, config=None)
