"""Alembic environment: the engine is handed in by router.store.database (no URL in an ini file)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import router.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        # batch mode lets SQLite alter tables (it rebuilds them), and is a no-op cost on PostgreSQL.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
