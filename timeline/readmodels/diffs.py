"""A diff read from the version tables: only what can differ is read.

The items that may differ between the two sides are found by index: those
with a version starting between the two dates; those whose certainty turns
between them; when the sides are known at different times, those with a
version recorded or superseded in between (and, for pledges and totals,
those of dossiers whose declarations changed then); and positions pressed
anew. Both sides of each are read, compared, and each change gets the
events behind it by the rule of `projections.diff`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events import DossierDeclared
from projections import State
from projections.diff import Diff, compare, window
from projections.positions import Position
from projections.record import FIXES, reference
from projections.refs import Ref
from projections.state import ACTOR_FIELDS, Filter, Item, Key, finish
from timeline.readmodels import coalitions, prepared
from timeline.readmodels.prepared import Prepared
from timeline.readmodels.tables import (
    VERSIONS,
    VersionTable,
    declared_items,
    key_text,
    state_events,
    state_items,
)
from timeline.store import rows
from timeline.store.schema import events as events_table

if TYPE_CHECKING:
    from timeline.readmodels.reader import Reader

_Link = tuple[int, str, dt.datetime]
"""An event behind a version: its position, its key and when it was recorded."""


def _between(column: sa.ColumnElement[dt.datetime], low: Any, high: Any) -> sa.ColumnElement[bool]:
    """``low <= column < high`` (times, or parameters that will be), `high` None being
    "now", after everything."""
    return column >= low if high is None else sa.and_(column >= low, column < high)


def ordered(
    first: dt.datetime | None, second: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime | None]:
    """Two different transaction times as (earlier, later); None, "now", is the latest."""
    if first is None:
        assert second is not None  # the two differ
        return second, None
    if second is None or first < second:
        return first, second
    return second, first


class IndexedDiff:
    """One diff, on one connection."""

    def __init__(
        self,
        reader: Reader,
        conn: Connection,
        from_: dt.datetime,
        to: dt.datetime,
        from_known_at: dt.datetime | None,
        to_known_at: dt.datetime | None,
        where: Filter,
    ) -> None:
        self.reader, self.conn, self.where = reader, conn, where
        self.from_, self.to = from_, to
        self.before_known, self.after_known = from_known_at, to_known_at
        self.start, self.end = window(from_, to)
        self.recorded: tuple[dt.datetime, dt.datetime | None] | None = None
        if from_known_at != to_known_at:
            self.recorded = ordered(from_known_at, to_known_at)
        self.dossiers = (
            [where.dossier] if where.dossier is not None else reader.store.dossiers(conn)
        )
        self.ids: dict[tuple[str, Key], int] = {}
        self.pressure: dict[Key, list[int]] = {}
        """The pressure items on each position whose `pressed_by` changes."""
        self._link_cache: dict[
            tuple[dt.datetime | None, dt.datetime | None], dict[int, list[_Link]]
        ] = {}
        self.coalitions: set[tuple[str, str]] = set()
        """(dossier, issue) of the coalitions that may differ."""
        self._coalition_link_cache: dict[
            tuple[dt.datetime | None, dt.datetime | None, str], dict[str, list[_Link]]
        ] = {}

    def run(self) -> Diff:
        sides: list[tuple[dt.datetime, dt.datetime | None, list[Item]]] = [
            (self.from_, self.before_known, []),
            (self.to, self.after_known, []),
        ]
        sections = tuple(name for name in VERSIONS if self.where.wants(name))
        candidates = self._candidates(sections)
        for name in sections:
            for chunk in rows.chunks(sorted(candidates.get(name, ()))):
                self._items(VERSIONS[name], chunk, sides)
        if self.where.wants(coalitions.SECTION):
            self._coalitions(sides)
        (_, _, before_items), (_, _, after_items) = sides
        self._read_pressure(before_items, after_items)
        before = State.of(as_of=self.from_, known_at=self.before_known, items=before_items)
        after = State.of(as_of=self.to, known_at=self.after_known, items=after_items)
        return compare(before, after, self._causes)

    def _items(
        self,
        versions: VersionTable,
        items: Sequence[int],
        sides: Sequence[tuple[dt.datetime, dt.datetime | None, list[Item]]],
    ) -> None:
        """The items of both sides, added to each side's list."""
        times = [(as_of, known) for as_of, known, _ in sides]
        read = self.reader.in_force_sides(self.conn, versions, items, times)
        for (as_of, known, side), found in zip(sides, read, strict=True):
            for (item_id, *_), (_, _, item) in found:
                self.ids[(versions.section, item.key)] = item_id
            kept = [item for _, (_, _, item) in found if self.where.keeps(item)]
            categories = self.categories[known]
            context = self.reader.context(self.conn, as_of, known, kept, categories)
            side += [finish(item, context) for item in kept]

    def _coalitions(
        self, sides: Sequence[tuple[dt.datetime, dt.datetime | None, list[Item]]]
    ) -> None:
        """The coalitions that may differ, read from the positions on both sides."""
        where = self.where
        self.coalitions = {
            (dossier, issue)
            for dossier, issue in coalitions.moved_between(
                self.conn, self.dossiers, self.start, self.end, self.after_known, self.recorded
            )
            if where.dossier in (None, dossier) and where.issue in (None, issue)
        }
        for as_of, known, side in sides:
            found = coalitions.at(self.conn, sorted(self.coalitions), as_of, known)
            side += [coalition for coalition in found if where.keeps(coalition)]

    # -- what may differ --------------------------------------------------------------

    def _candidates(self, sections: Sequence[str]) -> dict[str, set[int]]:
        """The ids of the items of each section that may differ between the two sides."""
        if not sections:
            return {}
        shape = _Shape(
            sections=tuple(sections),
            before_known=self.before_known is not None,
            after_known=self.after_known is not None,
            recorded=self.recorded is not None,
            recorded_high=self.recorded is not None and self.recorded[1] is not None,
            issue=self.where.issue is not None,
            actor=self.where.actor is not None,
        )
        low, high = self.recorded or (None, None)
        found: dict[str, set[int]] = {}
        for section, item in _candidates_query(shape).rows(
            self.conn,
            start=self.start,
            end=self.end,
            from_=self.from_,
            to=self.to,
            before_known=self.before_known,
            after_known=self.after_known,
            low=low,
            high=high,
            dossiers=self.dossiers,
            issue=self.where.issue,
            actor=self.where.actor,
        ):
            found.setdefault(section, set()).add(item)
        if "positions" in sections:
            found.setdefault("positions", set()).update(self._pressed())
        if self.recorded is not None:
            for section in ("pledges", "totals"):
                if section in sections:
                    found.setdefault(section, set()).update(self._recategorised(VERSIONS[section]))
        return found

    def _pressed(self) -> set[int]:
        """Positions whose `pressed_by` may differ: pressure on them began between the two
        dates, or was recorded or superseded between the two transaction times."""
        low, high = self.recorded or (None, None)
        query = _pressed_query(self.recorded is not None, high is not None)
        keys: dict[str, list[str]] = {}
        for dossier, target, issue in query.rows(
            self.conn, start=self.start, end=self.end, low=low, high=high, dossiers=self.dossiers
        ):
            keys.setdefault(dossier, []).append(key_text((target, issue)))
        found: set[int] = set()
        for dossier, texts in keys.items():
            for chunk in rows.chunks(texts):
                found.update(_POSITIONS.scalars(self.conn, dossier=dossier, keys=chunk))
        return found

    def _recategorised(self, versions: VersionTable) -> set[int]:
        """Pledges and totals of dossiers whose declarations changed between the two times."""
        assert self.recorded is not None
        low, high = self.recorded
        d = declared_items.c
        changed = sa.or_(_between(d.recorded_from, low, high), _between(d.recorded_to, low, high))
        dossiers = list(self.conn.scalars(sa.select(d.dossier).distinct().where(changed)))
        if not dossiers:
            return set()
        t = versions.table
        return set(
            self.conn.scalars(sa.select(t.c.item_id).distinct().where(t.c.dossier.in_(dossiers)))
        )

    # -- the events behind a change ------------------------------------------------------

    def _causes(self, section: str, key: Key, before: Item | None, after: Item | None) -> set[Ref]:
        """The events behind the change of one item, by the rule of `projections.diff`."""
        if section == coalitions.SECTION:

            def links(known: dt.datetime | None, start: dt.datetime | None) -> list[_Link]:
                return self._coalition_links(key, known, start)
        else:
            items = [self.ids[(section, key)]]
            if (
                isinstance(before, Position)
                and isinstance(after, Position)
                and before.pressed_by != after.pressed_by
            ):
                items += self.pressure[before.key]

            def links(known: dt.datetime | None, start: dt.datetime | None) -> list[_Link]:
                return self._links(items, known, start)

        dossier = key[0]
        found = {Ref(dossier, k) for _, k, _ in links(self.after_known, self.start)}
        if self.recorded is None:
            return found
        low, high = self.recorded
        for known in (self.before_known, self.after_known):
            for position, k, recorded in links(known, None):
                if recorded >= low and (high is None or recorded < high):
                    found.add(Ref(dossier, k))
                found |= self.fixes.get(position, set())
        if section in ("pledges", "totals"):
            found |= {ref for ref in self.declarations if ref.dossier == dossier}
        return found

    def _read_pressure(self, before: Sequence[Item], after: Sequence[Item]) -> None:
        """`pressure`: the positions pressed by others on the two sides, and the pressure
        items on them, read a dossier at a time before the causes are asked for."""
        was = {item.key: item for item in before if isinstance(item, Position)}
        changed = [
            item.key
            for item in after
            if isinstance(item, Position)
            and item.key in was
            and was[item.key].pressed_by != item.pressed_by
        ]
        by_dossier: dict[str, set[tuple[str, str]]] = {}
        for dossier, actor, issue in changed:
            by_dossier.setdefault(dossier, set()).add((actor, issue))
            self.pressure[(dossier, actor, issue)] = []
        for dossier, wanted in by_dossier.items():
            targets = sorted({target for target, _ in wanted})
            issues = sorted({issue for _, issue in wanted})
            for chunk in rows.chunks(targets):
                for item, target, issue in _PRESSURE_ON.rows(
                    self.conn, dossier=dossier, targets=chunk, issues=issues
                ):
                    if (target, issue) in wanted:
                        self.pressure[(dossier, target, issue)].append(item)

    def _coalition_links(
        self, key: Key, known: dt.datetime | None, start: dt.datetime | None
    ) -> list[_Link]:
        """`_links` of one coalition: of the moves on its issue, read for every candidate
        coalition of its dossier at once the first time."""
        dossier, issue = key
        cache = self._coalition_link_cache.setdefault((known, start, dossier), {})
        if not cache:
            issues = sorted({i for d, i in self.coalitions if d == dossier})
            cache.update(coalitions.links(self.conn, dossier, issues, known, start, self.end))
        return cache[issue]

    def _links(
        self, item_ids: Iterable[int], known: dt.datetime | None, start: dt.datetime | None
    ) -> list[_Link]:
        """(position, key, recorded) of the events linked to these items as known at
        `known`, from versions starting before the later date (and from `start`).

        Read for every candidate at once the first time: a diff asks for each change."""
        cache = self._link_cache.setdefault((known, start), {})
        if not cache:
            pressing = [i for ids in self.pressure.values() for i in ids]
            self._read_links(cache, [*self.ids.values(), *pressing], known, start)
        missing = [i for i in item_ids if i not in cache]
        if missing:
            self._read_links(cache, missing, known, start)
        return [link for i in item_ids for link in cache[i]]

    def _read_links(
        self,
        cache: dict[int, list[_Link]],
        item_ids: Iterable[int],
        known: dt.datetime | None,
        start: dt.datetime | None,
    ) -> None:
        query = _links_query(known is not None, start is not None)
        time = rows.time_reader(self.conn.dialect.name)
        for chunk in rows.chunks(sorted(set(item_ids))):
            cache.update((i, []) for i in chunk)
            for item, position, key, recorded in query.rows(
                self.conn, ids=chunk, end=self.end, known_at=known, start=start
            ):
                cache[item].append((int(position), str(key), time(recorded)))

    def _recorded_between(self, types: Sequence[str]) -> list[int]:
        """Positions of the events of `types` recorded between the two transaction times."""
        assert self.recorded is not None
        e = events_table.c
        query = sa.select(e.position).where(_between(e.recorded, *self.recorded), e.type.in_(types))
        if self.where.dossier is not None:
            query = query.where(e.dossier == self.where.dossier)
        return list(self.conn.scalars(query))

    @functools.cached_property
    def categories(self) -> dict[dt.datetime | None, Mapping[str, Mapping[str, str]]]:
        """The dossiers' categories as known at each side's transaction time."""
        return {
            known: self.reader.categories(self.conn, known, self.where.dossier)
            for known in {self.before_known, self.after_known}
        }

    @functools.cached_property
    def declarations(self) -> set[Ref]:
        """Declarations recorded between the two transaction times."""
        found = self.reader.store.at(self._recorded_between([DossierDeclared.type]), conn=self.conn)
        return {Ref.of(e) for e in found.values()}

    @functools.cached_property
    def fixes(self) -> dict[int, set[Ref]]:
        """Fixes recorded between the two transaction times, by the position of the fact
        each reaches (through fixes of fixes)."""
        types = [cls.type for cls in FIXES]
        found: dict[int, set[Ref]] = {}
        positions = self._recorded_between(types)
        for fix in self.reader.store.at(positions, conn=self.conn).values():
            target, seen = fix, set()
            while isinstance(target.event, FIXES) and target.id not in seen:
                seen.add(target.id)
                named = reference(target)
                found_now = self.reader.store.find(target.dossier, [named], conn=self.conn)
                next_target = found_now.get(named)
                if next_target is None:
                    break
                target = next_target
            if not isinstance(target.event, FIXES) and target.position is not None:
                found.setdefault(target.position, set()).add(Ref.of(fix))
        return found


