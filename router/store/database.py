"""Engines and schema migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

from connectors.redaction import MASK, mask_url, redact, url_secrets
from router.store.advisory_locks import held_lock

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class StoreError(RuntimeError):
    """The database cannot be used as asked; the message says what to do."""


# The dialects deskroute ships a driver for and runs its migrations on (``postgresql://`` is rewritten to
# ``postgresql+psycopg://`` by the settings).
SUPPORTED_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
_CHECK_URL = "Check DESKROUTE_DATABASE_URL (or database_url in deskroute.toml)"


def describe_url(url: str | sa.URL) -> str:
    """The database a URL points at, for messages, its credentials masked the one way every URL is.

    A URL SQLAlchemy cannot read is shown by its scheme only: where its password starts is anyone's guess.
    """
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except (sa.exc.ArgumentError, ValueError):
        scheme = str(url).split("://", 1)[0] if "://" in str(url) else ""
        return f"{scheme}://(unparsable)" if scheme and scheme.isascii() and scheme.isprintable() else "(unparsable)"
    return mask_url(parsed.render_as_string(hide_password=False))


def _parse(url: str) -> sa.URL:
    """``url`` as SQLAlchemy reads it, refused clearly when malformed or not a database deskroute supports."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        # The parser's own message can quote the URL, password included: name the problem only.
        detail = "a port that is not a number" if "int()" in str(exc) else "not of the form scheme://..."
        raise StoreError(
            f"the database URL {describe_url(url)} is malformed ({detail}). {_CHECK_URL}: e.g. "
            "sqlite:///path/to/deskroute.db or postgresql://user@host:5432/deskroute"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in SUPPORTED_DRIVERS or (driver and driver != SUPPORTED_DRIVERS[backend]):
        raise StoreError(
            f"the database URL {describe_url(parsed)} names {parsed.drivername!r}, which deskroute does not "
            f"support. {_CHECK_URL}: use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
        )
    return parsed


def _sqlite_file(parsed: sa.URL, create_folders: Collection[Path]) -> Path | None:
    """The SQLite file a URL names (None for an in-memory database), its folder checked.

    SQLite would create a missing file but not its folder; deskroute creates only its own data folders
    (``create_folders``), so a mistyped path is an error instead of a silently new tree of folders.
    """
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("uri") == "true" or database.startswith("file:"):
        return None
    path = Path(database)
    folder = path.parent
    if path.is_dir():
        raise StoreError(f"the SQLite database {path} is a folder. {_CHECK_URL} and name a file in it")
    if not folder.is_dir():
        if folder.resolve() in {Path(own).resolve() for own in create_folders}:
            folder.mkdir(parents=True, exist_ok=True)
        else:
            raise StoreError(
                f"the folder of the SQLite database {path} does not exist. {_CHECK_URL}, or create the folder first"
            )
    return path


def make_engine(url: str, *, create_folders: Collection[Path] = ()) -> sa.Engine:
    """An engine for ``url``: SQLite (with WAL, so a reader never blocks a writer) or PostgreSQL.

    Refuses malformed URLs, unsupported databases and SQLite files in a folder that does not exist, except
    ``create_folders`` (deskroute's data folders), which it creates. Nothing is connected yet.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_file(parsed, create_folders)
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError, TypeError, ValueError) as exc:
        raise StoreError(
            f"cannot use the database URL {describe_url(parsed)}: {_scrub(str(exc), parsed)}. {_CHECK_URL}"
        ) from None


def _scrub(message: str, url: sa.URL) -> str:
    """A driver's first line of message without the URL's credentials, which some drivers echo back."""
    for secret in url_secrets(url.render_as_string(hide_password=False)):
        message = message.replace(secret, MASK)
    first = message.strip().splitlines()[0] if message.strip() else "no detail"
    return redact(first).rstrip(".")


@contextlib.contextmanager
def database_errors(engine: sa.Engine) -> Iterator[None]:
    """Failures to reach or read the database become a StoreError naming it (no credentials) and what to do."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        detail = _scrub(str(exc.orig), engine.url)
        if engine.url.get_backend_name() == "sqlite":
            where = engine.url.database
            if "not a database" in detail or "malformed" in detail:
                raise StoreError(
                    f"{where} is not a SQLite database, or it is damaged ({detail}). {_CHECK_URL}: name a new "
                    "file to start afresh, or restore the database from a backup"
                ) from None
            raise StoreError(f"cannot open the SQLite database {where}: {detail}. {_CHECK_URL}") from None
        raise StoreError(
            f"cannot open the database {describe_url(engine.url)}: {detail}. {_CHECK_URL} and that the server "
            "runs and accepts this user"
        ) from None


def _alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


MIGRATION_LOCK = "deskroute-migrations"


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` through the migrations.

    On PostgreSQL under an advisory lock: of several processes starting together one migrates, the others
    wait for it and then find the schema already at ``revision`` (Alembic then has nothing to do).
    """
    from alembic.util import CommandError

    try:
        with held_lock(engine, MIGRATION_LOCK):
            command.upgrade(_alembic_config(engine), revision)
    except CommandError as exc:
        raise StoreError(
            f"cannot upgrade the schema to {revision!r}: {str(exc).splitlines()[0].rstrip('.')}. Name a revision "
            f"this deskroute knows (head, the latest, is {head_revision()}) or leave it out to upgrade to the latest"
        ) from None


def downgrade(engine: sa.Engine, revision: str) -> None:
    with held_lock(engine, MIGRATION_LOCK):
        command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


class Store:
    """The database: one engine, sessions, and the schema kept at the latest migration."""

    def __init__(self, url: str, *, auto_upgrade: bool = True, create_folders: Collection[Path] = ()):
        self.url = url
        self.engine = make_engine(url, create_folders=create_folders)
        with database_errors(self.engine):
            if auto_upgrade and current_revision(self.engine) != head_revision():
                upgrade(self.engine)

    @property
    def safe_url(self) -> str:
        return describe_url(self.url)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()
