"""Reading an item's current versions, and writing the versions that replace them.

An item's *chain* is its current versions (``recorded_to`` NULL) in valid
time. Refolding an item from a valid time replaces the part of its chain
from the version in force there on; `Rewrite` compares the old part with
the new, closes the rows that changed (``recorded_to``) and inserts the
new ones, and does the same for the links to the events behind each
version. A row that is the same before and after stays as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from timeline.readmodels.tables import VersionTable, item_names, names_of, state_events
from timeline.store import rows
from timeline.store.schema import UTCDateTime

Chain = list[tuple[dt.datetime, Any]]
"""Versions of one item: (valid_from, item), oldest first."""


@attrs.frozen
class Row:
    """A current version as stored: its row id, valid time, and its key, content and
    computed column values, decoded into the item when asked for."""

    id: int
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    values: tuple[Any, ...]
    versions: VersionTable = attrs.field(eq=False, repr=False)

    @property
    def item(self) -> Any:
        return self.versions.item(self.values)

    def content(self) -> tuple[Any, ...]:
        return comparable(self.values)


@attrs.frozen
class Link:
    """A current link from a version (its item and valid_from) to an event."""

    id: int
    valid_from: dt.datetime
    event: int
    effect: bool


def _select(versions: VersionTable) -> sa.Select[Any]:
    t = versions.table
    return sa.select(t.c.id, t.c.item_id, t.c.valid_from, t.c.valid_to, *versions.stored())


def _row(versions: VersionTable, found: Sequence[Any]) -> tuple[int, Row]:
    return found[1], Row(found[0], found[2], found[3], tuple(found[4:]), versions)


def comparable(values: Sequence[Any]) -> tuple[Any, ...]:
    """Column values as a hashable tuple, lists (JSON) as tuples."""
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


def heads(conn: Connection, versions: VersionTable, items: Iterable[int]) -> dict[int, Row]:
    """The latest current version of each item that has one."""
    t = versions.table
    found: dict[int, Row] = {}
    for chunk in rows.chunks(sorted(set(items))):
        query = _select(versions).where(
            t.c.item_id.in_(chunk), t.c.recorded_to.is_(None), t.c.valid_to.is_(None)
        )
        for item, row in (_row(versions, r) for r in conn.execute(query)):
            found[item] = row
    return found


def chain_from(
    conn: Connection, versions: VersionTable, item: int, start: dt.datetime | None
) -> list[Row]:
    """An item's current versions from the one in force just before `start` (all when
    None), by start.

    Asked as the latest one before `start` and those from `start` on, two seeks in the
    index on (item_id, valid_from): asked as "ending after `start`", SQLite read every
    version of the item (a total has thousands)."""
    t = versions.table
    query = _select(versions).where(t.c.item_id == item, t.c.recorded_to.is_(None))
    if start is None:
        return [_row(versions, r)[1] for r in conn.execute(query.order_by(t.c.valid_from))]
    before = query.where(t.c.valid_from < start).order_by(t.c.valid_from.desc()).limit(1)
    after = query.where(t.c.valid_from >= start).order_by(t.c.valid_from)
    found = [*conn.execute(before), *conn.execute(after)]
    return [_row(versions, r)[1] for r in found]


def chains_from(
    conn: Connection, versions: VersionTable, starts: Mapping[int, dt.datetime | None]
) -> dict[int, list[Row]]:
    """`chain_from` for many items at once, each from its own start."""
    t = versions.table
    found: dict[int, list[Row]] = {item: [] for item in starts}
    for chunk in rows.chunks(sorted(starts)):
        query = _select(versions).where(t.c.item_id.in_(chunk), t.c.recorded_to.is_(None))
        earliest = _earliest(starts, chunk)
        if earliest is not None:
            query = query.where(sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= earliest))
        for item, row in (_row(versions, r) for r in conn.execute(query.order_by(t.c.valid_from))):
            start = starts[item]
            if start is None or row.valid_to is None or row.valid_to >= start:
                found[item].append(row)
    return found


def links_of(conn: Connection, starts: Mapping[int, dt.datetime | None]) -> dict[int, list[Link]]:
    """`links_from` for many items at once, each from its own start."""
    t = state_events
    found: dict[int, list[Link]] = {item: [] for item in starts}
    for chunk in rows.chunks(sorted(starts)):
        query = sa.select(t.c.item_id, t.c.id, t.c.valid_from, t.c.event, t.c.effect).where(
            t.c.item_id.in_(chunk), t.c.recorded_to.is_(None)
        )
        earliest = _earliest(starts, chunk)
        if earliest is not None:
            query = query.where(t.c.valid_from >= earliest)
        for item, *link in conn.execute(query):
            start = starts[item]
            if start is None or link[1] >= start:
                found[item].append(Link(*link))
    return found


def _earliest(starts: Mapping[int, dt.datetime | None], items: Sequence[int]) -> dt.datetime | None:
    """The earliest of these items' starts; None when one of them has none."""
    chosen = [starts[item] for item in items]
    return None if None in chosen else min(s for s in chosen if s is not None)


def links_from(conn: Connection, item: int, start: dt.datetime | None) -> list[Link]:
    """An item's current links to events, of versions starting at `start` or after."""
    t = state_events
    query = sa.select(t.c.id, t.c.valid_from, t.c.event, t.c.effect).where(
        t.c.item_id == item, t.c.recorded_to.is_(None)
    )
    if start is not None:
        query = query.where(t.c.valid_from >= start)
    return [Link(*r) for r in conn.execute(query)]


