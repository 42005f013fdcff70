"""Reference systems the benchmark runner compares the engine's store with.

Two references take the same events (as plain dict "rows") as the engine, in
the same run on the same machine, so their figures can be read side by side:

* `eventsourcing_reference`: the `eventsourcing` library (SQLite or
  PostgreSQL persistence), one aggregate per dossier, batched saves,
  notification-log reads and aggregate reconstruction. It shows what a
  general-purpose event-sourcing library costs for the same work.
* `raw_reference`: the bare driver (`sqlite3` with `executemany`, psycopg 3
  with ``COPY``) into a table equivalent to the engine's `events` table. It is
  the floor: what the database itself costs, with nothing on top.

Each function streams the caller's batches (a million events never sit in
memory at once) and times only its own work per batch (conversion of the rows
plus the database), not the production of the batches. Peak memory is the
caller's to measure (it runs each reference in a child process).

Both references work beside the engine without touching its tables: SQLite
gets a separate file next to the engine's (``<name>-eventsourcing.db``,
``<name>-raw.db``); PostgreSQL gets its own tables in the same database
(``benchdossiers_events``, ``raw_events``; the library also creates a
``stored_event_uuid`` type and an ``es_insert_events_uuid`` function). They are
dropped before and after each call, so reruns start clean and leave nothing
behind.

Durability is matched to the engine's: SQLite in WAL mode with
``synchronous=NORMAL`` for both references (the library would otherwise fsync
every commit), PostgreSQL with its defaults everywhere. On PostgreSQL the
library inserts through its own database function instead of its default
pipelined statements, which can hang on large batches with psycopg 3.3.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import attrs
import orjson
import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory
from eventsourcing.utils import Environment
from psycopg import sql
from psycopg.types.json import set_json_loads
from sqlalchemy.engine import URL, make_url

Row = dict[str, Any]
"""One event as the runner hands it over: id, dossier, key, type, schema_version,
occurred_start, occurred_end (ISO 8601), precision, payload (dict) and sources (list)."""

PAGE = 10_000
"""Rows per notification-log page, server-side cursor fetch and the like."""
SAMPLE = 200_000
"""Events read back by every system (the first ones): a rate, not a total."""

NAMESPACE = uuid.UUID("6f1c3c52-0f59-4c1e-9a43-3a8f3f0c2b7e")
"""Namespace of the dossier aggregate ids: `uuid5(NAMESPACE, dossier)`."""

RAW_TABLE = "raw_events"

RAW_COLUMNS = (
    "position",
    "id",
    "dossier",
    "key",
    "version",
    "type",
    "schema_version",
    "occurred_start",
    "occurred_end",
    "occurred_precision",
    "recorded",
    "payload",
    "sources",
)
"""The columns of the engine's `events` table, in its order."""


@attrs.frozen
class Figures:
    """What one reference measured, as rates, so systems compare directly.

    Every rate is events per second of time spent in the reference's own work
    (conversion plus database), never in the caller's row production.
    """

    batch_import: float
    """Events/s over all batches, each batch stored in one transaction."""
    single_append: float
    """Events/s appending the `single` rows one transaction (commit) each."""
    read: float
    """Events/s reading every event back in recording order, decoded to an object."""
    replay: float
    """Events/s rebuilding each dossier from its own events, in version order."""
    events: int
    """How many events the batch import stored."""


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


class _Clock:
    """Accumulates the time spent inside `with clock:` blocks, and nothing else.

    Used around the work of each batch, so that the caller's generator (which
    runs between batches) is never counted.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._start


def _backend(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"expected a sqlite:// or postgresql:// URL, got {url!r}")
    return parsed


def _sibling(url: URL, suffix: str) -> Path:
    """A file next to the engine's SQLite database, so the references never share its tables."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ValueError(f"the references need an SQLite file path, got {url.database!r}")
    path = Path(database).resolve()
    return path.with_name(f"{path.stem}{suffix}")