@attrs.frozen
class _Shape:
    """What a diff's search for candidates asks, that changes the query's text."""

    sections: tuple[str, ...]
    before_known: bool
    after_known: bool
    recorded: bool
    recorded_high: bool
    issue: bool
    actor: bool


def _since(
    column: sa.ColumnElement[dt.datetime], low: str, high: str | None
) -> sa.ColumnElement[bool]:
    """`_between` with the times as parameters named `low` and `high` (None: no upper end)."""
    start = sa.bindparam(low, type_=column.type)
    return _between(column, start, None if high is None else sa.bindparam(high, type_=column.type))


def _conditions(versions: VersionTable, shape: _Shape) -> list[sa.ColumnElement[bool]]:
    """The diff's filter in SQL, its values parameters ``issue`` and ``actor``, on the
    item's key only: a field that is not part of the key (a pledge's issue, a request's
    addressee) may change from one version to the next, so that a version that does not
    name the actor still moves the item into or out of the filter. `Filter.keeps` checks
    the rest, and the dossier, once decoded."""
    c = versions.table.c
    keys = {name for f in versions.keys for name in f.names}
    found: list[sa.ColumnElement[bool]] = []
    if shape.issue and "issue" in keys:
        found.append(c.issue == sa.bindparam("issue"))
    fields = ACTOR_FIELDS[versions.section]
    if shape.actor and fields and all(f in keys for f in fields):
        found.append(sa.or_(*(c[f] == sa.bindparam("actor") for f in fields)))
    return found


