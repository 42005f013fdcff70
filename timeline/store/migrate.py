"""Alembic is the only path to the schema; this runs it on a given connection.

`timeline init`, the store's readiness check and the tests all go through
here, so there is one way the schema comes to exist.

Checking a schema is every command's first step, so it does not load Alembic
(and Mako and the migration scripts, a third of a second): it reads the
revision table with one query and compares it with `REVISIONS`, which a
test holds equal to the scripts. Only changing the schema loads Alembic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeline.errors import SchemaNotReady, StoreUnavailable
from timeline.store.database import WRITE

if TYPE_CHECKING:
    from alembic.config import Config

REVISIONS = ("0001", "0002", "0003", "0004", "0005")
"""Every revision of the migration scripts, oldest first: the last is the head."""
_PACKAGE = Path(__file__).resolve().parents[1]


def script_location() -> Path:
    """Migrations ship inside the wheel; a source checkout keeps them at the top."""
    packaged = _PACKAGE / "_migrations"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "migrations"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return config


def head_revision() -> str:
    return REVISIONS[-1]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no schema), read without Alembic."""
    with reachable(engine), engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        url = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(url, f"its schema has several heads {sorted(found)}")
    return found[0] if found else None


@contextlib.contextmanager
def reachable(engine: Engine) -> Iterator[None]:
    """Driver failures to connect become one `StoreUnavailable` naming the database."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        yield
    except sa.exc.DBAPIError as err:
        raise StoreUnavailable(url, str(err.orig).strip().splitlines()[0]) from err


MIGRATING = 0x74696D65  # "time": the PostgreSQL advisory lock that migrations take
"""The key of the lock that makes concurrent upgrades take turns."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in one transaction on `engine`.

    Concurrent upgrades (several `timeline init` at once on a fresh database)
    take turns: each holds the database's write lock on SQLite, an advisory
    lock on PostgreSQL, and finds the schema where the one before left it.
    """
    from alembic import command
    from alembic.util.exc import CommandError

    config = alembic_config()
    try:
        with reachable(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATING})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except CommandError as err:  # e.g. a revision this engine does not know
        url = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(
            url, f"{err}; the database was made by a newer engine: upgrade this one"
        ) from err


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing, behind or unknown.

    A SQLite file that does not exist is refused before connecting, which would
    leave an empty file behind.
    """
    head, database = head_revision(), engine.url.database
    file = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
    if file and not Path(str(database)).exists():
        raise SchemaNotReady(engine.url.render_as_string(hide_password=True), None, head)
    current = current_revision(engine)
    if current is not None and current not in REVISIONS:
        url = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(
            url, f"its schema is at revision {current}, made by a newer engine: upgrade this one"
        )
    if current != head:
        raise SchemaNotReady(engine.url.render_as_string(hide_password=True), current, head)
