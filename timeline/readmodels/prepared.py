"""Queries the read side asks many times a question: built and compiled once, run on the
driver.

A day's diff asks some thirty small questions of the version tables, each a
fraction of a millisecond of the database's time; SQLAlchemy took several
times that to build each statement, work out its cache key and set up its
execution. A `Prepared` query is built once per dialect, its values named
parameters, compiled once, and run on the driver's own cursor
(`rows.execute`). A list travels as one parameter (`member`): a JSON array
that SQLite reads with ``json_each``, an array that PostgreSQL unnests, so a
query keeps one text whatever the list's length. Times go in as the store
keeps them; results are the driver's values (SQLite's times are text).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from timeline.store import rows

Build = Callable[[str], sa.Select[Any] | sa.CompoundSelect[Any]]
"""Builds the query for a dialect's name."""

_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]
"""The SQL; for a positional driver (SQLite) the names of its parameters in order; and
the values the query itself gives (a ``LIMIT``, a literal)."""


_CURSORS = itertools.count()
"""Names for PostgreSQL's server cursors, unique within the process."""


class Prepared:
    """One query, compiled once per dialect."""

    def __init__(self, build: Build) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def _text(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._build(dialect.name).compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            given = {name: value for name, value in compiled.params.items() if value is not None}
            found = self._compiled[dialect.name] = (compiled.string, order, given)
        return found

    def _parameters(self, conn: Connection, values: dict[str, Any]) -> tuple[str, Any]:
        text, order, given = self._text(conn)
        sqlite = conn.dialect.name == "sqlite"
        bound = {name: _bound(value, sqlite) for name, value in {**given, **values}.items()}
        return text, bound if order is None else [bound[name] for name in order]

    def rows(self, conn: Connection, **values: Any) -> list[Any]:
        """The rows the query gives with these values of its parameters."""
        text, parameters = self._parameters(conn, values)
        found: list[Any] = rows.execute(conn, text, parameters).fetchall()
        return found

    def pages(self, conn: Connection, size: int, **values: Any) -> Iterator[list[Any]]:
        """`rows`, `size` at a time as the driver reads them, so that memory holds one
        page however many there are: SQLite steps through the result as it is asked;
        PostgreSQL reads it through a cursor on the server (a client cursor would hold
        all of it). `conn` may run other statements between pages."""
        text, parameters = self._parameters(conn, values)
        if conn.dialect.name == "sqlite":
            cursor = rows.execute(conn, text, parameters)
            while page := cursor.fetchmany(size):
                yield page
            return
        driver: Any = conn.connection.driver_connection
        with driver.cursor(name=f"pages_{next(_CURSORS)}") as cursor:
            try:
                cursor.execute(text, parameters)
                while page := cursor.fetchmany(size):
                    yield page
            except conn.dialect.loaded_dbapi.Error as err:
                raise sa.exc.DBAPIError.instance(
                    text, parameters, err, conn.dialect.loaded_dbapi.Error
                ) from err

    def scalars(self, conn: Connection, **values: Any) -> list[Any]:
        """The first column of `rows`."""
        return [row[0] for row in self.rows(conn, **values)]


def _bound(value: Any, sqlite: bool) -> Any:
    if isinstance(value, dt.datetime):
        return rows.time_to_sqlite(value) if sqlite else rows.aware(value)
    if isinstance(value, list | tuple | set | frozenset):
        return orjson.dumps(list(value)).decode() if sqlite else list(value)
    return value


def member(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    """``column IN`` the list given as parameter `name`: one parameter on both backends,
    each value an index probe (see `rows.among` on PostgreSQL)."""
    if dialect == "sqlite":
        listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(
            sa.func.json_each(sa.bindparam(name))
        )
        return column.in_(listed)
    array = sa.bindparam(name, type_=postgresql.ARRAY(column.type))
    return column.in_(sa.select(sa.func.unnest(array)))


def listed(name: str, kind: sa.types.TypeEngine[Any], dialect: str) -> sa.TableValuedAlias:
    """The list given as parameter `name` as a table of one column, ``value``, to join
    from: the values are probes a query makes one by one, in the index it chooses."""
    if dialect == "sqlite":
        return sa.func.json_each(sa.bindparam(name)).table_valued("value")
    array = sa.bindparam(name, type_=postgresql.ARRAY(kind))
    return sa.func.unnest(array).table_valued("value").render_derived()


def known(
    table: sa.FromClause, known_at: bool, name: str = "known_at"
) -> list[sa.ColumnElement[bool]]:
    """The rows of a version or link table known at the time given as parameter `name`
    (`known_at` true), or known now (false), by the rule `timeline.readmodels.reader` states."""
    c = table.c
    if not known_at:
        return [c.recorded_to.is_(None)]
    moment = sa.bindparam(name, type_=c.recorded_from.type)
    return [c.recorded_from < moment, sa.or_(c.recorded_to.is_(None), c.recorded_to >= moment)]


def in_force(table: sa.FromClause, name: str = "as_of") -> list[sa.ColumnElement[bool]]:
    """The versions counting as of the time given as parameter `name`, in valid time."""
    c = table.c
    moment = sa.bindparam(name, type_=c.valid_from.type)
    return [c.valid_from < moment, sa.or_(c.valid_to.is_(None), c.valid_to >= moment)]