@functools.cache
def _candidates_query(shape: _Shape) -> Prepared:
    """(section, item id) of the items that may differ, of every section at once: those
    with a version starting between the two dates, those whose certainty turns between
    them, and those recorded or superseded between the two transaction times."""

    def build(dialect: str) -> sa.CompoundSelect[Any]:
        queries = []
        for section in shape.sections:
            versions = VERSIONS[section]
            t, c = versions.table, versions.table.c
            where = _conditions(versions, shape)
            named = [sa.literal_column(f"'{section}'").label("section"), c.item_id]
            # The window is a range of the index on (dossier, valid time) for each of the
            # ``dossiers``; the other branches read their own indexes (certain_from,
            # recorded_from) for every dossier: given the dossier, SQLite would read
            # the dossier's whole history instead.
            queries.append(
                sa.select(*named).where(
                    prepared.member(c.dossier, "dossiers", dialect),
                    _since(c.valid_from, "start", "end"),
                    *prepared.known(t, shape.after_known, "after_known"),
                    *where,
                )
            )
            if versions.certain:
                sides = [
                    ("from_", "before_known", shape.before_known),
                    ("to", "after_known", shape.after_known),
                ]
                for as_of, known, given in sides:
                    queries.append(
                        sa.select(*named).where(
                            c.certain_from > sa.bindparam("start", type_=c.certain_from.type),
                            c.certain_from <= sa.bindparam("end", type_=c.certain_from.type),
                            *prepared.in_force(t, as_of),
                            *prepared.known(t, given, known),
                            *where,
                        )
                    )
            if shape.recorded:
                high = "high" if shape.recorded_high else None
                for column in (c.recorded_from, c.recorded_to):
                    queries.append(sa.select(*named).where(_since(column, "low", high), *where))
        return sa.union_all(*queries)

    return Prepared(build)


