"""Questions about the past, answered from the version tables by range queries.

A version counts as of T (valid time) as known at K (transaction time) when
``valid_from < T <= valid_to`` and ``recorded_from < K <= recorded_to``
(NULL ends are open); "known now" is ``recorded_to IS NULL``. Its causes
are the links to events of the same item and ``valid_from`` that count as
known at K. Derived fields come from `projections.state.finish`: `certain`
from ``certain_from``, a position's `pressed_by` from the pressure items
that count, a pledge's `category` from the declarations known at K.

A diff reads only what can differ: the versions starting between the two
dates, those whose certainty turns between them, and (when the two sides
are known at different times) those recorded or superseded in between;
the events behind each change follow the rule of `projections.diff`.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from projections import State, state_to_json
from projections.diff import Diff
from projections.fold import Version
from projections.positions import Position
from projections.state import EVERYTHING, SECTIONS, Context, Filter, Item, Key, finish
from timeline.readmodels import coalitions, documents, prepared
from timeline.readmodels.prepared import Prepared
from timeline.readmodels.tables import (
    VERSIONS,
    VersionTable,
    declared_items,
    item_names,
    key_text,
    state_items,
)
from timeline.store import EventStore, rows
from timeline.store.memory import collector_paused
from timeline.store.schema import events as events_table

Versioned = tuple[dt.datetime, dt.datetime | None, Any]
"""(valid_from, valid_to, item with its causes)."""
PAGE = 5_000


def _pressing(
    conn: Connection,
    wanted: Sequence[tuple[str, str, str]],
    as_of: dt.datetime,
    known_at: dt.datetime | None,
) -> list[tuple[str, str, str, str]]:
    """(dossier, target, issue, actor) of the pressure items on these positions that
    count as of `as_of`, as known at `known_at`.

    Written out for the driver: the keys asked for are joined as rows, so
    each probes the index on (dossier, target, issue), and a page of positions
    asks for hundreds at once, which SQLAlchemy would compile anew every time.
    SQLite takes the rows as a union; PostgreSQL as three arrays unnested,
    since planning a union of 300 rows took it 27 ms, twice the query's time.
    """
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    time: Callable[[dt.datetime], Any] = rows.time_to_sqlite if sqlite else rows.aware
    parameters: list[Any]
    if sqlite:
        asked = " UNION ALL ".join(
            [f"SELECT {mark} AS dossier, {mark} AS target, {mark} AS issue"] * len(wanted)
        )
        parameters = [value for key in wanted for value in key]
    else:
        asked = (
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(dossier, target, issue)"
        )
        parameters = (
            [list(column) for column in zip(*wanted, strict=True)] if wanted else [[], [], []]
        )
    known = "p.recorded_to IS NULL"
    parameters += [time(as_of), time(as_of)]
    if known_at is not None:
        known = f"p.recorded_from < {mark} AND (p.recorded_to IS NULL OR p.recorded_to >= {mark})"
        parameters += [time(known_at), time(known_at)]
    statement = (
        f"SELECT p.dossier, p.target, p.issue, p.actor FROM ({asked}) AS asked "
        "JOIN pressure_versions AS p ON p.dossier = asked.dossier "
        "AND p.target = asked.target AND p.issue = asked.issue "
        f"WHERE p.valid_from < {mark} AND (p.valid_to IS NULL OR p.valid_to >= {mark}) AND {known}"
    )
    found: list[tuple[str, str, str, str]] = rows.execute(conn, statement, parameters).fetchall()
    return found


class _Sweep:
    """Who presses a position at each of a rising series of times, from the versions of
    its pressure (`Reader._pressure_on`): one pass over them, where a query per time
    took 0.2 ms (a lane of 880 versions, 0.3 s)."""

    def __init__(self, pressure: Sequence[Versioned]) -> None:
        self._coming = sorted(pressure, key=lambda version: version[0], reverse=True)
        self._ending: list[tuple[dt.datetime, str]] = []
        self._active: collections.Counter[str] = collections.Counter()

    def at(self, moment: dt.datetime) -> tuple[str, ...]:
        """The actors with a version counting as of `moment` (no earlier than the last asked)."""
        while self._coming and self._coming[-1][0] < moment:
            _, end, actor = self._coming.pop()
            self._active[actor] += 1
            if end is not None:
                heapq.heappush(self._ending, (end, actor))
        while self._ending and self._ending[0][0] < moment:
            _, actor = heapq.heappop(self._ending)
            self._active[actor] -= 1
        return tuple(sorted(actor for actor, n in self._active.items() if n > 0))


def _always(actors: tuple[str, ...]) -> Callable[[str, str, str], tuple[str, ...]]:
    return lambda dossier, target, issue: actors


def _latest(
    section: str, known_at: bool, item: sa.ColumnElement[Any], names: tuple[str, str]
) -> sa.Select[Any]:
    """The version of `item` in force as of the time given as parameter ``names[0]``, as
    known at ``names[1]``: the latest to begin before then of those known then (the
    versions of an item known at one time follow each other without gaps), one seek
    backwards in the index on (item_id, valid_from) whatever the item's history."""
    as_of, known = names
    v = VERSIONS[section].table.alias()
    return (
        sa.select(v)
        .where(
            v.c.item_id == item,
            v.c.valid_from < sa.bindparam(as_of, type_=v.c.valid_from.type),
            *prepared.known(v, known_at, known),
        )
        .order_by(v.c.valid_from.desc())
        .limit(1)
    )


