"""Envelopes to and from the raw driver values of the `events` table.

The store writes and reads events through the DBAPI driver, not through
SQLAlchemy's type processing: at a million events the per-value bind and
result processors cost more than the database itself. This module is the
one place that knows how each backend keeps each column, and it must keep
them exactly as the `timeline.schema` types do, so that rows written here
read back through SQLAlchemy too (and the other way round):

* SQLite: ids as 32 hex digits, times as naive UTC text
  ``YYYY-MM-DD HH:MM:SS.ffffff`` (which sorts correctly), JSON as text.
* PostgreSQL: native ``uuid``, ``timestamptz`` and ``jsonb``; a few rows go
  in by one ``INSERT``, many by ``COPY``, and psycopg hands back UUIDs,
  aware datetimes and decoded JSON.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from events import Envelope, Occurred, Precision
from events.codec import event_to_dict, source_to_dict, stored_event, stored_source
from timeline.store.schema import events as table

COLUMNS = tuple(column.name for column in table.c)
"""The `events` columns, in the order raw rows hold them."""
POSITION, VERSION, TYPE = (COLUMNS.index(name) for name in ("position", "version", "type"))

_RAW: tuple[sa.ColumnElement[Any], ...] = tuple(
    # JSON as text: decoded here, and only for the rows a reader keeps.
    sa.type_coerce(sa.cast(column, sa.Text), sa.types.NullType()).label(column.name)
    if column.name in ("payload", "sources")
    else sa.type_coerce(column, sa.types.NullType())
    for column in table.c
)


def select(*, sources: bool = True) -> sa.Select[Any]:
    """`SELECT` every column of `events` as the driver's values, unprocessed.

    Without `sources` the citations are left out (NULL) and envelopes carry
    none: folds never read them, and they are a third of a row's decoding.
    """
    if sources:
        return sa.select(*_RAW)
    return sa.select(*_RAW[:-1], sa.null().label("sources"))


RawRow = Sequence[Any]

LOOKUP_CHUNK = 500
"""Values per lookup statement: within every backend's limit on parameters and columns."""