@functools.cache
def _pressed_query(recorded: bool, recorded_high: bool) -> Prepared:
    """`IndexedDiff._pressed`: (dossier, target, issue) of the pressure on the ``dossiers``
    that began between the two dates, or (of any dossier) was recorded or superseded
    between the two transaction times."""

    def build(dialect: str) -> sa.Select[Any]:
        c = VERSIONS["pressure"].table.c
        began: sa.ColumnElement[bool] = sa.and_(
            prepared.member(c.dossier, "dossiers", dialect), _since(c.valid_from, "start", "end")
        )
        if recorded:
            high = "high" if recorded_high else None
            began = sa.or_(began, _since(c.recorded_from, "low", high))
            began = sa.or_(began, _since(c.recorded_to, "low", high))
        return sa.select(c.dossier, c.target, c.issue).distinct().where(began)

    return Prepared(build)


@functools.cache
def _links_query(known_at: bool, start: bool) -> Prepared:
    """(item, position, key, recorded) of the events linked to the items ``ids`` as known
    at ``known_at``, from versions starting before ``end`` (and from ``start``)."""

    def build(dialect: str) -> sa.Select[Any]:
        links, e = state_events, events_table
        where = [
            prepared.member(links.c.item_id, "ids", dialect),
            links.c.valid_from < sa.bindparam("end", type_=links.c.valid_from.type),
            *prepared.known(links, known_at),
        ]
        if start:
            where.append(links.c.valid_from >= sa.bindparam("start", type_=links.c.valid_from.type))
        return (
            sa.select(links.c.item_id, e.c.position, e.c.key, e.c.recorded)
            .select_from(links.join(e, e.c.position == links.c.event))
            .where(*where)
        )

    return Prepared(build)


def _pressure_on(dialect: str) -> sa.Select[Any]:
    p = VERSIONS["pressure"].table.c
    return (
        sa.select(p.item_id, p.target, p.issue)
        .distinct()
        .where(
            p.dossier == sa.bindparam("dossier"),
            prepared.member(p.target, "targets", dialect),
            prepared.member(p.issue, "issues", dialect),
        )
    )


_PRESSURE_ON = Prepared(_pressure_on)
"""(item id, target, issue) of the pressure items on the actors ``targets`` on the
issues ``issues`` of one ``dossier``: by the index on (dossier, target, issue)."""


def _positions(dialect: str) -> sa.Select[Any]:
    s = state_items.c
    return sa.select(s.id).where(
        s.section == "positions",
        s.dossier == sa.bindparam("dossier"),
        prepared.member(s.key, "keys", dialect),
    )


_POSITIONS = Prepared(_positions)
"""The ids of the positions of ``dossier`` with the keys (`key_text`) ``keys``."""
