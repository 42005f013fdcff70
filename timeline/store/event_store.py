"""The append-only event store on SQLAlchemy Core (SQLite and PostgreSQL).

Events are only ever inserted. The store assigns `position` (global,
gap-free), `version` (per dossier) and `recorded` (transaction time, never
decreasing) under a write lock, so commit order equals position order:

* PostgreSQL: each append takes ``LOCK TABLE events IN EXCLUSIVE MODE``
  before it reads the last position. That lock conflicts with itself, so
  appends run one at a time from lock to commit, and a writer that got
  position *n* has committed before any writer can be given *n + 1*. A
  follower reading "after position P" therefore never sees *P + 2* while
  *P + 1* is still in flight, and never skips an event that commits late.
  Readers take ACCESS SHARE, which EXCLUSIVE does not block: reads never
  wait. The cost is that appends are serialised, which a sequence would not
  do, but a sequence leaves gaps and lets commits overtake each other.
* SQLite: there is one writer at a time by construction; appends begin with
  ``BEGIN IMMEDIATE`` so they take the write lock before reading positions.

A unique ``(dossier, version)`` is the backstop for optimistic concurrency:
should two writers ever race past the lock, the database refuses the second
and it surfaces as `ConcurrencyError`, never as a lost or duplicated event.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar, cast

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from events import Envelope, InvalidEvent
from timeline.errors import ConcurrencyError, DuplicateEvent
from timeline.store import migrate, rows
from timeline.store.database import WRITE, create_engine, default_url
from timeline.store.memory import collector_paused
from timeline.store.schema import NAME_LENGTH
from timeline.store.schema import events as table

Clock = Callable[[], dt.datetime]
Page = Sequence[rows.RawRow]
Later = Callable[[Callable[[Any], Page], Any], Callable[[], Page]]
"""Starts `fetch(key)` and gives what waits for its page (see `_ahead`)."""
_Key = TypeVar("_Key")
CHANNEL = "timeline_events"
"""PostgreSQL NOTIFY channel: every append announces its last position here."""
PAUSE_FROM = 1_000
"""From this many new events, numbering and inserting them runs with the cycle
collector paused (`timeline.memory`): 10,000-event batches into PostgreSQL went
from 29,000-37,000 to 40,000-48,000 events/s. Only that part: the lock wait and
the lookups run with the collector on, for the sake of other threads."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_WALK_THE_INDEX = [
    "SET LOCAL enable_bitmapscan = off",
    "SET LOCAL enable_seqscan = off",
    "SET LOCAL max_parallel_workers_per_gather = 0",
]
"""PostgreSQL settings for one page read along the valid-time index (`read_started`)."""


class _Last(NamedTuple):
    """The last stored event's position and recorded time (None: the store is empty)."""

    position: int
    recorded: dt.datetime | None


@attrs.define
class _Session:
    """The state of one `EventStore.appending` transaction."""

    locked: bool = False
    recorded: dt.datetime | None = None
    last: int = 0
    """The position of the last event it appended (0: none yet)."""


class Appending:
    """Appends and reads inside one `EventStore.appending` transaction."""

    def __init__(self, store: EventStore, conn: Connection, session: _Session) -> None:
        self.store, self.conn, self._session = store, conn, session
        last = sa.select(sa.func.max(table.c.position))
        self.start: int = conn.execute(last).scalar() or 0
        """The last position before this transaction: what it appends comes after."""

    def append(self, batches: Mapping[str, Sequence[Envelope]]) -> tuple[Envelope, ...]:
        """Append a batch to the transaction; as `EventStore.append_batches`, uncommitted."""
        self.store.check(batches)
        try:
            return self.store._append_locked(self.conn, batches, {}, self._session)
        except sa.exc.IntegrityError as err:
            raise self.store._translate(self.conn, batches, {}, err) from err

    def append_facts(self, dossier: str, facts: Sequence[rows.Fact | str]) -> int | None:
        """Append events already encoded (`rows.fact` for SQLite, `rows.copy_text` of it
        for PostgreSQL; their keys and names checked) to the transaction: how many, or
        None, with nothing written, when one has an id or key already stored (the caller
        appends the envelopes, which sorts out which)."""
        if not facts:
            return 0
        return self.store._insert_facts(self.conn, dossier, facts, self._session)

    def find(self, dossier: str, keys_or_ids: Iterable[str]) -> dict[str, Envelope]:
        """`EventStore.find`, seeing what this transaction appended."""
        return self.store.find(dossier, keys_or_ids, conn=self.conn)

    def declarations(self, dossier: str) -> list[Envelope]:
        """`EventStore.declarations`, seeing what this transaction appended."""
        query = (
            rows.select()
            .where(table.c.dossier == dossier, table.c.type == "dossier.declared")
            .order_by(table.c.position)
        )
        return rows.fetch(self.conn, query)


