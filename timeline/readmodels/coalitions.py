"""Coalitions, read from the positions on their issue: they have no versions of their own.

A coalition is who is committed on an issue, in the order they joined
(`projections.coalitions`): what the positions on the issue say at the
time asked for. Keeping it as versions meant a version with every member
at each join or leave, and a late fact rewriting every version after it:
the largest table of the read models, and a third of a catch-up. So it is
derived when read, from two partial indexes on `position_versions`:

* the committed versions in force as of T, as known at K, are the members,
  ordered by the event that committed each (valid start, end, key), which
  is the order the fold appends them in;
* each position version says whether it ``moved`` its actor into or out of
  the coalition; the latest move before T is when the coalition's current
  version began, and the events that set those positions' stances are its
  causes. A coalition exists from its first move.

Every coalition that ever was is named in `state_items` (the projector
registers it when a position on its issue is committed), so a question
about one dossier asks about its coalitions by index.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from events import Stance
from projections.coalitions import Coalition
from projections.fold import Version
from projections.refs import Ref, by_name
from timeline.readmodels import prepared
from timeline.readmodels.prepared import Prepared
from timeline.readmodels.tables import VERSIONS, state_items
from timeline.store import rows
from timeline.store.schema import events as events_table

SECTION = "coalitions"
_COMMITTED: sa.ColumnElement[str] = sa.literal_column(f"'{Stance.COMMITTED.value}'")
"""Written into the statement, so that SQLite sees the partial index's condition."""


def _positions() -> sa.Table:
    return VERSIONS["positions"].table


def _dossier_issue(t: sa.FromClause, dialect: str) -> list[sa.ColumnElement[bool]]:
    return [t.c.dossier == sa.bindparam("dossier"), prepared.member(t.c.issue, "issues", dialect)]


def _asked(dialect: str) -> sa.FromClause:
    """The coalitions asked about, as a table (dossier, issue) from two lists of the same
    length given as parameters ``dossiers`` and ``issues``."""
    if dialect == "sqlite":
        d = sa.func.json_each(sa.bindparam("dossiers")).table_valued("key", "value").alias("d")
        i = sa.func.json_each(sa.bindparam("issues")).table_valued("key", "value").alias("i")
        pairs = sa.select(d.c.value.label("dossier"), i.c.value.label("issue"))
        # A table of its own, which the statement then joins from: left to plan the
        # two lists with the version table, SQLite read a dossier's every version.
        return (
            pairs.select_from(d.join(i, i.c.key == d.c.key))
            .cte("asked")
            .prefix_with("MATERIALIZED")
        )
    text = postgresql.ARRAY(_positions().c.dossier.type)
    both = sa.func.unnest(sa.bindparam("dossiers", type_=text), sa.bindparam("issues", type_=text))
    return both.table_valued("dossier", "issue").render_derived("asked")


@functools.cache
def _members_query(known_at: bool) -> Prepared:
    """(dossier, issue, actor, since_start, since_end, since_event) of the committed
    positions on the coalitions asked about (`_asked`) in force as of ``as_of``, known at
    ``known_at``: a range of the covering index of committed versions for each."""

    def build(dialect: str) -> sa.Select[Any]:
        t, asked = _positions(), _asked(dialect)
        where = [
            t.c.dossier == asked.c.dossier,
            t.c.issue == asked.c.issue,
            t.c.stance == _COMMITTED,
            *prepared.in_force(t),
            *prepared.known(t, known_at),
        ]
        columns = (t.c.dossier, t.c.issue, t.c.actor, t.c.since_start, t.c.since_end)
        return sa.select(*columns, t.c.since_event).select_from(asked.join(t, sa.and_(*where)))

    return Prepared(build)


@functools.cache
def _latest_moves_query(known_at: bool) -> Prepared:
    """(dossier, issue, valid_from, since_event) of the versions that made the latest move
    on each coalition asked about (`_asked`) before ``as_of``, known at ``known_at``: one
    seek backwards per coalition in the index of moves."""

    def build(dialect: str) -> sa.Select[Any]:
        t, asked = _positions(), _asked(dialect)
        q = t.alias("q")
        latest = (
            sa.select(q.c.valid_from)
            .where(
                q.c.dossier == asked.c.dossier,
                q.c.issue == asked.c.issue,
                q.c.moved == sa.true(),
                q.c.valid_from < sa.bindparam("as_of", type_=q.c.valid_from.type),
                *prepared.known(q, known_at),
            )
            .order_by(q.c.valid_from.desc())
            .limit(1)
            .scalar_subquery()
        )
        # Each coalition's latest move first, into a table of its own: joined as it
        # stands, SQLite read every move of the dossier and asked for each.
        starts = (
            sa.select(asked.c.dossier, asked.c.issue, latest.label("start"))
            .cte("starts")
            .prefix_with("MATERIALIZED")
        )
        joined = starts.join(
            t,
            sa.and_(
                t.c.dossier == starts.c.dossier,
                t.c.issue == starts.c.issue,
                t.c.moved == sa.true(),
                t.c.valid_from == starts.c.start,
                *prepared.known(t, known_at),
            ),
        )
        return sa.select(t.c.dossier, t.c.issue, t.c.valid_from, t.c.since_event).select_from(
            joined
        )

    return Prepared(build)


