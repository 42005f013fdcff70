"""Backends for the test suite: every store test runs on SQLite and PostgreSQL.

PostgreSQL comes from `$TIMELINE_TEST_PG` (default: the local server with
trust auth). Each test gets its own schema on it, dropped afterwards. Where
the server is unreachable the PostgreSQL variants skip with the reason, except
under `CI=true`, where a missing server is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeline.store import EventStore, migrate
from timeline.store.database import create_engine

PG_URL = os.environ.get("TIMELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _postgres_problem() -> str | None:
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as err:  # any failure to connect means "no server here"
        return f"PostgreSQL is not reachable at {PG_URL} (set TIMELINE_TEST_PG): {err}"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> None:
    """Skip without a server, but fail in CI, where the server is required."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_postgres_problem())
    problem = _PG_PROBLEM[0]
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI requires PostgreSQL: {problem}")
    pytest.skip(problem)


def _postgres_schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to an empty database of `backend`, gone afterwards (PostgreSQL: a schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'timeline.db'}"
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def fresh_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL to an empty database of the backend the test is parametrized with."""
    with database(getattr(request, "param", "sqlite"), tmp_path_factory) as url:
        yield url


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with the schema at head."""
    engine = create_engine(fresh_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> EventStore:
    return EventStore(engine)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that asks for a database gets one run per backend."""
    if "fresh_url" in metafunc.fixturenames and "backend" not in metafunc.fixturenames:
        metafunc.parametrize("fresh_url", BACKENDS, indirect=True)