def _in_force(
    section: str, known_at: bool, dialect: str, names: tuple[str, str]
) -> tuple[sa.FromClause, sa.FromClause]:
    """The versions in force (`_latest`) of the items ``items``, as a table to join from,
    and the part of it whose columns are the version's.

    A seek per item, written so that each backend keeps to it: PostgreSQL
    reads a list written into the statement as that many rows, and for a few
    thousand would rather hash the whole version table than join by id, so
    there the version is a LATERAL subquery; SQLite, which has none, joins
    the table on the id of each item's version."""
    t = VERSIONS[section].table
    asked = prepared.listed("items", state_items.c.id.type, dialect)
    latest = _latest(section, known_at, asked.c.value, names)
    if dialect == "sqlite":
        version = latest.with_only_columns(latest.selected_columns.id).scalar_subquery()
        return asked.join(t, t.c.id == version), t
    lateral = latest.lateral(t.name)
    return asked.join(lateral, sa.true()), lateral


def _selected(
    section: str, known_at: bool, dialect: str, names: tuple[str, str] | None
) -> sa.Select[Any]:
    """Versions, a row each with its causes: those in force of the items ``items`` as of
    and known at the times named `names`, or when None those with the ids ``ids``."""
    versions = VERSIONS[section]
    chosen: sa.FromClause = versions.table
    t = chosen
    where = []
    if names is not None:
        chosen, t = _in_force(section, known_at, dialect, names)
    else:
        where.append(prepared.member(t.c.id, "ids", dialect))
    # Labelled: SQLite orders a union by the names its first part gives.
    selected = [
        *(t.c[name].label(name) for name in ("id", "valid_from", "valid_to", "item_id")),
        *(t.c[c.name] for c in versions.columns()),
    ]
    return sa.select(*selected).select_from(chosen).where(*where)


_ORDER = ("item_id", "valid_from", "id")
"""The order versions are read in: by item, then valid time."""


@functools.cache
def _versions_query(section: str, known_at: bool, in_force: bool) -> Prepared:
    """`Reader.versions` (parameter ``ids`` of versions; `known_at` false), or with
    `in_force` `Reader.in_force` (parameters ``items``, each once, ``as_of`` and
    ``known_at``): one
    statement either way, since on PostgreSQL a statement costs about a millisecond
    however few rows it reads."""
    names = ("as_of", "known_at") if in_force else None
    return Prepared(lambda dialect: _selected(section, known_at, dialect, names).order_by(*_ORDER))


