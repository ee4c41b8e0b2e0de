"""Shared fixtures: the repository root, ../shared datasets, and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ENV = "DESKROUTE_TEST_DATABASE_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """../shared/datasets beside the repository; tests that need it skip where a clone lacks it."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is absent (development datasets are not part of the repository)")
    return SHARED_DATASETS


def _pg_base_url() -> str:
    url = os.environ.get(PG_ENV, PG_DEFAULT)
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL; skips when there is none, but fails under CI=true."""
    url = _pg_base_url()
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver error means the server is not usable
        message = f"PostgreSQL at {url} is unreachable ({type(exc).__name__}); set {PG_ENV}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


def _fresh_pg_schema(base: str) -> Iterator[str]:
    """A private schema per test, so tests (and parallel runs) never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'deskroute.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    yield from _fresh_pg_schema(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'deskroute.db'}"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run CLI commands in a private folder with a private SQLite store and data dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", f"sqlite:///{tmp_path / 'deskroute.db'}")
    monkeypatch.setenv("DESKROUTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DESKROUTE_CONFIG", raising=False)
    return tmp_path