def _remove_sqlite(path: Path) -> None:
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        path.with_name(name).unlink(missing_ok=True)


def _pg_params(url: URL) -> dict[str, Any]:
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password or "",
        "dbname": url.database or "postgres",
    }


def _pg_drop(url: URL, table: str, *others: sql.SQL) -> None:
    with closing(psycopg.connect(**_pg_params(url), autocommit=True)) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        for statement in others:
            conn.execute(statement)


# -- eventsourcing ------------------------------------------------------------------------------


class Dossier(Aggregate):
    """One dossier's events, as an `eventsourcing` aggregate.

    Its state is deliberately cheap (a count and the last key): replaying it
    measures what the library spends on reading, decoding and applying
    events, not what a particular projection costs. The first row of a
    dossier is its "created" event (`Opened`), so that the library stores
    exactly one event per row, like the engine.
    """

    class Event(Aggregate.Event):
        pass

    class Recorded(Event):
        """One row, with the same fields the engine stores."""

        key: str
        type: str
        schema_version: int
        occurred_start: str
        occurred_end: str
        precision: str
        payload: dict[str, Any]
        sources: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.count += 1
            aggregate.last_key = self.key

    class Opened(Recorded, Aggregate.Created):
        """The dossier's first row: creates the aggregate."""

        def apply(self, aggregate: Any) -> None:
            aggregate.count = 1
            aggregate.last_key = self.key

    @classmethod
    def open(cls, row: Row) -> Dossier:
        """A new dossier whose first event is `row`; its id derives from the dossier name."""
        return cls._create(cls.Opened, id=dossier_id(row["dossier"]), **_fields(row))

    def record(self, row: Row) -> None:
        self.trigger_event(self.Recorded, **_fields(row))


def dossier_id(dossier: str) -> uuid.UUID:
    """The aggregate id of a dossier: stable, so the reference can find it again."""
    return uuid.uuid5(NAMESPACE, dossier)


def _fields(row: Row) -> Row:
    # The library's JSON transcoder takes strings, numbers, dicts and lists as they are.
    return {
        "key": row["key"],
        "type": row["type"],
        "schema_version": row["schema_version"],
        "occurred_start": row["occurred_start"],
        "occurred_end": row["occurred_end"],
        "precision": row["precision"],
        "payload": row["payload"],
        "sources": row["sources"],
    }


class _NormalSyncPool(SQLiteConnectionPool):
    """The library's SQLite pool with ``synchronous=NORMAL``, as the engine sets it.

    Left at the default (FULL), every commit would fsync the WAL, and the
    single-append figure would measure the disk rather than the library.
    """

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute("PRAGMA synchronous=NORMAL")
        return connection


class BenchDossiers(Application[uuid.UUID]):
    """The `eventsourcing` application of the benchmark (its tables: ``benchdossiers_*``).

    Snapshotting stays off and there is no aggregate cache, so `repository.get`
    replays every stored event of an aggregate.
    """

    is_snapshotting_enabled = False
    log_section_size = PAGE

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        factory = super().construct_factory(env)
        if isinstance(factory, SQLiteFactory):
            # Before any connection exists: the recorders are constructed after this.
            factory.datastore.pool = _NormalSyncPool(db_name=factory.datastore.pool.db_name)
        return factory


EVENTSOURCING_TABLE = f"{BenchDossiers.name.lower()}_events"
"""The PostgreSQL table the library names after the application."""

EVENTSOURCING_PG_OBJECTS = (
    sql.SQL("DROP FUNCTION IF EXISTS es_insert_events_uuid(stored_event_uuid[])"),
    sql.SQL("DROP TYPE IF EXISTS stored_event_uuid"),
)
"""What else the library creates (in the public schema, whatever the application's name)."""