@functools.cache
def _sides_query(section: str, known: tuple[bool, bool]) -> Prepared:
    """`Reader.in_force_sides`: `_versions_query` in force for two sides at once (a
    diff's), a last column naming the side; parameters ``items``, and ``as_of_0``,
    ``known_at_0``, ``as_of_1``, ``known_at_1``."""

    def build(dialect: str) -> sa.CompoundSelect[Any]:
        sides = [
            _selected(section, given, dialect, (f"as_of_{side}", f"known_at_{side}")).add_columns(
                sa.literal_column(str(side)).label("side")
            )
            for side, given in enumerate(known)
        ]
        return sa.union_all(*sides).order_by("side", *_ORDER)

    return Prepared(build)


@functools.cache
def _dossier_query(section: str, known_at: bool) -> Prepared:
    """`Reader.dossier_versions`: the versions of ``dossier`` in force as of ``as_of``,
    known at ``known_at``, by one range of the index on (dossier, valid time)."""

    def build(dialect: str) -> sa.Select[Any]:
        versions = VERSIONS[section]
        t = versions.table
        return sa.select(
            t.c.id, t.c.valid_from, t.c.valid_to, t.c.item_id, *versions.columns()
        ).where(
            t.c.dossier == sa.bindparam("dossier"),
            *prepared.in_force(t),
            *prepared.known(t, known_at),
        )

    return Prepared(build)


@functools.cache
def _categories_query(known_at: bool, dossier: bool) -> Prepared:
    """`Reader.categories`: parameters ``known_at`` and ``dossier``."""

    def build(dialect: str) -> sa.Select[Any]:
        d, e = declared_items, events_table
        query = (
            sa.select(d.c.dossier, d.c.code, d.c.category, d.c.declared, d.c.event, e.c.key)
            .select_from(d.join(e, e.c.position == d.c.event))
            .where(*prepared.known(d, known_at))
        )
        return query.where(d.c.dossier == sa.bindparam("dossier")) if dossier else query

    return Prepared(build)


@functools.cache
def _named_query(actor: bool, issue: bool, dossier: bool) -> Prepared:
    """`Reader._item_pages`: a page of the ids after ``last`` of the items of ``section``
    (of ``dossier``) that name ``actor`` and ``issue``, by the index of names."""

    def build(dialect: str) -> sa.Select[Any]:
        n = item_names.c
        picks = [
            sa.select(n.item_id).where(
                n.kind == kind,
                n.name == sa.bindparam(kind),
                n.section == sa.bindparam("section"),
                *([n.dossier == sa.bindparam("dossier")] if dossier else []),
            )
            for kind, asked in (("actor", actor), ("issue", issue))
            if asked
        ]
        query = picks[0].where(*(n.item_id.in_(other) for other in picks[1:]))
        return query.where(n.item_id > sa.bindparam("last")).order_by(n.item_id).limit(PAGE)

    return Prepared(build)


@functools.cache
def _item_ids_query(dossier: bool) -> Prepared:
    """`Reader.item_ids`: parameters ``section``, ``key`` and ``dossier``."""

    def build(dialect: str) -> sa.Select[Any]:
        t = state_items
        query = sa.select(t.c.id).where(
            t.c.section == sa.bindparam("section"), t.c.key == sa.bindparam("key")
        )
        return query.where(t.c.dossier == sa.bindparam("dossier")) if dossier else query

    return Prepared(build)


@functools.cache
def _history_query(section: str, known_at: bool) -> Prepared:
    """`Reader.history`: the ids of every version of the items ``items`` known at
    ``known_at``."""

    def build(dialect: str) -> sa.Select[Any]:
        v = VERSIONS[section].table
        member = prepared.member(v.c.item_id, "items", dialect)
        return sa.select(v.c.id).where(member, *prepared.known(v, known_at))

    return Prepared(build)


@functools.cache
def _pressure_query(known_at: bool) -> Prepared:
    """`Reader._pressure_on`: parameters ``dossier``, ``target``, ``issue``, ``known_at``."""

    def build(dialect: str) -> sa.Select[Any]:
        p = VERSIONS["pressure"].table
        return sa.select(p.c.valid_from, p.c.valid_to, p.c.actor).where(
            p.c.dossier == sa.bindparam("dossier"),
            p.c.target == sa.bindparam("target"),
            p.c.issue == sa.bindparam("issue"),
            *prepared.known(p, known_at),
        )

    return Prepared(build)