class EventStore:
    """Append and read envelopes. Thread-safe as far as the engine is."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        page_size: int = 5000,
        check_schema: bool = True,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if check_schema:
            migrate.require_current(engine)
        self.engine = engine
        self.clock = clock
        self.page_size = page_size

    @classmethod
    def open(cls, url: str | None = None, **kwargs: Any) -> EventStore:
        """A store on `url` (default `$TIMELINE_DB` or ``sqlite:///timeline.db``)."""
        return cls(create_engine(url or default_url()), **kwargs)

    # -- writing ---------------------------------------------------------------

    def append(
        self,
        dossier: str,
        envelopes: Iterable[Envelope],
        *,
        expected_version: int | None = None,
    ) -> tuple[Envelope, ...]:
        """Append a batch to one dossier atomically; returns what was new, as stored.

        `expected_version` is the dossier's version the caller last saw (0 for
        a new dossier); if another writer moved it, `ConcurrencyError` and
        nothing is written. Re-appending an identical event is a no-op.
        """
        expected = None if expected_version is None else {dossier: expected_version}
        return self.append_batches({dossier: list(envelopes)}, expected)

    def append_batches(
        self,
        batches: Mapping[str, Sequence[Envelope]],
        expected_versions: Mapping[str, int] | None = None,
    ) -> tuple[Envelope, ...]:
        """Append to several dossiers in one transaction: all of it or none."""
        self.check(batches)
        options: dict[str, Any] = dict(WRITE)
        if self.engine.dialect.name == "postgresql":
            # The append's own SQL begins and commits, riding on its statements
            # (`_append_locked`); should it fail midway, the driver rolls back.
            options["isolation_level"] = "AUTOCOMMIT"
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            try:
                stored = self._append_locked(conn, batches, expected_versions or {})
            except sa.exc.IntegrityError as err:
                raise self._translate(conn, batches, expected_versions or {}, err) from err
        return stored

    @staticmethod
    def check(batches: Mapping[str, Sequence[Envelope]]) -> None:
        """Refuse what no backend can store: names too long or holding NUL, and an
        envelope filed under another dossier than its own."""
        for dossier, batch in batches.items():
            for envelope in batch:
                EventStore.check_name("dossier", envelope.dossier, envelope.key)
                EventStore.check_name("key", envelope.key, envelope.key)
                if envelope.dossier != dossier:
                    raise InvalidEvent(
                        "dossier",
                        f"expected {dossier!r}, got {envelope.dossier!r}",
                        key=envelope.key,
                    )

    @staticmethod
    def check_name(field: str, value: str, key: str) -> None:
        """Refuse a dossier name or key (`field`, of the event `key`) no backend can store."""
        if len(value) > NAME_LENGTH:
            raise InvalidEvent(field, f"expected at most {NAME_LENGTH} characters", key=key)
        if "\x00" in value:  # PostgreSQL stores none
            raise InvalidEvent(field, "expected no NUL characters", key=key)

    @contextlib.contextmanager
    def appending(self) -> Iterator[Appending]:
        """One write transaction that batches append to as they come: all or none.

        For imports too large to hold at once. The write lock is taken with
        the first batch and held to the end, so other writers wait (up to
        their lock timeout); every event is recorded at one transaction time;
        reads through the session (`find`, `declarations`) see its batches.
        """
        postgres = self.engine.dialect.name == "postgresql"
        options: dict[str, Any] = dict(WRITE)
        if postgres:
            options["isolation_level"] = "AUTOCOMMIT"  # as `append_batches`: our SQL begins
        with self.engine.connect().execution_options(**options) as conn:
            session = _Session()
            if postgres:  # SQLite's BEGIN IMMEDIATE takes its lock (`database`)
                rows.execute(conn, ["BEGIN", "LOCK TABLE events IN EXCLUSIVE MODE"])
                session.locked = True
            with conn.begin() if not postgres else contextlib.nullcontext():
                try:
                    yield Appending(self, conn, session)
                except BaseException:
                    if postgres:  # a lost connection has rolled back already
                        with contextlib.suppress(sa.exc.DBAPIError):
                            rows.execute(conn, "ROLLBACK")
                    raise
                if postgres:
                    notify = [f"SELECT pg_notify('{CHANNEL}', '{session.last}')"]
                    rows.execute(conn, [*(notify if session.last else []), "COMMIT"])

    def _append_locked(
        self,
        conn: Connection,
        batches: Mapping[str, Sequence[Envelope]],
        expected_versions: Mapping[str, int],
        session: _Session | None = None,
    ) -> tuple[Envelope, ...]:
        """Number and insert the new events under the write lock.

        On PostgreSQL the usual append (fewer than `rows.COPY_FROM` new
        events, at most `rows.LOOKUP_CHUNK` dossiers) is two round trips:
        the transaction, the lock (module docstring) and the savepoint travel
        with the query for the dossiers' versions, and the release, the
        NOTIFY and the commit with the INSERT. On SQLite the engine has
        begun the transaction with ``BEGIN IMMEDIATE`` and commits it.
        """
        opening = ["SAVEPOINT optimistic"]
        if conn.dialect.name == "postgresql" and (session is None or not session.locked):
            opening = ["BEGIN", "LOCK TABLE events IN EXCLUSIVE MODE", *opening]
        if session is not None:
            session.locked = True
        named = list(dict.fromkeys([*batches, *expected_versions]))
        found, position, recorded = rows.heads(conn, named, before=opening)
        versions = dict(zip(named, found, strict=True))
        for dossier, expected in expected_versions.items():
            if expected != versions[dossier]:
                raise ConcurrencyError(dossier, expected, versions[dossier])
        after = _Last(position, recorded)
        if session is not None:  # every batch of a session is recorded at one time
            session.recorded = session.recorded or self._recorded(after)
        candidates = self._distinct(batches)
        try:
            # Optimistic: a batch of new events, the usual case, needs no
            # lookups; should it clash with stored events, the savepoint
            # undoes the insert and the lookups sort out what is new.
            stored = self._insert(conn, candidates, dict(versions), after, session)
        except sa.exc.IntegrityError:
            rows.execute(conn, "ROLLBACK TO SAVEPOINT optimistic")
            fresh = self._not_stored(conn, candidates)
            stored = self._insert(conn, fresh, versions, after, session)
        return stored

    def _recorded(self, after: _Last) -> dt.datetime:
        """The transaction time of events appended now: never before the last one's."""
        now = self.clock()
        return now if after.recorded is None else max(now, after.recorded)

    def _insert(
        self,
        conn: Connection,
        fresh: list[Envelope],
        versions: dict[str, int],
        after: _Last,
        session: _Session | None = None,
    ) -> tuple[Envelope, ...]:
        """Number `fresh` after the last stored event, insert them and end the savepoint.

        `versions` advance. On PostgreSQL this also commits, in the INSERT's
        round trip, unless a `session` goes on (it commits at its end).
        """
        # Each event builds a row and a stored envelope that live to the end.
        paused = collector_paused() if len(fresh) >= PAUSE_FROM else contextlib.nullcontext()
        with paused:
            position = after.position
            recorded = session.recorded if session and session.recorded else self._recorded(after)
            dialect = conn.dialect.name
            encoded, stored = [], []
            for envelope in fresh:
                position += 1
                versions[envelope.dossier] += 1
                version = versions[envelope.dossier]
                encoded.append(rows.encode(envelope, position, version, recorded, dialect))
                stored.append(
                    Envelope(
                        id=envelope.id,
                        key=envelope.key,
                        dossier=envelope.dossier,
                        occurred=envelope.occurred,
                        event=envelope.event,
                        sources=envelope.sources,
                        recorded=recorded,
                        position=position,
                        version=version,
                    )
                )
            closing = _closing(dialect, session, position, any_new=bool(stored))
            rows.insert(conn, encoded, then=closing)
        return tuple(stored)

    def _insert_facts(
        self,
        conn: Connection,
        dossier: str,
        facts: Sequence[rows.Fact | str],
        session: _Session,
    ) -> int | None:
        """`Appending.append_facts` under the write lock: the facts numbered after the last
        stored event and inserted, or None (nothing written) if one clashes with a stored
        event."""
        opening = ["SAVEPOINT optimistic"]
        found, position, recorded = rows.heads(conn, [dossier], before=opening)
        after = _Last(position, recorded)
        session.recorded = session.recorded or self._recorded(after)
        dialect, version = conn.dialect.name, found[0]
        closing = _closing(dialect, session, position + len(facts), any_new=True)
        try:
            if dialect == "postgresql":
                texts = cast(Sequence[str], facts)
                rows.copy_facts(conn, texts, position + 1, version + 1, session.recorded, closing)
            else:
                encoded = [
                    rows.placed(fact, position + at, version + at, session.recorded, dialect)
                    for at, fact in enumerate(cast(Sequence[rows.Fact], facts), start=1)
                ]
                rows.insert(conn, encoded, then=closing)
        except sa.exc.IntegrityError:
            rows.execute(conn, "ROLLBACK TO SAVEPOINT optimistic")
            return None
        return len(facts)

    @staticmethod
    def _distinct(batches: Mapping[str, Sequence[Envelope]]) -> list[Envelope]:
        """The batch's envelopes once each; one id given two contents raises."""
        seen: dict[uuid.UUID, Envelope] = {}
        for batch in batches.values():
            for envelope in batch:
                earlier = seen.setdefault(envelope.id, envelope)
                if earlier is not envelope and not earlier.same_fact(envelope):
                    raise DuplicateEvent(
                        envelope.dossier,
                        envelope.key,
                        envelope.id,
                        "the batch holds two different events with this id",
                    )
        return list(seen.values())

    def _not_stored(self, conn: Connection, candidates: list[Envelope]) -> list[Envelope]:
        """The candidates not stored yet; identical re-appends drop out, conflicts raise."""
        existing = self._existing(conn, (e.id for e in candidates))
        fresh = []
        keys: dict[tuple[str, str], uuid.UUID] = {}
        for envelope in candidates:
            stored = existing.get(envelope.id)
            if stored is not None:
                if not stored.same_fact(envelope):
                    raise DuplicateEvent(
                        envelope.dossier,
                        envelope.key,
                        envelope.id,
                        "an event with this id is stored with different content",
                    )
                continue
            slot = (envelope.dossier, envelope.key)
            if keys.setdefault(slot, envelope.id) != envelope.id:
                raise DuplicateEvent(
                    envelope.dossier,
                    envelope.key,
                    envelope.id,
                    "the batch holds two events with this key",
                )
            fresh.append(envelope)
        taken = self._taken_keys(conn, fresh)
        for envelope in fresh:
            if (envelope.dossier, envelope.key) in taken:
                raise DuplicateEvent(
                    envelope.dossier,
                    envelope.key,
                    envelope.id,
                    "the key already names another stored event",
                )
        return fresh

    @staticmethod
    def _existing(conn: Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Envelope]:
        """The stored events with these ids, whatever their dossier."""
        found: dict[uuid.UUID, Envelope] = {}
        for chunk in rows.chunks(list(dict.fromkeys(ids))):
            for envelope in rows.fetch(conn, rows.select().where(table.c.id.in_(chunk))):
                found[envelope.id] = envelope
        return found

    def _taken_keys(self, conn: Connection, envelopes: list[Envelope]) -> set[tuple[str, str]]:
        taken: set[tuple[str, str]] = set()
        by_dossier: dict[str, list[str]] = {}
        for envelope in envelopes:
            by_dossier.setdefault(envelope.dossier, []).append(envelope.key)
        for dossier, keys in by_dossier.items():
            for chunk in rows.chunks(keys):
                keyed = rows.among(table.c.key, chunk, conn.dialect.name)
                query = sa.select(table.c.key).where(table.c.dossier == dossier, keyed)
                taken.update((dossier, key) for key in conn.scalars(query))
        return taken

    def _translate(
        self,
        conn: Connection,
        batches: Mapping[str, Sequence[Envelope]],
        expected_versions: Mapping[str, int],
        err: sa.exc.IntegrityError,
    ) -> Exception:
        """A unique violation means another writer got in first: say which dossier."""
        dossier = next((d for d in batches if d in expected_versions), next(iter(batches), ""))
        return ConcurrencyError(dossier, expected_versions.get(dossier), self.version(dossier))

    # -- reading ---------------------------------------------------------------

    @staticmethod
    def _version(conn: Connection, dossier: str) -> int:
        query = sa.select(sa.func.max(table.c.version)).where(table.c.dossier == dossier)
        return conn.execute(query).scalar() or 0

    def version(self, dossier: str) -> int:
        """The dossier's current version: 0 when it has no events."""
        with self.engine.connect() as conn:
            return self._version(conn, dossier)

    def head(self) -> int:
        """The last position: the number of events stored."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(table.c.position))).scalar() or 0

    def last_before(self, moment: dt.datetime | None, dossier: str | None = None) -> int:
        """The last position recorded before `moment` (None: the head), of `dossier` when
        given (0: none).

        Recorded times never decrease with position, nor versions within a
        dossier: in a dossier it is the first event recorded before `moment`
        walking its (dossier, version) index backwards; over all, the last of
        the events recorded at the latest time before it, two seeks in the
        index on `recorded`.
        """
        c = table.c
        if dossier is not None:
            query = sa.select(c.position).where(c.dossier == dossier)
            if moment is not None:
                query = query.where(c.recorded < moment)
            query = query.order_by(c.version.desc()).limit(1)
        elif moment is None:
            return self.head()
        else:
            latest = sa.select(sa.func.max(c.recorded)).where(c.recorded < moment)
            query = sa.select(sa.func.max(c.position)).where(c.recorded == latest.scalar_subquery())
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def dossiers(self, conn: Connection | None = None) -> list[str]:
        """The dossiers with events, in order (read on `conn` when given).

        One seek in the (dossier, version) index per dossier (a "loose index
        scan"), where DISTINCT reads every entry: 0.1 s at a million events.
        """
        name = table.c.dossier
        seen = sa.select(sa.func.min(name).label("dossier")).cte("seen", recursive=True)
        following = sa.select(sa.func.min(name)).where(name > seen.c.dossier).scalar_subquery()
        seen = seen.union_all(sa.select(following).where(seen.c.dossier.is_not(None)))
        query = sa.select(seen.c.dossier).where(seen.c.dossier.is_not(None))
        if conn is not None:
            return sorted(conn.scalars(query))
        with self.engine.connect() as own:
            return sorted(own.scalars(query))

    def find(
        self,
        dossier: str,
        keys_or_ids: Iterable[str],
        *,
        through: int | None = None,
        conn: Connection | None = None,
    ) -> dict[str, Envelope]:
        """The stored events of `dossier` named by key or by id, by that name.

        A name is a key, else an id in any spelling `uuid.UUID` reads: the
        rule of `projections.refs`. `through` leaves out events after that position.
        A caller holding a connection passes it (`conn`), so as not to hold two.
        """
        names = list(dict.fromkeys(keys_or_ids))
        by_key: dict[str, Envelope] = {}
        by_id: dict[uuid.UUID, Envelope] = {}
        dialect = self.engine.dialect.name
        with self._connection(conn) as conn:
            for chunk in rows.chunks(names):
                ids = [i for i in map(_as_uuid, chunk) if i is not None]
                # Two queries, not one with OR: each can use its unique index,
                # whatever the planner's statistics say after a bulk import.
                keyed = rows.among(table.c.key, chunk, dialect)
                queries = [rows.select().where(table.c.dossier == dossier, keyed)]
                if ids:
                    named = rows.among(table.c.id, ids, dialect)
                    queries.append(rows.select().where(table.c.dossier == dossier, named))
                for query in queries:
                    if through is not None:
                        query = query.where(table.c.position <= through)
                    for envelope in rows.fetch(conn, query):
                        by_key[envelope.key] = by_id[envelope.id] = envelope
        found = {}
        for name in names:
            as_id = _as_uuid(name)
            match = by_key.get(name) or (by_id.get(as_id) if as_id is not None else None)
            if match is not None:
                found[name] = match
        return found

    def at(
        self, positions: Iterable[int], *, sources: bool = True, conn: Connection | None = None
    ) -> dict[int, Envelope]:
        """The stored events at these positions, by position (without `sources`, without
        their citations); on the caller's connection, if it passes one."""
        found: dict[int, Envelope] = {}
        with self._connection(conn) as conn:
            for chunk in rows.chunks(sorted(set(positions))):
                query = rows.select(sources=sources).where(table.c.position.in_(chunk))
                found.update((e.position or 0, e) for e in rows.fetch(conn, query))
        return found

    @contextlib.contextmanager
    def _connection(self, held: Connection | None) -> Iterator[Connection]:
        """The caller's connection, else one of our own for the block."""
        if held is not None:
            yield held
            return
        with self.engine.connect() as conn:
            yield conn

    def find_ids(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Envelope]:
        """The stored events with these ids, whatever their dossier."""
        with self.engine.connect() as conn:
            return self._existing(conn, ids)

    def read_dossier(self, dossier: str, from_version: int = 1) -> Iterator[Envelope]:
        """One dossier in version order, from `from_version` on, streamed in pages."""

        def page_after(last: int | None) -> sa.Select[Any]:
            return (
                rows.select()
                .where(
                    table.c.dossier == dossier,
                    table.c.version > (from_version - 1 if last is None else last),
                )
                .order_by(table.c.version)
                .limit(self.page_size)
            )

        yield from self._decoded(page_after, lambda row: row[rows.VERSION])

    def read_all(
        self,
        after: int = 0,
        *,
        dossier: str | None = None,
        types: Iterable[str] | None = None,
        occurred_from: dt.datetime | None = None,
        occurred_to: dt.datetime | None = None,
        recorded_before: dt.datetime | None = None,
        through: int | None = None,
        sources: bool = True,
    ) -> Iterator[Envelope]:
        """Every event after position `after`, in position order, streamed in pages.

        `occurred_from`/`occurred_to` keep events whose valid-time interval
        overlaps ``[occurred_from, occurred_to)``; `recorded_before` keeps
        those the store knew before that transaction time; `through`, those
        at or before that position. Without `sources`, envelopes come without
        their citations (for folds). Naive times raise `ValueError`.
        """
        occurred_from, occurred_to, recorded_before = (
            _aware(t) for t in (occurred_from, occurred_to, recorded_before)
        )
        filters: list[sa.ColumnElement[bool]] = []
        if through is not None:
            filters.append(table.c.position <= through)
        if dossier is not None:
            filters.append(table.c.dossier == dossier)
        if types is not None:
            filters.append(table.c.type.in_(list(types)))
        if occurred_from is not None:
            filters.append(table.c.occurred_end > occurred_from)
        if occurred_to is not None:
            filters.append(table.c.occurred_start < occurred_to)
        if recorded_before is not None:
            filters.append(sa.func.coalesce(table.c.recorded, table.c.recorded) < recorded_before)

        def page_after(last: int | None) -> sa.Select[Any]:
            return (
                rows.select(sources=sources)
                .where(table.c.position > (after if last is None else last), *filters)
                .order_by(table.c.position)
                .limit(self.page_size)
            )

        yield from self._decoded(page_after, lambda row: row[rows.POSITION])

    def declarations(self, dossier: str) -> list[Envelope]:
        """The dossier's `dossier.declared` events (its headers), in recording order."""
        return list(self.read_all(dossier=dossier, types=["dossier.declared"]))

    def read_started(
        self,
        start: dt.datetime | None,
        end: dt.datetime | None,
        *,
        after: int | None = None,
        through: int | None = None,
        types: Iterable[str] | None = None,
        sources: bool = True,
        dossier: str | None = None,
        recorded_before: dt.datetime | None = None,
        ending_after: dt.datetime | None = None,
    ) -> Iterator[Envelope]:
        """Events whose valid time starts in ``[start, end)``, by start, streamed.

        Pages follow the `occurred_start` index, so a window at the end of a
        long history costs what the window holds (every type, every
        position), not what precedes it.
        `after` and `through` keep events in that range of positions;
        `dossier`, `recorded_before` and `ending_after` (a valid time that ends
        after it) filter the rows the index finds.
        Without `sources`, envelopes come without their citations (for folds).
        """
        # Only the valid-time bounds and `after` go to the database as they
        # are: given a filter on type, dossier or transaction time, both
        # planners prefer those indexes and sort every matching row for each
        # page (PostgreSQL took 0.45 s a page of a log as known now at a
        # million events, against 0.03 s along the valid-time index). Those
        # go as expressions no index answers, so the database skips the other
        # rows without handing them over; `through` applies to raw rows,
        # before anything is decoded.
        start, end, recorded_before, ending_after = (
            _aware(t) for t in (start, end, recorded_before, ending_after)
        )
        filters: list[sa.ColumnElement[bool]] = []
        if after is not None:
            filters.append(table.c.position > after)
        if dossier is not None:  # as an expression, for the reason types are
            filters.append((table.c.dossier + "") == dossier)
        if recorded_before is not None:
            filters.append(sa.func.coalesce(table.c.recorded, table.c.recorded) < recorded_before)
        if ending_after is not None:
            filters.append(table.c.occurred_end > ending_after)
        if end is not None:
            filters.append(table.c.occurred_start < end)
        if types is not None:
            filters.append((table.c.type + "").in_(sorted(set(types))))
        dialect = self.engine.dialect.name
        decode = rows.decoder(dialect)  # one for every page: its cache of intervals stays warm

        def page_after(last: tuple[dt.datetime, int] | None) -> Sequence[rows.RawRow]:
            query = rows.select(sources=sources).where(*filters)
            if last is not None:
                # The lower bound is where the last page ended, as a plain
                # bound: given `start` and the tuple, SQLite seeks to `start`
                # and tests the tuple row by row, so each page would scan
                # everything before it, and a replay would grow quadratic.
                query = query.where(
                    table.c.occurred_start >= last[0],
                    sa.tuple_(table.c.occurred_start, table.c.position) > sa.tuple_(*last),
                )
            elif start is not None:
                query = query.where(table.c.occurred_start >= start)
            query = query.order_by(table.c.occurred_start, table.c.position).limit(self.page_size)
            if dialect == "sqlite":
                with self.engine.connect() as conn:
                    return conn.execute(query).all()
            # A page walks the valid-time index in order. Given missing or
            # stale statistics (after a bulk import, or with autovacuum off),
            # or filters it cannot estimate, PostgreSQL would rather scan and
            # sort every row after the page's start, in parallel workers: each
            # page then costs the rest of the window, and a replay grows
            # quadratic. The settings and the query go in one round trip, one
            # implicit transaction that ends with them.
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                return rows.select_after(conn, _WALK_THE_INDEX, query)

        resume = functools.partial(rows.start_and_position, dialect=dialect)
        with contextlib.closing(self._pages(page_after, resume)) as pages:
            for page in pages:
                for row in page:
                    if through is None or row[rows.POSITION] <= through:
                        yield decode(row)

    def _decoded(
        self,
        page_after: Callable[[_Key | None], sa.Select[Any]],
        resume: Callable[[rows.RawRow], _Key],
    ) -> Iterator[Envelope]:
        """The envelopes of the pages `page_after` selects (see `_pages`), one decoder for all."""
        decode = rows.decoder(self.engine.dialect.name)

        def fetch(last: _Key | None) -> Page:
            with self.engine.connect() as conn:
                return conn.execute(page_after(last)).all()

        with contextlib.closing(self._pages(fetch, resume)) as pages:
            for page in pages:
                yield from map(decode, page)

    def _pages(
        self,
        page_after: Callable[[_Key | None], Page],
        resume: Callable[[rows.RawRow], _Key],
    ) -> Generator[Page]:
        """Raw rows by pages: `page_after(None)`, then `page_after(resume(row))`
        from the last row of each full page; a short page is the last.

        On PostgreSQL the next page is fetched while the reader works
        through this one (see `_ahead`); elsewhere when it is asked for.
        """
        with _ahead(self.engine) as later:
            page = page_after(None)
            while True:
                following = None
                if len(page) == self.page_size:
                    following = later(page_after, resume(page[-1]))
                yield page
                if following is None:
                    return
                page = following()

    def follow(
        self,
        after: int = 0,
        *,
        poll: float = 1.0,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[Envelope]:
        """Every event after position `after`, then each new one as it commits.

        Blocks between events: on PostgreSQL until a NOTIFY from an append
        (or `poll` seconds, in case one is missed), on SQLite by polling.
        Gap-free: commit order is position order (see the module docstring),
        so reading "after the last position seen" never skips an event.
        Ends when `stop()` is true while waiting.
        """
        with self.waiter(poll) as waiter:
            while True:
                progressed = False
                for envelope in self.read_all(after):
                    yield envelope
                    after = envelope.position or after
                    progressed = True
                if not progressed:
                    if stop():
                        return
                    waiter.wait()

    def waiter(self, poll: float = 1.0) -> Waiter:
        """A context whose `wait()` returns after the next append, or `poll` seconds."""
        return Waiter(self.engine, poll)

    def read_window(
        self, start: dt.datetime, end: dt.datetime, *, dossier: str | None = None
    ) -> Iterator[Envelope]:
        """Events whose valid time overlaps ``[start, end)``, in position order."""
        return self.read_all(dossier=dossier, occurred_from=start, occurred_to=end)


def _closing(dialect: str, session: _Session | None, position: int, *, any_new: bool) -> list[str]:
    """What ends an insert: the savepoint released; outside a session, on PostgreSQL, the
    NOTIFY and the commit (a session commits at its end). A session learns its last
    position."""
    closing = ["RELEASE SAVEPOINT optimistic"]
    if session is not None:
        session.last = max(session.last, position)
    elif dialect == "postgresql":
        if any_new:
            # Delivered at commit, so a follower never wakes before it can read.
            closing.append(f"SELECT pg_notify('{CHANNEL}', '{position}')")
        closing.append("COMMIT")
    return closing


def _ahead(engine: Engine) -> contextlib.AbstractContextManager[Later]:
    """How a reader starts fetching its next page before it works through this one.

    On PostgreSQL the fetch runs on a thread: the driver waits for the
    server without the GIL, so the database's time overlaps the decoding
    and folding of the page before (a 1M replay: 10-17% faster). SQLite's
    driver takes the GIL back for every row it steps through, so a thread
    gains nothing there, and the fetch waits until the page is asked for.
    So does an engine whose pool may give the thread a connection the
    reader's caller is using at the same time (a static pool).
    """
    pooled = isinstance(engine.pool, sa.pool.QueuePool | sa.pool.NullPool)
    if engine.dialect.name != "postgresql" or not pooled:
        return contextlib.nullcontext(functools.partial)
    return _threaded()


@contextlib.contextmanager
def _threaded() -> Iterator[Later]:
    with ThreadPoolExecutor(1, "timeline-page") as pool:
        yield lambda fetch, *args: pool.submit(fetch, *args).result


class Waiter:
    """Waits for the next append: LISTEN on PostgreSQL, a sleep on SQLite."""

    def __init__(self, engine: Engine, poll: float) -> None:
        self.engine, self.poll = engine, poll
        # The driver's own (psycopg's, loaded with the engine's first connection).
        self._lost: type[Exception] = sa.exc.OperationalError
        self.listener: Any = None

    def __enter__(self) -> Waiter:
        if self.engine.dialect.name == "postgresql":
            raw = self.engine.raw_connection()
            self._lost = self.engine.dialect.loaded_dbapi.OperationalError
            self.listener = raw.driver_connection
            raw.detach()  # autocommit and LISTEN must not go back to the pool
            try:
                self.listener.autocommit = True
                self.listener.execute(f"LISTEN {CHANNEL}")
            except self._lost as err:  # a pooled connection that had died
                self.listener.close()
                raise sa.exc.OperationalError(f"LISTEN {CHANNEL}", None, err) from err
        return self

    def wait(self) -> None:
        """Return after the next append or `poll` seconds. A lost listening connection is
        SQLAlchemy's `OperationalError`, as every other lost connection is."""
        if self.listener is None:
            time.sleep(self.poll)
            return
        try:
            for _ in self.listener.notifies(timeout=self.poll, stop_after=1):
                pass
        except self._lost as err:  # the driver's own: LISTEN is not through SQLAlchemy
            raise sa.exc.OperationalError(f"LISTEN {CHANNEL}", None, err) from err

    def __exit__(self, *exc: object) -> None:
        if self.listener is not None:
            self.listener.close()


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else rows.aware(moment)


def _as_uuid(text: str) -> uuid.UUID | None:
    """The UUID a name spells, in any of the spellings `uuid.UUID` accepts, or None."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
