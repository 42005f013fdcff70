"""Engines for the two backends, configured the way the store relies on.

SQLite: WAL so readers never block the writer; Python's implicit
transactions off so SQLAlchemy's BEGIN is the only one, and appends ask for
`BEGIN IMMEDIATE` so two writers queue at the start instead of failing at
commit. PostgreSQL: psycopg 3, whatever the URL's driver says.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from timeline.environment import DEFAULT_URL, LOCK_TIMEOUT, default_url
from timeline.errors import StoreUnavailable

__all__ = ["DEFAULT_URL", "LOCK_TIMEOUT", "WRITE", "create_engine", "default_url"]

WRITE = {"timeline_write": True}


def normalise_url(url: str | URL) -> URL:
    """Point PostgreSQL URLs at psycopg 3, the driver the engine supports."""
    if not str(url).strip():
        raise StoreUnavailable("''", "expected a URL such as sqlite:///timeline.db")
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as err:
        raise StoreUnavailable(str(url), "expected a URL such as sqlite:///timeline.db") from err
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def lock_timeout() -> float:
    """Seconds a statement waits for a lock another writer holds: `$TIMELINE_LOCK_TIMEOUT`,
    else 60. Then it fails, and a command says so in one line."""
    value = os.environ.get(LOCK_TIMEOUT, "")
    try:
        seconds = float(value) if value else 60.0
    except ValueError:
        raise StoreUnavailable("", f"expected ${LOCK_TIMEOUT} in seconds, got {value!r}") from None
    if not seconds > 0:
        raise StoreUnavailable("", f"expected ${LOCK_TIMEOUT} above 0, got {value!r}")
    return seconds


def create_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for `url`; nothing connects until first use. Its connections wait
    `lock_timeout()` for locks (SQLite's busy timeout, PostgreSQL's `lock_timeout`)."""
    parsed = normalise_url(url)
    waits = lock_timeout()
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        shown = parsed.render_as_string(hide_password=True)
        raise StoreUnavailable(shown, "expected a sqlite:// or postgresql:// URL")
    if parsed.get_backend_name() != "sqlite":
        import psycopg.types.json  # the driver loads with the first PostgreSQL engine

        engine = sa.create_engine(parsed, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _session(dbapi_connection: Any, _record: Any) -> None:
            # The store reads rows through the driver (`timeline.rows`):
            # times in UTC, JSON decoded by orjson.
            psycopg.types.json.set_json_loads(orjson.loads, dbapi_connection)
            dbapi_connection.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.execute(f"SET lock_timeout = {int(waits * 1000)}")
            # The read side asks many questions of a few milliseconds each; compiling
            # one with JIT cost more than running it (a dossier's positions as JSON:
            # 45 ms of 190).
            dbapi_connection.execute("SET jit = off")
            dbapi_connection.commit()

        return engine
    engine = sa.create_engine(parsed, connect_args={"timeout": waits}, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if parsed.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache instead of 2: the indexes of a million events
        # stop being read back from disk on every insert and page.
        cursor.execute("PRAGMA cache_size=-65536")
        # Copy the log back into the database every 64 MiB instead of 4: a page
        # of the read models changed by one catch-up is often changed by the
        # next, and is then copied once (a catch-up of 1,000 events: 20% faster).
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("timeline_write", False)
        # Straight to the driver: through `exec_driver_sql` this one statement
        # costs a fifth of a one-event append.
        driver: Any = conn.connection.driver_connection
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        try:
            driver.execute(statement)
        except sqlite3.Error as err:
            # As SQLAlchemy would raise it ("database is locked" after the timeout).
            raise sa.exc.DBAPIError.instance(statement, None, err, sqlite3.Error) from err

    return engine