@functools.cache
def _registered_query(dossier: bool) -> Prepared:
    """(dossier, key) of the coalitions the registry names (of ``dossier``)."""

    def build(dialect: str) -> sa.Select[Any]:
        s = state_items
        query = sa.select(s.c.dossier, s.c.key).where(s.c.section == SECTION)
        return query.where(s.c.dossier == sa.bindparam("dossier")) if dossier else query

    return Prepared(build)


def registered(conn: Connection, dossier: str | None) -> list[tuple[str, str]]:
    """(dossier, issue) of every coalition that ever was (of one dossier, or all), in
    key order."""
    found = _registered_query(dossier is not None).rows(conn, dossier=dossier)
    return sorted((name, json.loads(key)[0]) for name, key in found)


def _order(since_start: Any, since_end: Any, key: str) -> tuple[Any, Any, str]:
    """Where the event that committed a member falls in fold order (the driver's times
    sort as the times do)."""
    return (since_start, since_end, key)


def at(
    conn: Connection,
    asked: Sequence[tuple[str, str]],
    as_of: dt.datetime,
    known_at: dt.datetime | None,
) -> list[Coalition]:
    """The coalitions asked about, (dossier, issue), as of `as_of`, as known at
    `known_at` (those that exist then), in key order: two statements however many."""
    if not asked:
        return []
    values = {
        "dossiers": [dossier for dossier, _ in asked],
        "issues": [issue for _, issue in asked],
        "as_of": as_of,
        "known_at": known_at,
    }
    causes: dict[tuple[str, str], list[Ref]] = {}
    for dossier, issue, _, key in _latest_moves_query(known_at is not None).rows(conn, **values):
        causes.setdefault((dossier, issue), []).append(Ref(dossier, key))
    if not causes:
        return []
    members: dict[tuple[str, str], list[tuple[tuple[Any, Any, str], str]]] = {}
    for dossier, issue, actor, start, end, key in _members_query(known_at is not None).rows(
        conn, **values
    ):
        members.setdefault((dossier, issue), []).append((_order(start, end, key), actor))
    return [
        _coalition(dossier, issue, members.get((dossier, issue), []), refs)
        for (dossier, issue), refs in sorted(causes.items())
    ]


def _coalition(
    dossier: str,
    issue: str,
    members: Iterable[tuple[tuple[Any, Any, str], str]],
    causes: Iterable[Ref],
) -> Coalition:
    ordered = sorted(members)
    return Coalition(
        dossier=dossier,
        issue=issue,
        committed=tuple(actor for _, actor in ordered),
        joined_by=tuple(Ref(dossier, order[2]) for order, _ in ordered),
        events=tuple(sorted(set(causes), key=by_name)),
    )


# -- history ---------------------------------------------------------------------------


@functools.cache
def _chain_query(known_at: bool) -> Prepared:
    """(valid_from, valid_to, actor, since_start, since_end, since_event, committed, moved)
    of the committed or moving versions of the positions of ``dossier`` on ``issues``
    known at ``known_at``: each branch reads one of the two partial indexes."""

    def build(dialect: str) -> sa.CompoundSelect[Any]:
        t = _positions()
        columns = (
            t.c.valid_from,
            t.c.valid_to,
            t.c.actor,
            t.c.since_start,
            t.c.since_end,
            t.c.since_event,
        )
        where = [*_dossier_issue(t, dialect), *prepared.known(t, known_at)]
        committed = sa.select(*columns, sa.true().label("committed"), t.c.moved).where(
            *where, t.c.stance == _COMMITTED
        )
        leaving = sa.select(*columns, sa.false().label("committed"), t.c.moved).where(
            *where, t.c.moved == sa.true(), t.c.stance != _COMMITTED
        )
        return sa.union_all(committed, leaving)

    return Prepared(build)


