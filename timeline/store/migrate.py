"""Alembic is the only path to the schema; this runs it on a given connection.

`timeline init`, the store's readiness check and the tests all go through
here, so there is one way the schema comes to exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Engine

from timeline.errors import SchemaNotReady, StoreUnavailable
from timeline.store.database import WRITE

_PACKAGE = Path(__file__).resolve().parents[1]


def script_location() -> Path:
    """Migrations ship inside the wheel; a source checkout keeps them at the top."""
    packaged = _PACKAGE / "_migrations"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with reachable(engine), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def reachable(engine: Engine) -> Iterator[None]:
    """Driver failures to connect become one `StoreUnavailable` naming the database."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        yield
    except sa.exc.DBAPIError as err:
        raise StoreUnavailable(url, str(err.orig).strip().splitlines()[0]) from err
    except CommandError as err:  # e.g. a revision this engine does not know
        raise StoreUnavailable(
            url, f"{err}; the database was made by a newer engine: upgrade this one"
        ) from err


MIGRATING = 0x74696D65  # "time": the PostgreSQL advisory lock that migrations take
"""The key of the lock that makes concurrent upgrades take turns."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in one transaction on `engine`.

    Concurrent upgrades (several `timeline init` at once on a fresh database)
    take turns: each holds the database's write lock on SQLite, an advisory
    lock on PostgreSQL, and finds the schema where the one before left it.
    """
    config = alembic_config()
    with reachable(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATING})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing, behind or unknown."""
    head, current = head_revision(), current_revision(engine)
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is not None and current not in known:
        url = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(
            url, f"its schema is at revision {current}, made by a newer engine: upgrade this one"
        )
    if current != head:
        raise SchemaNotReady(engine.url.render_as_string(hide_password=True), current, head)
