"""PostgreSQL advisory locks, named by text and scoped to the schema deskroute's tables live in.

Advisory locks belong to the whole database, not to a schema: two deskroute installations (or two test runs)
sharing a database in different schemas must not wait for each other, so the schema is part of the key.
On SQLite (one process) there is nothing to coordinate with and every lock is granted at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

# hashtextextended gives a 64-bit key from text; current_schema() is the first schema of the search path.
_KEY = "hashtextextended(coalesce(current_schema(), '') || ':' || :name, 0)"


def is_postgresql(bind: Session | Connection | sa.Engine) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def try_job_lock(session: Session, name: str) -> bool:
    """Take the lock ``name`` until the session's transaction ends, if nobody holds it; never waits.

    A process killed while holding it loses its connection, and PostgreSQL releases the lock with it.
    """
    if not is_postgresql(session):
        return True
    return bool(session.execute(sa.text(f"select pg_try_advisory_xact_lock({_KEY})"), {"name": name}).scalar())


@contextlib.contextmanager
def held_lock(engine: sa.Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` on a connection of its own for the block, waiting for it if another has it."""
    if not is_postgresql(engine):
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"select pg_advisory_lock({_KEY})"), {"name": name})
        try:
            yield
        finally:
            conn.execute(sa.text(f"select pg_advisory_unlock({_KEY})"), {"name": name})
