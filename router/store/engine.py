"""Engines and schema migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

from connectors.redaction import mask_url, redact

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class StoreError(RuntimeError):
    """The database cannot be used as asked; the message says what to do."""


@contextlib.contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A database that cannot be opened becomes a StoreError naming it, its password and secrets masked."""
    try:
        yield
    except ValueError:
        # SQLAlchemy read part of the URL as a port: the library's message would quote a piece of the password.
        raise StoreError(
            f"cannot parse the database URL {mask_url(url)}: percent-encode @ : / ? # in its user name and "
            "password (%40 %3A %2F %3F %23)."
        ) from None
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        # The driver's own message; SQLAlchemy's wrapper adds the SQL and a link to its documentation.
        detail = redact(" ".join(str(getattr(exc, "orig", None) or exc).split()))
        end = "" if detail.endswith((".", "?", "!")) else "."
        raise StoreError(
            f"cannot open the database {mask_url(url)}: {detail}{end} "
            "Check DESKROUTE_DATABASE_URL (or database_url in deskroute.toml) and that the server runs."
        ) from None


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite files get their folder created and WAL so a reader never blocks a writer."""
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` through the migrations."""
    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


class Store:
    """The database: one engine, sessions, and the schema kept at the latest migration."""

    def __init__(self, url: str, *, auto_upgrade: bool = True):
        self.url = url
        with database_errors(url):
            self.engine = make_engine(url)
            if auto_upgrade and current_revision(self.engine) != head_revision():
                upgrade(self.engine)

    @property
    def safe_url(self) -> str:
        return mask_url(self.url)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()