def bounded(
    chain: Sequence[tuple[dt.datetime, Any]],
) -> list[tuple[dt.datetime, dt.datetime | None, Any]]:
    """Versions with the valid time each holds until: the next one's start, or None."""
    return [
        (start, chain[i + 1][0] if i + 1 < len(chain) else None, item)
        for i, (start, item) in enumerate(chain)
    ]


@attrs.define
class Rewrite:
    """The rows one page closes and inserts, gathered to be written at once."""

    recorded: dt.datetime
    ids: dict[str, int]
    closed: dict[str, list[int]] = attrs.Factory(dict)
    inserted: dict[str, list[tuple[Any, ...]]] = attrs.Factory(dict)
    named: set[tuple[str, str, str, str, int]] = attrs.Factory(set)
    """Rows for `item_names`: added where missing, since earlier versions named most."""

    def new_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: sa.Table, **values: Any) -> int:
        """A new row of `table` (a new id, and the values given; NULL elsewhere)."""
        values["id"] = self.new_id(table.name)
        self.inserted.setdefault(table.name, []).append(tuple(values.get(c.name) for c in table.c))
        return int(values["id"])

    def replace(
        self,
        versions: VersionTable,
        item: int,
        old: Sequence[Row],
        new: Sequence[tuple[dt.datetime, Any]],
        previous: Row | None = None,
    ) -> bool:
        """Replace the versions `old` of `item` by `new` (by start); whether anything changed.

        `previous`, when given, is the stored version `new` begins with: its values
        stay as stored (its computed ones could not be worked out again, since the
        version before it is not at hand, and has not changed; encoding the rest
        again would only give them back)."""
        name = versions.table.name
        kept = {(r.valid_from, r.valid_to, r.content()): r for r in old}
        changed = False
        before = None
        for index, (start, end, found) in enumerate(bounded(new)):
            if index == 0 and previous is not None:
                values = list(previous.values)
            else:
                values = versions.values(found) + list(versions.computed_values(before, found))
            before = found
            if kept.pop((start, end, comparable(values)), None) is not None:
                continue
            changed = True
            times: tuple[Any, ...] = (start, end, self.recorded, None)
            if versions.certain:
                times = (*times, found.certain_from())
            row = (self.new_id(name), item, *values, *times)
            self.inserted.setdefault(name, []).append(row)
            if index == 0 and previous is not None:
                continue  # named when it was first stored
            section = versions.section
            self.named.update(
                (kind, named, section, found.dossier, item)
                for kind, named in names_of(section, found)
            )
        if kept:
            changed = True
            self.closed.setdefault(name, []).extend(r.id for r in kept.values())
        return changed

    def relink(
        self, item: int, old: Sequence[Link], new: Iterable[tuple[dt.datetime, int, bool]]
    ) -> None:
        """Replace the links `old` of `item` by `new` (valid_from, event, effect)."""
        name = state_events.name
        kept = {(link.valid_from, link.event, link.effect): link for link in old}
        for start, event, effect in set(new):
            if kept.pop((start, event, effect), None) is None:
                row = (self.new_id(name), item, start, event, effect, self.recorded, None)
                self.inserted.setdefault(name, []).append(row)
        self.closed.setdefault(name, []).extend(link.id for link in kept.values())

    def write(self, conn: Connection, tables: dict[str, sa.Table]) -> None:
        """Close and insert everything gathered, on `conn`'s transaction."""
        for name, ids in self.closed.items():
            table = tables[name]
            for chunk in rows.chunks(sorted(ids)):
                conn.execute(
                    table.update().where(table.c.id.in_(chunk)).values(recorded_to=self.recorded)
                )
        for name, inserted in self.inserted.items():
            if inserted:
                insert(conn, tables[name], inserted)
        if self.named:
            mark = "?" if conn.dialect.name == "sqlite" else "%s"
            statement = (
                f"INSERT INTO {item_names.name} (kind, name, section, dossier, item_id) "
                f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT DO NOTHING"
            )
            rows.execute(conn, statement, sorted(self.named), many=True)
        self.closed.clear()
        self.inserted.clear()
        self.named.clear()


def insert(conn: Connection, table: sa.Table, found: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows through the driver, each value kept as the column's type keeps it.

    SQLAlchemy's processing of every bound value costs more than the database
    does at a few hundred thousand rows a page; this is `timeline.store.rows`'
    way for the read models: times as UTC text on SQLite and `timestamptz` on
    PostgreSQL, JSON as text, booleans as integers on SQLite. SQLite takes one
    prepared INSERT for every row, as cheaply as anything; PostgreSQL takes them
    by COPY, since an INSERT a row, even pipelined, spent a third of a rebuild
    binding values and waiting on the server.
    """
    dialect = conn.dialect.name
    columns = list(table.c)
    encoders = [(i, e) for i, c in enumerate(columns) if (e := _encoder(c, dialect)) is not None]
    values = []
    for row in found:
        encoded = list(row)
        for index, encode in encoders:
            encoded[index] = encode(encoded[index])
        values.append(encoded)
    if dialect != "sqlite":
        rows.copy_rows(conn, table.name, [c.name for c in columns], values)
        return
    names = ", ".join(f'"{c.name}"' for c in columns)
    statement = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})"
    rows.execute(conn, statement, values, many=True)


def _encoder(column: sa.Column[Any], dialect: str) -> Callable[[Any], Any] | None:
    """How the driver takes a column's values; None: as they are."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return rows.time_to_sqlite if dialect == "sqlite" else rows.aware_or_none
    if isinstance(kind, sa.JSON):
        return _json_text
    if isinstance(kind, sa.Boolean) and dialect == "sqlite":
        return _integer
    return None


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _integer(value: bool | None) -> int | None:
    return None if value is None else int(value)