def chunks(values: Sequence[Any], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def among(
    column: sa.ColumnElement[Any], values: Sequence[Any], dialect: str
) -> sa.ColumnElement[bool]:
    """``column IN values``, spelled so that PostgreSQL probes an index per value.

    Without statistics (after a bulk import, or with autovacuum off) the
    planner takes ``dossier = d AND key IN (...)`` through the ``(dossier,
    version)`` index and filters every event of the dossier: 97-139 ms for
    500 keys at a million events. As a semi-join on ``unnest`` of one array
    it probes ``(dossier, key)`` once per key: 3-11 ms.
    """
    if dialect != "postgresql":
        return column.in_(values)
    array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
    return column.in_(sa.select(sa.func.unnest(array)))


@functools.lru_cache(maxsize=65_536)
def _sqlite_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def time_to_sqlite(moment: dt.datetime | None) -> str | None:
    """An aware time as SQLite keeps it (UTC text); None stays NULL."""
    return None if moment is None else _sqlite_time(moment)


def time_from_sqlite(text: str) -> dt.datetime:
    """A time SQLite keeps as UTC text, read back aware."""
    return _sqlite_parse(text)


def time_from_postgresql(moment: dt.datetime) -> dt.datetime:
    """A `timestamptz` psycopg read back (the session is in UTC), as an aware UTC time."""
    return _pg_time(moment)


def time_reader(dialect: str) -> Callable[[Any], dt.datetime]:
    """How a time the driver of `dialect` reads comes back aware, in UTC."""
    return time_from_sqlite if dialect == "sqlite" else time_from_postgresql


def aware_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    """An aware time as PostgreSQL takes it; a naive one is refused (see `aware`)."""
    return None if moment is None else aware(moment)


@functools.lru_cache(maxsize=65_536)
def _sqlite_parse(text: str) -> dt.datetime:
    # Day-precision facts share their bounds: a cache saves most parses.
    # The offset is parsed, not set: `replace(tzinfo=...)` costs six parses.
    return dt.datetime.fromisoformat(text + "+00:00")


_PRECISIONS = {str(precision): precision for precision in Precision}
"""By stored name: a lookup, where calling the enum runs its metaclass."""


def _pg_time(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is dt.UTC else moment.astimezone(dt.UTC)


def _same_time(moment: dt.datetime) -> dt.datetime:
    return moment


def _same(value: uuid.UUID) -> uuid.UUID:
    return value


def _hex_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(hex=value)


def _payload(envelope: Envelope) -> str:
    return orjson.dumps(event_to_dict(envelope.event)).decode()


def _sources(envelope: Envelope) -> str:
    return orjson.dumps([source_to_dict(s) for s in envelope.sources]).decode()


def aware(moment: dt.datetime) -> dt.datetime:
    """`moment`, refused if naive: the store keeps UTC, and a naive time is a caller's bug."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: timestamps must be timezone-aware")
    return moment


Fact = tuple[Any, ...]
"""An event's row without its place in the store (`fact`): what `placed` numbers."""


def fact(envelope: Envelope, dialect: str) -> Fact:
    """The raw values of an event's row that do not depend on where it is stored, as
    `dialect` keeps them: those `COLUMNS` holds but position, version and recorded."""
    occurred = envelope.occurred
    sqlite = dialect == "sqlite"
    time: Callable[[dt.datetime], Any] = _sqlite_time if sqlite else _same_time
    return (
        envelope.id.hex if sqlite else envelope.id,
        envelope.dossier,
        envelope.key,
        envelope.type,
        envelope.schema_version,
        time(occurred.start),
        time(occurred.end),
        str(occurred.precision),
        _payload(envelope),
        _sources(envelope),
    )


FACT_COLUMNS = tuple(name for name in COLUMNS if name not in ("position", "version", "recorded"))
"""The columns of a `fact`, in its order."""


def copy_text(values: Fact) -> str:
    """A fact as PostgreSQL's COPY reads a row's columns (`FACT_COLUMNS`, tab-separated,
    text escaped; a fact holds no NULL): built where the event is decoded, so that the
    appending process only adds where the row goes (`copy_facts`)."""
    return "\t".join(_copy_value(value) for value in values)


def _copy_value(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if not isinstance(value, str):
        return str(value)  # a number, a UUID
    for special, escaped in _COPY_ESCAPES:
        if special in value:
            value = value.replace(special, escaped)
    return value


_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
"""What COPY's text format escapes, backslash first."""


def placed(
    values: Fact, position: int, version: int, recorded: dt.datetime, dialect: str
) -> tuple[Any, ...]:
    """The raw values of one row, in `COLUMNS` order: a `fact` at its place."""
    aware(recorded)
    id_, dossier, key, type_, schema_version, start, end, precision, payload, sources = values
    moment = _sqlite_time(recorded) if dialect == "sqlite" else recorded
    return (
        position,
        id_,
        dossier,
        key,
        version,
        type_,
        schema_version,
        start,
        end,
        precision,
        moment,
        payload,
        sources,
    )


def encode(
    envelope: Envelope, position: int, version: int, recorded: dt.datetime, dialect: str
) -> tuple[Any, ...]:
    """The raw values of one row, in `COLUMNS` order, as `dialect` keeps them."""
    return placed(fact(envelope, dialect), position, version, recorded, dialect)


def execute(
    conn: Connection,
    statements: str | Sequence[str],
    parameters: Sequence[Any] | Mapping[str, Any] | None = None,
    *,
    many: bool = False,
) -> Any:
    """Run statements in order on the driver of `conn`; returns the cursor of the last.

    `parameters` are the last statement's (a mapping for named ones on
    PostgreSQL). PostgreSQL gets all the statements in one round trip, its
    parameters bound by psycopg on the client (the
    server binds them for one statement at a time): psycopg reads ``%`` in
    every statement then, so only the last may hold one. SQLite takes them
    one by one, as cheaply. SQLAlchemy's own `exec_driver_sql` costs several
    times what SQLite takes to run a small statement, which is most of a
    one-event append. Errors come out as SQLAlchemy's, so callers handle one
    family of exceptions.
    """
    statements = [statements] if isinstance(statements, str) else list(statements)
    driver: Any = conn.connection.driver_connection
    sqlite = conn.dialect.name == "sqlite"
    cursor = driver.cursor() if sqlite else conn.dialect.loaded_dbapi.ClientCursor(driver)
    if not sqlite:
        statements = ["; ".join(statements)]
    *first, last = statements
    try:
        for statement in first:
            cursor.execute(statement)
        if many:
            cursor.executemany(last, parameters or ())
        elif parameters is None:
            cursor.execute(last)
        else:
            cursor.execute(last, parameters)
        while not sqlite and cursor.nextset():
            pass  # to the last statement's result
    except conn.dialect.loaded_dbapi.Error as err:
        raise sa.exc.DBAPIError.instance(
            "; ".join(statements), parameters, err, conn.dialect.loaded_dbapi.Error
        ) from err
    return cursor


COPY_FROM = 16
"""From this many rows PostgreSQL takes them by COPY: fewer go in one INSERT,
in the same round trip as the statements that follow it."""


def insert(conn: Connection, rows: Sequence[tuple[Any, ...]], then: Sequence[str] = ()) -> None:
    """Insert encoded rows on `conn`'s transaction, then run the statements `then`.

    SQLite: one prepared INSERT for every row. PostgreSQL: one INSERT of a
    few rows and `then` in a single round trip, or COPY for many.
    """
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        marks = ", ".join("?" * len(COLUMNS))
        if rows:
            execute(conn, f"INSERT INTO events ({names}) VALUES ({marks})", rows, many=True)
        if then:
            execute(conn, then)
        return
    if len(rows) < COPY_FROM:
        marks = ", ".join(["%s"] * len(COLUMNS))
        tuples = ", ".join([f"({marks})"] * len(rows))
        inserting = [f"INSERT INTO events ({names}) VALUES {tuples}"] if rows else []
        if inserting or then:
            execute(conn, [*inserting, *then], [value for row in rows for value in row] or None)
        return
    copy_rows(conn, "events", COLUMNS, rows, then)


def copy_rows(
    conn: Connection,
    into: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    then: Sequence[str] = (),
) -> None:
    """`copy_in` of rows of raw values, each adapted by the driver."""

    def feed(copy: Any) -> None:
        for row in rows:
            copy.write_row(row)

    copy_in(conn, into, columns, feed, then)


def copy_in(
    conn: Connection,
    into: str,
    columns: Sequence[str],
    feed: Callable[[Any], None],
    then: Sequence[str] = (),
) -> None:
    """COPY into the table `into` (`columns`) on `conn`'s transaction, on PostgreSQL, what
    `feed` writes to the copy (rows, or text), then run the statements `then`."""
    names = ", ".join(f'"{name}"' for name in columns)
    driver = conn.connection.driver_connection
    assert driver is not None  # a live connection inside a transaction
    statement = f"COPY {into} ({names}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            feed(copy)
    except conn.dialect.loaded_dbapi.Error as err:
        # As SQLAlchemy would have raised it, so callers handle one error type.
        failed = conn.dialect.loaded_dbapi.Error
        raise sa.exc.DBAPIError.instance(statement, None, err, failed) from err
    if then:
        execute(conn, then)


def copy_facts(
    conn: Connection,
    facts: Sequence[str],
    first: int,
    version: int,
    recorded: dt.datetime,
    then: Sequence[str] = (),
) -> None:
    """Insert facts in COPY text (`copy_text`) on PostgreSQL, numbered from position
    `first` and, in their dossier, from `version`, then run the statements `then`."""
    moment = aware(recorded).isoformat()
    data = "".join(
        f"{fact}\t{first + at}\t{version + at}\t{moment}\n" for at, fact in enumerate(facts)
    )
    columns = (*FACT_COLUMNS, "position", "version", "recorded")
    copy_in(conn, "events", columns, lambda copy: copy.write(data), then)


def heads(
    conn: Connection, dossiers: Sequence[str], before: Sequence[str] = ()
) -> tuple[list[int], int, dt.datetime | None]:
    """Each dossier's version, the last position and its recorded time, in few statements.

    The statements `before` run first, on PostgreSQL in the same round trip.

    One scalar subquery per dossier, not a `GROUP BY`: each is a single seek
    into the unique ``(dossier, version)`` index, however long the dossier.
    A statement asks for at most `LOOKUP_CHUNK` dossiers, well within the
    columns a result may have (1,664 on PostgreSQL, 2,000 on SQLite).
    """
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    last = "SELECT {} FROM events ORDER BY position DESC LIMIT 1"
    versions: list[int] = []
    position, recorded = 0, None
    for chunk in chunks(dossiers) if dossiers else [()]:
        columns = [f"({last.format('position')})", f"({last.format('recorded')})"]
        columns += [f"(SELECT max(version) FROM events WHERE dossier = {mark})"] * len(chunk)
        query = f"SELECT {', '.join(columns)}"
        cursor = execute(conn, [*before, query], tuple(chunk))
        position, recorded, *found = cursor.fetchone()
        before = ()
        versions += [version or 0 for version in found]
    if recorded is not None:
        recorded = _sqlite_parse(recorded) if conn.dialect.name == "sqlite" else _pg_time(recorded)
    return versions, position or 0, recorded


def select_after(conn: Connection, before: Sequence[str], query: sa.Select[Any]) -> list[RawRow]:
    """The rows of `query` on PostgreSQL, run after the statements `before` in one round trip.

    On an autocommit connection the statements are one implicit
    transaction, which ends with them. The query's parameters go to the
    driver as given, without SQLAlchemy's bind processing: fine for ints,
    strings and aware datetimes (see `aware`).
    """
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    rows: list[RawRow] = execute(conn, [*before, str(compiled)], compiled.params).fetchall()
    return rows


def decoder(dialect: str) -> Callable[[RawRow], Envelope]:
    """How to turn one raw row (selected with `select()`) into an envelope, for `dialect`."""
    time: Callable[[Any], dt.datetime] = _pg_time
    ident: Callable[[Any], uuid.UUID] = _same
    if dialect == "sqlite":
        time, ident = _sqlite_parse, _hex_uuid

    @functools.lru_cache(maxsize=65_536)
    def occurred(start: Any, end: Any, precision: str) -> Occurred:
        # Facts of one day share their interval: build it once.
        return Occurred(time(start), time(end), _PRECISIONS[precision])

    def decode(row: RawRow) -> Envelope:
        (position, id_, dossier, key, version, type_, schema_version, *rest) = row
        (start, end, precision, recorded, payload, sources) = rest
        return Envelope(
            id=ident(id_),
            key=key,
            dossier=dossier,
            occurred=occurred(start, end, precision),
            event=stored_event(type_, schema_version, orjson.loads(payload)),
            sources=() if sources is None else tuple(map(stored_source, orjson.loads(sources))),
            recorded=time(recorded),
            position=position,
            version=version,
        )

    return decode


def start_and_position(row: RawRow, dialect: str) -> tuple[dt.datetime, int]:
    """The (valid start, position) of a raw row: where a page by valid time ends."""
    start = row[COLUMNS.index("occurred_start")]
    moment = _sqlite_parse(start) if dialect == "sqlite" else _pg_time(start)
    return moment, row[POSITION]


def fetch(conn: Connection, query: sa.Select[Any]) -> list[Envelope]:
    """Run a query built on `select()` and decode every row."""
    decode = decoder(conn.dialect.name)
    return [decode(row) for row in conn.execute(query).all()]
