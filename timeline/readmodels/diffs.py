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
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events import DossierDeclared
from projections import State
from projections.diff import Diff, compare, window
from projections.positions import Position
from projections.record import FIXES, reference
from projections.refs import Ref
from projections.state import Filter, Item, Key, finish
from timeline.readmodels.tables import (
    VERSIONS,
    VersionTable,
    declared_items,
    state_events,
    state_items,
)
from timeline.store import rows
from timeline.store.schema import events as events_table

if TYPE_CHECKING:
    from timeline.readmodels.reader import Reader


def _between(
    column: sa.ColumnElement[dt.datetime], low: dt.datetime, high: dt.datetime | None
) -> sa.ColumnElement[bool]:
    """``low <= column < high``, `high` None being "now", after everything."""
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
        self.ids: dict[tuple[str, Key], int] = {}
        self._link_cache: dict[
            tuple[dt.datetime | None, dt.datetime | None],
            dict[int, list[tuple[int, str, dt.datetime]]],
        ] = {}

    def run(self) -> Diff:
        sides: list[tuple[dt.datetime, dt.datetime | None, list[Item]]] = [
            (self.from_, self.before_known, []),
            (self.to, self.after_known, []),
        ]
        for name, versions in VERSIONS.items():
            if not self.where.wants(name):
                continue
            candidates = sorted(self._candidates(versions))
            for chunk in rows.chunks(candidates):
                for as_of, known, found in sides:
                    ids = self.reader.in_force(versions, chunk, as_of, known)
                    found += self._items(versions, ids, as_of, known)
                s = state_items.c
                query = sa.select(s.id, s.dossier, s.key).where(s.id.in_(chunk))
                for item_id, dossier, key in self.conn.execute(query):
                    self.ids[(name, (dossier, *json.loads(key)))] = item_id
        (_, _, before_items), (_, _, after_items) = sides
        before = State.of(as_of=self.from_, known_at=self.before_known, items=before_items)
        after = State.of(as_of=self.to, known_at=self.after_known, items=after_items)
        return compare(before, after, self._causes)

    def _items(
        self,
        versions: VersionTable,
        ids: sa.Select[tuple[int]],
        as_of: dt.datetime,
        known: dt.datetime | None,
    ) -> list[Item]:
        found = self.reader.with_causes(self.conn, versions, ids, known)
        kept = [item for _, (_, _, item) in found if self.where.keeps(item)]
        categories = self.categories[known]
        context = self.reader.context(self.conn, as_of, known, kept, categories)
        return [finish(item, context) for item in kept]

    # -- what may differ --------------------------------------------------------------

    def _candidates(self, versions: VersionTable) -> set[int]:
        """The ids of the items of a section that may differ between the two sides."""
        from timeline.readmodels.reader import conditions, counts

        t, c = versions.table, versions.table.c
        where = conditions(versions, self.where)
        queries = [
            sa.select(c.item_id).where(
                c.valid_from >= self.start,
                c.valid_from < self.end,
                *counts(t, None, self.after_known),
                *where,
            )
        ]
        if versions.certain:
            for as_of, known in ((self.from_, self.before_known), (self.to, self.after_known)):
                queries.append(
                    sa.select(c.item_id).where(
                        c.certain_from > self.start,
                        c.certain_from <= self.end,
                        *counts(t, as_of, known),
                        *where,
                    )
                )
        if self.recorded is not None:
            low, high = self.recorded
            for column in (c.recorded_from, c.recorded_to):
                queries.append(sa.select(c.item_id).where(_between(column, low, high), *where))
        found = {item for query in queries for item in self.conn.scalars(query)}
        if versions.section == "positions":
            found |= self._pressed()
        if self.recorded is not None and versions.section in ("pledges", "totals"):
            found |= self._recategorised(versions)
        return found

    def _pressed(self) -> set[int]:
        """Positions whose `pressed_by` may differ: pressure on them began between the two
        dates, or was recorded or superseded between the two transaction times."""
        c = VERSIONS["pressure"].table.c
        began = sa.and_(c.valid_from >= self.start, c.valid_from < self.end)
        if self.recorded is not None:
            low, high = self.recorded
            began = sa.or_(
                began, _between(c.recorded_from, low, high), _between(c.recorded_to, low, high)
            )
        query = sa.select(c.dossier, c.target, c.issue).distinct().where(began)
        found: set[int] = set()
        for dossier, target, issue in self.conn.execute(query):
            found.update(self.reader.item_ids(self.conn, "positions", (target, issue), dossier))
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
        items = [self.ids[(section, key)]]
        if (
            isinstance(before, Position)
            and isinstance(after, Position)
            and before.pressed_by != after.pressed_by
        ):
            items += self._pressure_on(before)
        dossier = key[0]
        found = {Ref(dossier, k) for _, k, _ in self._links(items, self.after_known, self.start)}
        if self.recorded is None:
            return found
        low, high = self.recorded
        for known in (self.before_known, self.after_known):
            for position, k, recorded in self._links(items, known, None):
                if recorded >= low and (high is None or recorded < high):
                    found.add(Ref(dossier, k))
                found |= self.fixes.get(position, set())
        if section in ("pledges", "totals"):
            found |= {ref for ref in self.declarations if ref.dossier == dossier}
        return found

    def _pressure_on(self, position: Position) -> list[int]:
        p = VERSIONS["pressure"].table.c
        query = (
            sa.select(p.item_id)
            .distinct()
            .where(
                p.dossier == position.dossier, p.target == position.actor, p.issue == position.issue
            )
        )
        return list(self.conn.scalars(query))

    def _links(
        self, item_ids: Iterable[int], known: dt.datetime | None, start: dt.datetime | None
    ) -> list[tuple[int, str, dt.datetime]]:
        """(position, key, recorded) of the events linked to these items as known at
        `known`, from versions starting before the later date (and from `start`).

        Read for every candidate at once the first time: a diff asks for each change."""
        cache = self._link_cache.setdefault((known, start), {})
        if not cache:
            self._read_links(cache, self.ids.values(), known, start)
        missing = [i for i in item_ids if i not in cache]
        if missing:
            self._read_links(cache, missing, known, start)
        return [link for i in item_ids for link in cache[i]]

    def _read_links(
        self,
        cache: dict[int, list[tuple[int, str, dt.datetime]]],
        item_ids: Iterable[int],
        known: dt.datetime | None,
        start: dt.datetime | None,
    ) -> None:
        from timeline.readmodels.reader import counts

        links, e = state_events, events_table
        for chunk in rows.chunks(sorted(set(item_ids))):
            cache.update((i, []) for i in chunk)
            where = [
                links.c.item_id.in_(chunk),
                links.c.valid_from < self.end,
                *counts(links, None, known),
            ]
            if start is not None:
                where.append(links.c.valid_from >= start)
            query = (
                sa.select(links.c.item_id, e.c.position, e.c.key, e.c.recorded)
                .select_from(links.join(e, e.c.position == links.c.event))
                .where(*where)
            )
            for item, position, key, recorded in self.conn.execute(query):
                cache[item].append((int(position), str(key), recorded))

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
            for known in (self.before_known, self.after_known)
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
