"""What each dossier holds: its title, declared names, sources cited and event counts.

For listings (the HTTP API's `/api/dossiers`): every figure is one indexed
or aggregate query, never a read of the dossier's events. Declared names
come from the `declared_*` tables, where of two declarations of one code
the later (by valid start, then key) holds; the title from the standing
declaration that came last.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events import DossierDeclared
from timeline.readmodels.tables import DECLARED
from timeline.store import EventStore
from timeline.store.schema import events


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
    e = events
    query = sa.select(
        e.c.dossier,
        sa.func.count(),
        sa.func.min(e.c.recorded),
        sa.func.max(e.c.recorded),
    ).group_by(e.c.dossier)
    if dossier is not None:
        query = query.where(e.c.dossier == dossier)
    with store.engine.connect() as conn:
        found = conn.execute(query.order_by(e.c.dossier)).all()
        declarations = _last_declarations(conn, [name for name, *_ in found])
    titles = _titles(store, declarations)
    return [
        Summary(
            dossier=name,
            title=titles.get(name),
            events=count,
            first_recorded=first,
            last_recorded=last,
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
        types = conn.execute(
            sa.select(events.c.type, sa.func.count())
            .where(events.c.dossier == name)
            .group_by(events.c.type)
            .order_by(sa.func.count().desc(), events.c.type)
        ).all()
        sources = _publishers(conn, name)
    return Dossier(
        summary=found[0],
        actors=names["actors"],
        items=names["items"],
        issues=names["issues"],
        sources=sources,
        types=tuple((kind, count) for kind, count in types),
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


def _publishers(conn: Connection, dossier: str) -> tuple[tuple[str, int], ...]:
    """Each publisher the dossier's sources name, with how many sources do."""
    if conn.dialect.name == "postgresql":
        statement = (
            "SELECT s->>'publisher' AS publisher, count(*) AS n "
            "FROM events e, jsonb_array_elements(e.sources) AS s "
            "WHERE e.dossier = :dossier GROUP BY 1 ORDER BY 2 DESC, 1"
        )
    else:
        statement = (
            "SELECT json_extract(s.value, '$.publisher') AS publisher, count(*) AS n "
            "FROM events e, json_each(e.sources) AS s "
            "WHERE e.dossier = :dossier GROUP BY 1 ORDER BY 2 DESC, 1"
        )
    rows = conn.execute(sa.text(statement), {"dossier": dossier})
    return tuple((str(publisher), int(count)) for publisher, count in rows)