class Reader:
    """The read side's queries, on one engine."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.engine = store.engine

    # -- versions ------------------------------------------------------------------

    def in_force(
        self,
        conn: Connection,
        versions: VersionTable,
        items: Sequence[int],
        as_of: dt.datetime,
        known_at: dt.datetime | None,
    ) -> list[tuple[tuple[Any, ...], Versioned]]:
        """The version of each item (ids of `state_items`) that counts as of `as_of`, as
        known at `known_at`, with its sort position and causes; items with none have none."""
        query = _versions_query(versions.section, known_at is not None, True)
        found = query.rows(conn, items=items, as_of=as_of, known_at=known_at)
        return self._versioned(conn, versions, found)

    def in_force_sides(
        self,
        conn: Connection,
        versions: VersionTable,
        items: Sequence[int],
        sides: Sequence[tuple[dt.datetime, dt.datetime | None]],
    ) -> list[list[tuple[tuple[Any, ...], Versioned]]]:
        """`in_force` for the two sides of a diff, each (as_of, known_at), in one statement."""
        query = _sides_query(versions.section, tuple(known is not None for _, known in sides))
        values = {
            f"{name}_{side}": time
            for side, times in enumerate(sides)
            for name, time in zip(("as_of", "known_at"), times, strict=True)
        }
        found: list[list[Any]] = [[] for _ in sides]
        for row in query.rows(conn, items=items, **values):
            found[row[-1]].append(row[:-1])
        return [self._versioned(conn, versions, side) for side in found]

    def _item_pages(
        self, conn: Connection, versions: VersionTable, where: Filter
    ) -> Iterator[list[int]]:
        """The ids of the items of a section that name the actor or the issue `where`
        asks about, by the index of names, a page at a time."""
        query = _named_query(
            where.actor is not None, where.issue is not None, where.dossier is not None
        )
        last = 0
        while True:
            page = query.scalars(
                conn,
                section=versions.section,
                actor=where.actor,
                issue=where.issue,
                dossier=where.dossier,
                last=last,
            )
            if page:
                yield page
            if len(page) < PAGE:
                return
            last = page[-1]

    def versions(
        self, conn: Connection, versions: VersionTable, ids: Sequence[int]
    ) -> list[tuple[tuple[Any, ...], Versioned]]:
        """The versions with these ids, each with its sort position, by item."""
        query = _versions_query(versions.section, False, False)
        return self._versioned(conn, versions, query.rows(conn, ids=ids))

    def _versioned(
        self, conn: Connection, versions: VersionTable, selected: Sequence[Any]
    ) -> list[tuple[tuple[Any, ...], Versioned]]:
        """Rows (id, valid_from, valid_to, item_id, columns...) as versions, each with its
        sort position."""
        raw = versions.raw(conn.dialect.name)
        time = rows.time_reader(conn.dialect.name)
        item = versions.item
        found: list[tuple[tuple[Any, ...], Versioned]] = []
        for row in selected:
            valid_to = None if row[2] is None else time(row[2])
            order = (row[3], row[1], row[0])
            found.append((order, (time(row[1]), valid_to, item(raw(row[4:])))))
        return found

    def _found(
        self,
        conn: Connection,
        versions: VersionTable,
        as_of: dt.datetime,
        known_at: dt.datetime | None,
        where: Filter,
    ) -> Iterator[list[Any]]:
        """The items of a section in force as of `as_of`, known at `known_at`, that `where`
        may keep, a page at a time: by the index of names for an actor or an issue, else
        by one range of the index on (dossier, valid time) per dossier."""
        if where.actor is not None or where.issue is not None:
            for page in self._item_pages(conn, versions, where):
                found = self.in_force(conn, versions, page, as_of, known_at)
                yield [item for _, (_, _, item) in found]
            return
        dossiers = [where.dossier] if where.dossier is not None else self.store.dossiers(conn)
        query = _dossier_query(versions.section, known_at is not None)
        raw, item = versions.raw(conn.dialect.name), versions.item
        for dossier in dossiers:
            for read in query.pages(conn, PAGE, dossier=dossier, as_of=as_of, known_at=known_at):
                yield [item(raw(row[4:])) for row in read]

    # -- state -----------------------------------------------------------------------

    def items(
        self,
        as_of: dt.datetime,
        *,
        known_at: dt.datetime | None = None,
        where: Filter = EVERYTHING,
    ) -> Iterator[Item]:
        """The state's items, section by section, read a page of items at a time: memory
        holds a page, whatever the size of the state. Within a section they come in no
        particular order (`state` sorts them)."""
        with self.engine.connect() as conn:
            # Only pledges have a category: a point query on a position asks one
            # statement fewer (a millisecond on PostgreSQL).
            categories = (
                self.categories(conn, known_at, where.dossier) if where.wants("pledges") else {}
            )
            for name in SECTIONS:
                if not where.wants(name):
                    continue
                if name == coalitions.SECTION:
                    yield from self._coalitions(conn, as_of, known_at, where)
                    continue
                for found in self._found(conn, VERSIONS[name], as_of, known_at, where):
                    with collector_paused():
                        kept = [item for item in found if where.keeps(item)]
                        context = self.context(conn, as_of, known_at, kept, categories)
                        finished = [finish(item, context) for item in kept]
                    yield from finished

    def _coalitions(
        self, conn: Connection, as_of: dt.datetime, known_at: dt.datetime | None, where: Filter
    ) -> Iterator[Item]:
        """The coalitions `where` asks about, read from the positions."""
        asked = [
            (dossier, issue)
            for dossier, issue in coalitions.registered(conn, where.dossier)
            if where.issue in (None, issue)
        ]
        for coalition in coalitions.at(conn, asked, as_of, known_at):
            if where.keeps(coalition):
                yield coalition

    def state(
        self,
        as_of: dt.datetime,
        *,
        known_at: dt.datetime | None = None,
        where: Filter = EVERYTHING,
    ) -> State:
        """The state as of `as_of`, as known at `known_at` (None: now).

        Its items stay alive together and hold no cycles: the collector, which
        would walk them all again and again as they pile up, is paused."""
        with collector_paused():
            items = list(self.items(as_of, known_at=known_at, where=where))
            return State.of(as_of=as_of, known_at=known_at, items=items)

    def document(
        self,
        as_of: dt.datetime,
        *,
        known_at: dt.datetime | None = None,
        where: Filter = EVERYTHING,
    ) -> Iterator[str]:
        """The state as its `timeline.state/2` JSON, in pieces of text, written by the
        database a page at a time (`timeline.readmodels.documents`); a question naming an
        actor or an issue, of a few items by the index of names, from objects."""
        if where.actor is not None or where.issue is not None:
            found = self.state(as_of, known_at=known_at, where=where)
            yield orjson.dumps(state_to_json(found)).decode()
            return
        with self.engine.connect() as conn:
            yield from documents.state(self, conn, as_of, known_at, where)

    def item_ids(
        self, conn: Connection, section: str, key: Sequence[str], dossier: str | None = None
    ) -> list[int]:
        """The ids of the items of `section` with this key after the dossier (in `dossier`,
        or in any when None)."""
        query = _item_ids_query(dossier is not None)
        return query.scalars(conn, section=section, key=key_text(key), dossier=dossier)

    def context(
        self,
        conn: Connection,
        as_of: dt.datetime,
        known_at: dt.datetime | None,
        items: Sequence[Item],
        categories: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Context:
        """What the derived fields of `items` need, as of `as_of` and known at `known_at`:
        the pressure on the positions among them, and the dossiers' categories."""
        if categories is None:
            categories = self.categories(conn, known_at, None)
        found = categories
        wanted = sorted({(p.dossier, p.actor, p.issue) for p in items if isinstance(p, Position)})
        pressing: dict[tuple[str, str, str], list[str]] = {}
        for chunk in rows.chunks(wanted, 300):
            for dossier, target, issue, actor in _pressing(conn, chunk, as_of, known_at):
                pressing.setdefault((dossier, target, issue), []).append(actor)
        return Context(
            as_of=as_of,
            categories=lambda d: found.get(d, {}),
            pressing=lambda d, t, i: tuple(sorted(pressing.get((d, t, i), ()))),
        )

    def categories(
        self, conn: Connection, known_at: dt.datetime | None, dossier: str | None
    ) -> Mapping[str, Mapping[str, str]]:
        """Each dossier's item categories as known at `known_at`: the later declaration
        wins, by valid start then recording (`projections.record.declaration_order`)."""
        query = _categories_query(known_at is not None, dossier is not None)
        declared = query.rows(conn, known_at=known_at, dossier=dossier)
        found: dict[str, dict[str, str]] = {}
        for name, code, category, *_ in sorted(declared, key=lambda r: (r[0], *r[3:])):
            found.setdefault(name, {})[code] = category
        return found

    def names(self) -> dict[str, set[str]]:
        """The dossiers the store holds, and every actor and issue they declared."""
        from timeline.readmodels.tables import declared_actors, declared_issues

        dossiers = set(self.store.dossiers())
        with self.engine.connect() as conn:
            return {
                "dossier": dossiers,
                "actor": set(conn.scalars(sa.select(declared_actors.c.code).distinct())),
                "issue": set(conn.scalars(sa.select(declared_issues.c.code).distinct())),
            }

    def dossiers_of(self, section: str, key: Key) -> list[str]:
        """The dossiers that have an item of `section` with this key (without the dossier)."""
        t = state_items
        with self.engine.connect() as conn:
            query = sa.select(t.c.dossier).where(t.c.section == section, t.c.key == key_text(key))
            return sorted(conn.scalars(query))

    # -- history ---------------------------------------------------------------------

    def history(
        self, section: str, key: Key, *, known_at: dt.datetime | None = None
    ) -> tuple[Version, ...]:
        """Every version of one item as known at `known_at`, oldest first; derived fields
        as of the first instant each is in force."""
        if section == coalitions.SECTION:
            with self.engine.connect() as conn:
                return coalitions.history(conn, key[0], key[1], known_at)
        versions = VERSIONS[section]
        with self.engine.connect() as conn:
            items = self.item_ids(conn, section, key[1:], key[0])
            query = _history_query(section, known_at is not None)
            every = query.scalars(conn, items=items, known_at=known_at)
            found = [version for _, version in self.versions(conn, versions, every)]
            categories = self.categories(conn, known_at, key[0])
            pressure = self._pressure_on(conn, key, known_at) if section == "positions" else []
        pressing = _Sweep(pressure)
        result = []
        for valid_from, valid_to, item in found:
            first = valid_from + dt.timedelta(microseconds=1)
            pressed = pressing.at(first)
            context = Context(
                as_of=first,
                categories=lambda d: categories.get(d, {}),
                pressing=_always(pressed),
            )
            result.append(
                Version(valid_from=valid_from, valid_to=valid_to, item=finish(item, context))
            )
        return tuple(result)

    def _pressure_on(
        self, conn: Connection, position: Key, known_at: dt.datetime | None
    ) -> list[Versioned]:
        """Every version of the pressure on one position (its key: dossier, actor, issue)
        known at `known_at`, as (valid_from, valid_to, the actor pressing)."""
        dossier, target, issue = position
        query = _pressure_query(known_at is not None)
        found = query.rows(conn, dossier=dossier, target=target, issue=issue, known_at=known_at)
        time = rows.time_from_sqlite if conn.dialect.name == "sqlite" else rows.aware
        return [
            (time(start), None if end is None else time(end), actor) for start, end, actor in found
        ]

    # -- diff ----------------------------------------------------------------------------

    def diff(
        self,
        from_: dt.datetime,
        to: dt.datetime,
        *,
        from_known_at: dt.datetime | None = None,
        to_known_at: dt.datetime | None = None,
        where: Filter = EVERYTHING,
    ) -> Diff:
        """What changed from `from_` (known at `from_known_at`) to `to` (known at `to_known_at`).

        Like `state`, with the collector paused while both sides' items pile up."""
        from timeline.readmodels.diffs import IndexedDiff

        with self.engine.connect() as conn, collector_paused():
            return IndexedDiff(self, conn, from_, to, from_known_at, to_known_at, where).run()
