"""The state as the JSON contract (`timeline.state/2`), written by the database.

A dossier's state at a million events holds some 80,000 items; building an
object for each, then a dict, then JSON, costs Python about 25 µs an item.
Every version row keeps its `document` (`projections.export.content_to_json`:
the item's JSON without the fields computed when read), so the database
gives each item as text, the last brace replaced by those fields:

* ``certain``: whether the version's ``certain_from`` has passed by the time
  asked for;
* a position's ``pressed_by``: the actors whose pressure on it (its actor,
  its issue) counts then, as a JSON array in code-point order, read by index;
* a pledge's ``category``: from the dossier's declarations as known then,
  given to the query as a JSON object.

Items come by one range of the index on (dossier, valid time), in key order,
a page at a time. Coalitions, read from the positions, and any question
that names an actor or an issue (a few items, by the index of names) are
rendered from objects (`projections.export`): the same text, by test.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from projections.export import STATE_SCHEMA, instant, item_to_json
from projections.items import DERIVED, role
from projections.record import UNCATEGORISED
from projections.state import SECTIONS, Filter
from timeline.readmodels import coalitions, prepared
from timeline.readmodels.prepared import Prepared
from timeline.readmodels.tables import VERSIONS

if TYPE_CHECKING:
    from timeline.readmodels.reader import Reader

PAGE = 5_000


def _joined(*parts: Any) -> sa.ColumnElement[str]:
    """Text concatenated in SQL (``||`` on both backends)."""
    found = sa.cast(parts[0], sa.Text) if isinstance(parts[0], str) else parts[0]
    for part in parts[1:]:
        found = found.op("||", return_type=sa.Text)(part)
    return found


def _text(value: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[str]:
    """A text value as a JSON string."""
    if dialect == "sqlite":
        return sa.func.json_quote(value, type_=sa.Text)
    return sa.cast(sa.func.to_json(value), sa.Text)


def _pressed_by(t: sa.Table, dialect: str, known_at: bool) -> sa.ColumnElement[str]:
    """The actors pressing a position as of ``as_of``, known at ``known_at``, as JSON."""
    p = VERSIONS["pressure"].table.alias("p")
    where = [
        p.c.dossier == t.c.dossier,
        p.c.target == t.c.actor,
        p.c.issue == t.c.issue,
        *prepared.in_force(p),
        *prepared.known(p, known_at),
    ]
    if dialect == "sqlite":
        actors = sa.select(p.c.actor).where(*where).order_by(p.c.actor).correlate(t).subquery()
        listed = sa.select(sa.func.json_group_array(actors.c.actor)).scalar_subquery()
    else:
        ordered = postgresql.aggregate_order_by(p.c.actor, p.c.actor.collate("C"))
        aggregated = sa.select(sa.cast(sa.func.json_agg(ordered), sa.Text)).where(*where)
        listed = aggregated.correlate(t).scalar_subquery()
    return sa.func.coalesce(listed, sa.literal("[]", sa.Text), type_=sa.Text)


def _derived(
    name: str, t: sa.Table, dialect: str, known_at: bool, category: sa.ColumnElement[Any] | None
) -> sa.ColumnElement[str]:
    """``,"name":value`` for one field computed when read."""
    if name == "certain":
        passed = t.c.certain_from <= sa.bindparam("as_of", type_=t.c.certain_from.type)
        return sa.case((passed, ',"certain":true'), else_=',"certain":false')
    if name == "pressed_by":
        return _joined(sa.literal(',"pressed_by":', sa.Text), _pressed_by(t, dialect, known_at))
    if name == "category":
        assert category is not None  # pledges join their categories
        declared = sa.func.coalesce(category, sa.literal(UNCATEGORISED, sa.Text), type_=sa.Text)
        return _joined(sa.literal(',"category":', sa.Text), _text(declared, dialect))
    raise ValueError(f"no SQL for the derived field {name!r}")


@functools.cache
def _section_query(section: str, known_at: bool) -> Prepared:
    """The items of a section of ``dossier`` in force as of ``as_of``, known at
    ``known_at``, each as its JSON text, in key order (``categories``: the dossier's, as
    a JSON object, for pledges)."""

    def build(dialect: str) -> sa.Select[Any]:
        versions = VERSIONS[section]
        t = versions.table
        source: sa.FromClause = t
        category = None
        if section == "pledges":
            given = sa.bindparam("categories", type_=sa.Text)
            each = (
                sa.func.json_each(given)
                if dialect == "sqlite"
                else sa.func.jsonb_each_text(sa.cast(given, postgresql.JSONB))
            ).table_valued("key", "value")
            # Read once into a table of its own, which SQLite indexes for the join:
            # joined as a function, it read the JSON again for every pledge.
            declared = (
                sa.select(each.c.key, each.c.value).cte("categories").prefix_with("MATERIALIZED")
            )
            source = t.outerjoin(declared, declared.c.key == t.c.item)
            category = declared.c.value
        parts: list[Any] = [
            sa.func.substr(t.c.document, 1, sa.func.length(t.c.document) - 1, type_=sa.Text)
        ]
        parts += [
            _derived(field.name, t, dialect, known_at, category)
            for field in attrs.fields(versions.cls)
            if role(field) == DERIVED
        ]
        text = _joined(*parts, sa.literal("}", sa.Text))
        order: list[sa.ColumnElement[Any]] = [t.c[name] for f in versions.keys for name in f.names]
        if dialect == "postgresql":
            order = [column.collate("C") for column in order]
        return (
            sa.select(text)
            .select_from(source)
            .where(
                t.c.dossier == sa.bindparam("dossier"),
                *prepared.in_force(t),
                *prepared.known(t, known_at),
            )
            .order_by(*order)
        )

    return Prepared(build)


def state(
    reader: Reader,
    conn: Connection,
    as_of: dt.datetime,
    known_at: dt.datetime | None,
    where: Filter,
) -> Iterator[str]:
    """The `timeline.state/2` document of the items `where` keeps, as pieces of text; an
    actor or an issue is asked of objects (`Reader.document`)."""
    assert where.actor is None, "an actor is asked of objects"
    assert where.issue is None, "an issue is asked of objects"
    head = {"schema": STATE_SCHEMA, "as_of": instant(as_of), "known_at": instant(known_at)}
    yield orjson.dumps(head).decode()[:-1]
    dossiers = [where.dossier] if where.dossier is not None else reader.store.dossiers(conn)
    categories = reader.categories(conn, known_at, where.dossier)
    for section in SECTIONS:
        yield f',"{section}":['
        if where.wants(section):
            yield from _section(conn, section, dossiers, as_of, known_at, categories, where)
        yield "]"
    yield "}"


def _section(
    conn: Connection,
    section: str,
    dossiers: list[str],
    as_of: dt.datetime,
    known_at: dt.datetime | None,
    categories: Mapping[str, Mapping[str, str]],
    where: Filter,
) -> Iterator[str]:
    """One section's items, comma-separated, dossier by dossier (dossiers in order, as
    the key begins with the dossier)."""
    first = True
    pages: Iterable[list[str]]
    for dossier in dossiers:
        if section == coalitions.SECTION:
            found = coalitions.at(conn, coalitions.registered(conn, dossier), as_of, known_at)
            pages = [[orjson.dumps(item_to_json(c)).decode() for c in found if where.keeps(c)]]
        else:
            query = _section_query(section, known_at is not None)
            declared = orjson.dumps(categories.get(dossier, {})).decode()
            pages = (
                [text for (text,) in page]
                for page in query.pages(
                    conn,
                    PAGE,
                    dossier=dossier,
                    as_of=as_of,
                    known_at=known_at,
                    categories=declared,
                )
            )
        for page in pages:
            if not page:
                continue
            yield ("" if first else ",") + ",".join(page)
            first = False
