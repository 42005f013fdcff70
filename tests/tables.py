"""What the version tables hold that any question could see, to compare two projections.

Two projections of the same events may write different rows and mean the
same: where a page splits a group of events recorded together, one may
close a version and insert it again unchanged, or write one that no
transaction time ever sees. So rows are compared as what they say: ids
left out (they follow the order of writing), unseen rows dropped, and
rows that say the same thing over adjoining transaction times merged.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeline.readmodels.tables import DECLARED, VERSIONS, state_events, state_items

_TIMES = ("recorded_from", "recorded_to")


def _seen(table: sa.Table) -> sa.ColumnElement[bool]:
    c = table.c
    return sa.or_(c.recorded_to.is_(None), c.recorded_to > c.recorded_from)


def _merged(rows: list[tuple[Any, ...]]) -> list[tuple[str, str, str]]:
    """Rows whose last two values are (recorded_from, recorded_to), those saying the same
    over adjoining transaction times merged into one; sorted, as text."""
    spans: dict[str, list[list[Any]]] = {}
    for row in sorted(rows, key=lambda r: (repr(r[:-2]), r[-2])):
        found = spans.setdefault(repr(row[:-2]), [])
        if found and found[-1][1] == row[-2]:
            found[-1][1] = row[-1]
        else:
            found.append([row[-2], row[-1]])
    return sorted(
        (what, repr(start), repr(end)) for what, times in spans.items() for start, end in times
    )


def visible_rows(engine: Engine) -> dict[str, list[tuple[str, str, str]]]:
    """Every row of the read models some transaction time sees, by table, sorted."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    with engine.connect() as conn:
        items = {
            i: (section, dossier, key)
            for i, section, dossier, key in conn.execute(
                sa.select(
                    state_items.c.id,
                    state_items.c.section,
                    state_items.c.dossier,
                    state_items.c.key,
                )
            )
        }
        for versions in VERSIONS.values():
            t = versions.table
            columns = [c for c in t.c if c.name not in ("id", "item_id", *_TIMES)]
            times = [t.c[name] for name in _TIMES]
            rows = conn.execute(sa.select(*columns, *times).where(_seen(t)))
            found[t.name] = _merged([tuple(r) for r in rows])
        links = conn.execute(
            sa.select(
                state_events.c.item_id,
                state_events.c.valid_from,
                state_events.c.event,
                state_events.c.effect,
                state_events.c.recorded_from,
                state_events.c.recorded_to,
            ).where(_seen(state_events))
        )
        found[state_events.name] = _merged([(items[r[0]], *r[1:]) for r in links])
        for table in DECLARED.values():
            columns = [c for c in table.c if c.name not in ("id", *_TIMES)]
            times = [table.c[name] for name in _TIMES]
            rows = conn.execute(sa.select(*columns, *times).where(_seen(table)))
            found[table.name] = _merged([tuple(r) for r in rows])
    return found
