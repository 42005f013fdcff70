"""What each dossier holds: its title, declared names, sources cited and event counts.

For listings (the HTTP API's `/api/dossiers`): every figure is read from a
small table, never from the dossier's events. The projector adds each page
it applies to the counts (`tally`, in the page's transaction), so they are
those of the events up to its checkpoint, as the state is. Declared names
come from the `declared_*` tables, where of two declarations of one code
the later (by valid start, then key) holds; the title from the standing
declaration that came last.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import attrs
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from events import DossierDeclared, Envelope
from timeline.readmodels.tables import DECLARED, dossier_publishers, dossier_types
from timeline.store import EventStore, rows
from timeline.store.schema import events as events_table


@attrs.frozen(kw_only=True)
class Declared:
    """A code a dossier declared and the name it gave it (and an item's category)."""

    code: str
    name: str
    category: str | None = None


@attrs.frozen(kw_only=True)
class Summary:
    """A dossier in a listing."""

    dossier: str
    title: str | None
    events: int
    first_recorded: dt.datetime
    last_recorded: dt.datetime


@attrs.frozen(kw_only=True)
class Dossier:
    """One dossier in full: its names, the publishers it cites, its events by type."""

    summary: Summary
    actors: tuple[Declared, ...]
    items: tuple[Declared, ...]
    issues: tuple[Declared, ...]
    sources: tuple[tuple[str, int], ...]
    """Publishers, with the number of sources citing each, most cited first."""
    types: tuple[tuple[str, int], ...]


def summaries(store: EventStore, dossier: str | None = None) -> list[Summary]:
    """Every dossier (or the one named), by name."""
    t = dossier_types
    query = sa.select(
        t.c.dossier,
        sa.func.sum(t.c.events),
        sa.func.min(t.c.first_recorded),
        sa.func.max(t.c.last_recorded),
    ).group_by(t.c.dossier)
    if dossier is not None:
        query = query.where(t.c.dossier == dossier)
    with store.engine.connect() as conn:
        found = conn.execute(query.order_by(t.c.dossier)).all()
        declarations = _last_declarations(conn, [name for name, *_ in found])
    titles = _titles(store, declarations)
    return [
        Summary(
            dossier=name,
            title=titles.get(name),
            events=int(count),
            first_recorded=rows.aware(first),
            last_recorded=rows.aware(last),
        )
        for name, count, first, last in found
    ]


def dossier(store: EventStore, name: str) -> Dossier | None:
    """One dossier in full, or None when the store has no event of it."""
    found = summaries(store, name)
    if not found:
        return None
    with store.engine.connect() as conn:
        names = {kind: _declared(conn, table, name) for kind, table in DECLARED.items()}
        t, p = dossier_types.c, dossier_publishers.c
        types = conn.execute(
            sa.select(t.type, t.events).where(t.dossier == name).order_by(t.events.desc(), t.type)
        ).all()
        sources = conn.execute(
            sa.select(p.publisher, p.sources)
            .where(p.dossier == name)
            .order_by(p.sources.desc(), p.publisher)
        ).all()
    return Dossier(
        summary=found[0],
        actors=names["actors"],
        items=names["items"],
        issues=names["issues"],
        sources=tuple((str(publisher), int(count)) for publisher, count in sources),
        types=tuple((kind, int(count)) for kind, count in types),
    )


def _standing(conn: Connection, table: sa.Table, dossier: str) -> list[Any]:
    """The rows of a declared table now believed, in the order later ones hold."""
    query = (
        sa.select(table)
        .where(table.c.dossier == dossier, table.c.recorded_to.is_(None))
        .order_by(table.c.declared, table.c.event)
    )
    return list(conn.execute(query))


def _declared(conn: Connection, table: sa.Table, dossier: str) -> tuple[Declared, ...]:
    holding: dict[str, Declared] = {}
    for row in _standing(conn, table, dossier):
        category = getattr(row, "category", None)
        holding[row.code] = Declared(code=row.code, name=row.name, category=category)
    return tuple(holding[code] for code in sorted(holding))


def _last_declarations(conn: Connection, dossiers: list[str]) -> list[int]:
    """The position of each dossier's last standing declaration."""
    last: list[int] = []
    for name in dossiers:
        rows = [row for table in DECLARED.values() for row in _standing(conn, table, name)]
        if rows:
            last.append(max(rows, key=lambda row: (row.declared, row.event)).event)
    return last


def _titles(store: EventStore, declarations: list[int]) -> dict[str, str]:
    """The title of each dossier's declaration at these positions."""
    found: dict[str, str] = {}
    for envelope in store.at(declarations).values():
        if isinstance(envelope.event, DossierDeclared):
            found[envelope.dossier] = envelope.event.title
    return found


def tally(conn: Connection, page: Sequence[Envelope]) -> None:
    """Add a page of events (in position order) to the counts, on its transaction.

    The projector reads its pages without their sources, so the publishers
    are counted here by the database, from the page's range of positions.
    """
    if not page:
        return
    kinds: dict[tuple[str, str], tuple[int, dt.datetime, dt.datetime]] = {}
    for e in page:
        assert e.recorded is not None  # stored events have one
        count, first, _ = kinds.get((e.dossier, e.type), (0, e.recorded, e.recorded))
        kinds[(e.dossier, e.type)] = (count + 1, first, e.recorded)  # never earlier
    types = [
        {
            "dossier": name,
            "type": kind,
            "events": count,
            "first_recorded": first,
            "last_recorded": last,
        }
        for (name, kind), (count, first, last) in kinds.items()
    ]
    _add(conn, dossier_types, types, "events", "last_recorded")
    after, through = (page[0].position or 1) - 1, page[-1].position or 0
    publishers = [
        {
            "dossier": name,
            "digest": hashlib.sha256(publisher.encode()).hexdigest(),
            "publisher": publisher,
            "sources": count,
        }
        for name, publisher, count in _publishers(conn, after, through)
    ]
    _add(conn, dossier_publishers, publishers, "sources")


def _add(
    conn: Connection, table: sa.Table, found: list[dict[str, Any]], count: str, *latest: str
) -> None:
    """Insert each row, or add its `count` to the stored row's and take its `latest`
    columns: one statement for them all."""
    if not found:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table)
    changes = {count: table.c[count] + insert.excluded[count]}
    changes |= {name: insert.excluded[name] for name in latest}
    keys = [column.name for column in table.primary_key]
    conn.execute(insert.on_conflict_do_update(index_elements=keys, set_=changes), found)


def _publishers(conn: Connection, after: int, through: int) -> list[tuple[str, str, int]]:
    """(dossier, publisher, sources naming it) of the events after `after` through `through`.

    The sources are read as text and counted here: SQLite took some 70 µs an event to
    unpack them with `json_each`."""
    e = events_table.c
    query = sa.select(e.dossier, sa.cast(e.sources, sa.Text)).where(
        e.position > after, e.position <= through
    )
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for dossier, sources in conn.execute(query):
        counts.update((dossier, source["publisher"]) for source in orjson.loads(sources))
    return [(dossier, publisher, count) for (dossier, publisher), count in sorted(counts.items())]