def _eventsourcing_env(url: URL) -> dict[str, str]:
    common = {
        "IS_SNAPSHOTTING_ENABLED": "n",
        "AGGREGATE_CACHE_MAXSIZE": "",
        "COMPRESSOR_TOPIC": "",
        "CIPHER_TOPIC": "",
    }
    if url.get_backend_name() == "sqlite":
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(_sibling(url, "-eventsourcing.db")),
        }
    params = _pg_params(url)
    return {
        **common,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params["dbname"]),
        "POSTGRES_HOST": str(params["host"]),
        "POSTGRES_PORT": str(params["port"]),
        "POSTGRES_USER": str(params["user"]),
        "POSTGRES_PASSWORD": str(params["password"]),
        # The default insert runs in psycopg's pipeline mode, which (psycopg 3.3) can stop
        # sending a large batch half-way and then wait for its result forever. The library's
        # insert function sends the batch as one plain statement instead.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
    }


def _eventsourcing_clean(url: URL) -> None:
    if url.get_backend_name() == "sqlite":
        _remove_sqlite(_sibling(url, "-eventsourcing.db"))
    else:
        _pg_drop(url, EVENTSOURCING_TABLE, *EVENTSOURCING_PG_OBJECTS)


def eventsourcing_reference(url: str, batches: Iterable[list[Row]], single: list[Row]) -> Figures:
    """Run the `eventsourcing` library over the rows and return its figures.

    * batch_import: per input batch, one event per row triggered on the
      dossier aggregates (kept in memory, created by their first row), then
      one `app.save` of the batch's events, in row order (one transaction).
    * single_append: one `app.save` (one transaction) per row of `single`.
    * read: the first `SAMPLE` notifications in pages of `PAGE`, each
      decoded to its domain event with `app.mapper.to_domain_event`.
    * replay: `app.repository.get` of every aggregate (all its events, no
      snapshots), counting the events the aggregates were rebuilt from.

    Configuration: no snapshots, no aggregate cache, SQLite with
    ``synchronous=NORMAL`` (as the engine), PostgreSQL inserting through the
    library's own insert function rather than its pipelined default, which
    can hang on large batches (see `_eventsourcing_env`).

    Beware that the library reads an aggregate's stored events in one
    ``fetchall``: replaying a dossier holds all its records in memory at once
    (about 0.75 KB per event), so peak memory grows with the largest dossier.
    """
    parsed = _backend(url)
    _eventsourcing_clean(parsed)
    app = BenchDossiers(env=_eventsourcing_env(parsed))
    try:
        dossiers: dict[str, Dossier] = {}
        clock = _Clock()
        events = 0
        for batch in batches:
            with clock:
                pending: list[CanMutateAggregate[uuid.UUID]] = []
                for row in batch:
                    pending.extend(_es_record(dossiers, row))
                app.save(*pending)
                events += len(batch)
        batch_import = _rate(events, clock.seconds)

        clock = _Clock()
        for row in single:
            with clock:
                app.save(*_es_record(dossiers, row))
        single_append = _rate(len(single), clock.seconds)

        read_count, seconds = _es_read(app)
        read = _rate(read_count, seconds)

        ids = [aggregate.id for aggregate in dossiers.values()]
        dossiers.clear()
        start = time.perf_counter()
        replayed = 0
        for aggregate_id in ids:
            dossier: Dossier = app.repository.get(aggregate_id)
            replayed += dossier.version
        replay = _rate(replayed, time.perf_counter() - start)
    finally:
        app.close()
        _eventsourcing_clean(parsed)
    return Figures(
        batch_import=batch_import,
        single_append=single_append,
        read=read,
        replay=replay,
        events=events,
    )


def _es_record(dossiers: dict[str, Dossier], row: Row) -> Sequence[CanMutateAggregate[uuid.UUID]]:
    """Trigger `row`'s event on its dossier and collect it at once.

    Saving the collected events (rather than the aggregates) keeps the
    notification log in row order: the library would otherwise store a save's
    events aggregate by aggregate. It also keeps each aggregate's pending list
    short (collecting a long one is quadratic in this version).
    """
    aggregate = dossiers.get(row["dossier"])
    if aggregate is None:
        aggregate = dossiers[row["dossier"]] = Dossier.open(row)
    else:
        aggregate.record(row)
    return aggregate.collect_events()


