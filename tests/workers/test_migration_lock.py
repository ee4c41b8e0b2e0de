"""Processes starting together against an empty PostgreSQL schema: one migrates, the others wait, all come up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from router.store import head_revision
from tests.conftest import REPO_ROOT, _fresh_pg_schema

# Each process opens the store (which migrates an old schema) and says which revision it found afterwards.
OPEN_STORE = """
import sys
from router.store import Store, current_revision
store = Store(sys.argv[1])
print(current_revision(store.engine))
"""


@pytest.fixture
def empty_schema(postgres_url: str) -> Iterator[str]:
    yield from _fresh_pg_schema(postgres_url)


def test_processes_starting_at_once_migrate_once_and_all_come_up(empty_schema: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, empty_schema],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == head_revision()
    engine = sa.create_engine(empty_schema)
    with engine.connect() as conn:
        # One row in alembic_version, and the tables of every migration there once.
        assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
        assert conn.execute(sa.text("select count(*) from worker_heartbeats")).scalar() == 0
    engine.dispose()