def history(
    conn: Connection, dossier: str, issue: str, known_at: dt.datetime | None
) -> tuple[Version, ...]:
    """Every version of one coalition as known at `known_at`, oldest first: one from each
    move, holding the members in force just after it."""
    time = rows.time_reader(conn.dialect.name)
    values = {"dossier": dossier, "issues": [issue], "known_at": known_at}
    stints: list[tuple[dt.datetime, dt.datetime | None, str, tuple[Any, Any, str]]] = []
    moves: dict[dt.datetime, list[Ref]] = {}
    for start, end, actor, since_start, since_end, key, committed, moved in _chain_query(
        known_at is not None
    ).rows(conn, **values):
        valid_from = time(start)
        if committed:
            valid_to = None if end is None else time(end)
            stints.append((valid_from, valid_to, actor, _order(since_start, since_end, key)))
        if moved:
            moves.setdefault(valid_from, []).append(Ref(dossier, key))
    stints.sort(key=lambda stint: stint[0], reverse=True)
    active: dict[str, tuple[tuple[Any, Any, str], dt.datetime | None]] = {}
    ending: list[tuple[dt.datetime, str]] = []
    starts = sorted(moves)
    found = []
    for index, start in enumerate(starts):
        # In force as of just after `start`: begun by then, not ended by then.
        while stints and stints[-1][0] <= start:
            _, valid_to, actor, order = stints.pop()
            active[actor] = (order, valid_to)
            if valid_to is not None:
                heapq.heappush(ending, (valid_to, actor))
        while ending and ending[0][0] <= start:
            valid_to, actor = heapq.heappop(ending)
            if actor in active and active[actor][1] == valid_to:
                del active[actor]
        members = [(order, actor) for actor, (order, _) in active.items()]
        following = starts[index + 1] if index + 1 < len(starts) else None
        item = _coalition(dossier, issue, members, moves[start])
        found.append(Version(valid_from=start, valid_to=following, item=item))
    return tuple(found)


# -- diffs -------------------------------------------------------------------------------


@functools.cache
def _moved_between_query(recorded: bool, recorded_high: bool, known_at: bool) -> Prepared:
    """(dossier, issue) of the moves on the ``dossiers`` starting between ``start`` and
    ``end`` known at ``known_at``, and (with `recorded`) of their position versions recorded
    or superseded between ``low`` and ``high``: the coalitions a diff may find changed."""

    def build(dialect: str) -> sa.Select[Any]:
        t = _positions()
        c = t.c
        window = sa.and_(
            prepared.member(c.dossier, "dossiers", dialect),
            c.moved == sa.true(),
            c.valid_from >= sa.bindparam("start", type_=c.valid_from.type),
            c.valid_from < sa.bindparam("end", type_=c.valid_from.type),
            *prepared.known(t, known_at),
        )
        if not recorded:
            return sa.select(c.dossier, c.issue).distinct().where(window)
        low = sa.bindparam("low", type_=c.recorded_from.type)
        high = sa.bindparam("high", type_=c.recorded_from.type)
        between = [
            sa.and_(column >= low, column < high) if recorded_high else column >= low
            for column in (c.recorded_from, c.recorded_to)
        ]
        return sa.select(c.dossier, c.issue).distinct().where(sa.or_(window, *between))

    return Prepared(build)


def moved_between(
    conn: Connection,
    dossiers: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    known_at: dt.datetime | None,
    recorded: tuple[dt.datetime, dt.datetime | None] | None,
) -> set[tuple[str, str]]:
    """(dossier, issue) of the coalitions that may differ between two sides of a diff."""
    low, high = recorded or (None, None)
    query = _moved_between_query(recorded is not None, high is not None, known_at is not None)
    return {
        (dossier, issue)
        for dossier, issue in query.rows(
            conn, dossiers=dossiers, start=start, end=end, known_at=known_at, low=low, high=high
        )
    }


@functools.cache
def _links_query(known_at: bool, start: bool) -> Prepared:
    """(issue, position, key, recorded) of the events behind the moves on the issues
    ``issues`` of ``dossier`` known at ``known_at``, starting before ``end`` (and from
    ``start``): a coalition's links, as `timeline.readmodels.diffs` reads an item's."""

    def build(dialect: str) -> sa.Select[Any]:
        t, e = _positions(), events_table
        where = [
            *_dossier_issue(t, dialect),
            t.c.moved == sa.true(),
            t.c.valid_from < sa.bindparam("end", type_=t.c.valid_from.type),
            *prepared.known(t, known_at),
        ]
        if start:
            where.append(t.c.valid_from >= sa.bindparam("start", type_=t.c.valid_from.type))
        joined = t.join(e, sa.and_(e.c.dossier == t.c.dossier, e.c.key == t.c.since_event))
        return (
            sa.select(t.c.issue, e.c.position, e.c.key, e.c.recorded)
            .select_from(joined)
            .where(*where)
        )

    return Prepared(build)


def links(
    conn: Connection,
    dossier: str,
    issues: Sequence[str],
    known_at: dt.datetime | None,
    start: dt.datetime | None,
    end: dt.datetime,
) -> dict[str, list[tuple[int, str, dt.datetime]]]:
    """(position, key, recorded) of the events behind the coalitions' versions on each of
    `issues`, known at `known_at`, starting before `end` (and from `start`)."""
    time = rows.time_reader(conn.dialect.name)
    found: dict[str, list[tuple[int, str, dt.datetime]]] = {issue: [] for issue in issues}
    query = _links_query(known_at is not None, start is not None)
    for issue, position, key, recorded in query.rows(
        conn, dossier=dossier, issues=list(issues), known_at=known_at, start=start, end=end
    ):
        found[issue].append((int(position), str(key), time(recorded)))
    return found