def _es_read(app: BenchDossiers) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    last = 0
    to_domain_event = app.mapper.to_domain_event
    while count < SAMPLE:
        limit = min(PAGE, SAMPLE - count)
        page = app.notification_log.select(last, limit, inclusive_of_start=False)
        for notification in page:
            to_domain_event(notification)
        count += len(page)
        if len(page) < limit:
            break
        last = page[-1].id
    return count, time.perf_counter() - start


# -- raw driver ---------------------------------------------------------------------------------


def _sqlite_time(iso: str) -> str:
    """ISO 8601 to the engine's SQLite form: naive UTC text with microseconds."""
    return _sqlite_moment(dt.datetime.fromisoformat(iso))


def _sqlite_moment(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_SQLITE_SCHEMA = (
    f"""CREATE TABLE {RAW_TABLE} (
        position INTEGER PRIMARY KEY,
        id CHAR(32) NOT NULL UNIQUE,
        dossier VARCHAR(200) NOT NULL,
        key VARCHAR(200) NOT NULL,
        version INTEGER NOT NULL,
        type VARCHAR(100) NOT NULL,
        schema_version INTEGER NOT NULL,
        occurred_start DATETIME NOT NULL,
        occurred_end DATETIME NOT NULL,
        occurred_precision VARCHAR(16) NOT NULL,
        recorded DATETIME NOT NULL,
        payload JSON NOT NULL,
        sources JSON NOT NULL,
        UNIQUE (dossier, version),
        UNIQUE (dossier, key)
    )""",
    f"CREATE INDEX ix_{RAW_TABLE}_occurred_start ON {RAW_TABLE} (occurred_start)",
    f"CREATE INDEX ix_{RAW_TABLE}_recorded ON {RAW_TABLE} (recorded)",
    f"CREATE INDEX ix_{RAW_TABLE}_type ON {RAW_TABLE} (type)",
)

_PG_SCHEMA = (
    f"""CREATE TABLE {RAW_TABLE} (
        position BIGINT PRIMARY KEY,
        id UUID NOT NULL UNIQUE,
        dossier VARCHAR(200) NOT NULL,
        key VARCHAR(200) NOT NULL,
        version INTEGER NOT NULL,
        type VARCHAR(100) NOT NULL,
        schema_version INTEGER NOT NULL,
        occurred_start TIMESTAMPTZ NOT NULL,
        occurred_end TIMESTAMPTZ NOT NULL,
        occurred_precision VARCHAR(16) NOT NULL,
        recorded TIMESTAMPTZ NOT NULL,
        payload JSONB NOT NULL,
        sources JSONB NOT NULL,
        UNIQUE (dossier, version),
        UNIQUE (dossier, key)
    )""",
    *_SQLITE_SCHEMA[1:],
)

_NAMES = ", ".join(RAW_COLUMNS)
_SELECT_SAMPLE = f"SELECT {_NAMES} FROM {RAW_TABLE} ORDER BY position LIMIT {SAMPLE}"
_SELECT_DOSSIERS = f"SELECT DISTINCT dossier FROM {RAW_TABLE}"


class _Numbering:
    """Position (global) and version (per dossier), as the engine assigns them on append."""

    def __init__(self) -> None:
        self.position = 0
        self.versions: dict[str, int] = {}

    def next(self, dossier: str) -> tuple[int, int]:
        self.position += 1
        version = self.versions[dossier] = self.versions.get(dossier, 0) + 1
        return self.position, version


def _sqlite_row(row: Row, numbering: _Numbering, recorded: str) -> tuple[Any, ...]:
    position, version = numbering.next(row["dossier"])
    return (
        position,
        uuid.UUID(row["id"]).hex,
        row["dossier"],
        row["key"],
        version,
        row["type"],
        row["schema_version"],
        _sqlite_time(row["occurred_start"]),
        _sqlite_time(row["occurred_end"]),
        row["precision"],
        recorded,
        orjson.dumps(row["payload"]).decode(),
        orjson.dumps(row["sources"]).decode(),
    )


def _pg_row(row: Row, numbering: _Numbering, recorded: dt.datetime) -> tuple[Any, ...]:
    # COPY takes the ISO timestamps and the uuid as text; the server parses them.
    position, version = numbering.next(row["dossier"])
    return (
        position,
        row["id"],
        row["dossier"],
        row["key"],
        version,
        row["type"],
        row["schema_version"],
        row["occurred_start"],
        row["occurred_end"],
        row["precision"],
        recorded,
        orjson.dumps(row["payload"]).decode(),
        orjson.dumps(row["sources"]).decode(),
    )


def _decode_sqlite(row: tuple[Any, ...]) -> Row:
    decoded = dict(zip(RAW_COLUMNS, row, strict=True))
    decoded["payload"] = orjson.loads(decoded["payload"])
    decoded["sources"] = orjson.loads(decoded["sources"])
    return decoded


def _decode_pg(row: tuple[Any, ...]) -> Row:
    # psycopg already decoded uuid, timestamptz and jsonb (with orjson, see `_pg_connect`).
    return dict(zip(RAW_COLUMNS, row, strict=True))


def raw_reference(url: str, batches: Iterable[list[Row]], single: list[Row]) -> Figures:
    """Run the bare database driver over the rows and return its figures.

    * batch_import: per batch, number the rows (position, per-dossier
      version, one `recorded` time), encode payload and sources with orjson,
      then one ``executemany`` INSERT (SQLite) or ``COPY ... FROM STDIN``
      (PostgreSQL) and one commit.
    * single_append: one INSERT and one commit per row of `single`.
    * read: one scan of the first `SAMPLE` rows, ``SELECT ... ORDER BY
      position LIMIT``, streamed, each row decoded to a dict (JSON columns
      decoded with orjson).
    * replay: a second pass, per dossier ``SELECT ... WHERE dossier = ?
      ORDER BY version`` (the unique (dossier, version) index), decoding the
      payload JSON and folding a count, the analogue of the library's
      aggregate reconstruction.
    """
    parsed = _backend(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sibling(parsed, "-raw.db")
        _remove_sqlite(path)
        try:
            return _raw_sqlite(path, batches, single)
        finally:
            _remove_sqlite(path)
    _pg_drop(parsed, RAW_TABLE)
    try:
        return _raw_pg(parsed, batches, single)
    finally:
        _pg_drop(parsed, RAW_TABLE)


def _raw_sqlite(path: Path, batches: Iterable[list[Row]], single: list[Row]) -> Figures:
    insert = f"INSERT INTO {RAW_TABLE} ({_NAMES}) VALUES ({', '.join('?' * len(RAW_COLUMNS))})"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _SQLITE_SCHEMA:
            conn.execute(statement)
        numbering = _Numbering()
        clock = _Clock()
        events = 0
        for batch in batches:
            with clock:
                recorded = _sqlite_moment(dt.datetime.now(dt.UTC))
                values = [_sqlite_row(row, numbering, recorded) for row in batch]
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert, values)
                conn.execute("COMMIT")
                events += len(batch)
        batch_import = _rate(events, clock.seconds)

        clock = _Clock()
        for row in single:
            with clock:
                recorded = _sqlite_moment(dt.datetime.now(dt.UTC))
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(insert, _sqlite_row(row, numbering, recorded))
                conn.execute("COMMIT")
        single_append = _rate(len(single), clock.seconds)

        start = time.perf_counter()
        count = _consume(map(_decode_sqlite, conn.execute(_SELECT_SAMPLE)))
        read = _rate(count, time.perf_counter() - start)

        def by_dossier(dossier: str) -> Iterator[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {_NAMES} FROM {RAW_TABLE} WHERE dossier = ? ORDER BY version", (dossier,)
            )

        start = time.perf_counter()
        dossiers = [name for (name,) in conn.execute(_SELECT_DOSSIERS)]
        count = _fold(dossiers, by_dossier, orjson.loads)
        replay = _rate(count, time.perf_counter() - start)
    return Figures(
        batch_import=batch_import,
        single_append=single_append,
        read=read,
        replay=replay,
        events=events,
    )


def _raw_pg(url: URL, batches: Iterable[list[Row]], single: list[Row]) -> Figures:
    copy_sql = f"COPY {RAW_TABLE} ({_NAMES}) FROM STDIN"
    insert = f"INSERT INTO {RAW_TABLE} ({_NAMES}) VALUES ({', '.join(['%s'] * len(RAW_COLUMNS))})"
    with closing(_pg_connect(url)) as conn:
        with conn.transaction():
            for statement in _PG_SCHEMA:
                conn.execute(statement)
        numbering = _Numbering()
        clock = _Clock()
        events = 0
        for batch in batches:
            with clock:
                recorded = dt.datetime.now(dt.UTC)
                with conn.transaction(), conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                    for row in batch:
                        copy.write_row(_pg_row(row, numbering, recorded))
                events += len(batch)
        batch_import = _rate(events, clock.seconds)

        clock = _Clock()
        for row in single:
            with clock, conn.transaction():
                conn.execute(insert, _pg_row(row, numbering, dt.datetime.now(dt.UTC)))
        single_append = _rate(len(single), clock.seconds)

        start = time.perf_counter()
        with conn.transaction(), conn.cursor("raw_scan") as cursor:
            cursor.itersize = PAGE
            count = _consume(map(_decode_pg, cursor.execute(_SELECT_SAMPLE)))
        read = _rate(count, time.perf_counter() - start)

        def by_dossier(dossier: str) -> Iterator[tuple[Any, ...]]:
            with conn.cursor("raw_replay") as cursor:
                cursor.itersize = PAGE
                yield from cursor.execute(
                    f"SELECT {_NAMES} FROM {RAW_TABLE} WHERE dossier = %s ORDER BY version",
                    (dossier,),
                )

        start = time.perf_counter()
        with conn.transaction():
            dossiers = [name for (name,) in conn.execute(_SELECT_DOSSIERS)]
            # psycopg hands back JSONB already decoded: nothing left to decode.
            count = _fold(dossiers, by_dossier, _identity)
        replay = _rate(count, time.perf_counter() - start)
    return Figures(
        batch_import=batch_import,
        single_append=single_append,
        read=read,
        replay=replay,
        events=events,
    )


def _pg_connect(url: URL) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection (transactions are explicit) decoding JSONB with orjson."""
    conn = psycopg.connect(**_pg_params(url), autocommit=True)
    set_json_loads(orjson.loads, conn)
    return conn


def _identity(value: Any) -> Any:
    return value


def _consume(rows: Iterable[Row]) -> int:
    count = 0
    for _ in rows:
        count += 1
    return count


def _fold(
    dossiers: list[str],
    rows_of: Callable[[str], Iterator[tuple[Any, ...]]],
    decode: Callable[[Any], Any],
) -> int:
    """Rebuild each dossier's (cheap) state from its rows in version order; count the rows."""
    payload_at = RAW_COLUMNS.index("payload")
    key_at = RAW_COLUMNS.index("key")
    states: dict[str, tuple[int, str]] = {}
    for dossier in dossiers:
        count, last_key = 0, ""
        for row in rows_of(dossier):
            decode(row[payload_at])
            count += 1
            last_key = row[key_at]
        states[dossier] = (count, last_key)
    return sum(count for count, _ in states.values())
