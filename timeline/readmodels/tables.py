"""The read models' tables: every state item as versions, bitemporally.

One table per section (`position_versions`, ...), generated from the item
classes (`timeline.readmodels.columns`). A row is one version of one item:
its key and content columns, and two intervals, the way bitemporal
databases keep facts (SQL:2011 system-versioned tables, XTDB):

* valid time, ``valid_from`` and ``valid_to``: the version counts as of a
  cutoff T when ``valid_from < T <= valid_to`` (``valid_to`` NULL: still so);
* transaction time, ``recorded_from`` and ``recorded_to``: the store believed
  it as known at K when ``recorded_from < K <= recorded_to`` (NULL: still
  believed).

Rows are only ever inserted, and closed by setting ``recorded_to``; nothing
is deleted, so "as known at K" is answered from the same rows as "as known
now". ``certain_from`` is when the interval the version rests on ends.

Coalitions have no table: who is committed on an issue is what the
positions on it say, so a coalition is read from them
(`timeline.readmodels.coalitions`), and each position version says whether
it ``moved`` its actor into or out of the coalition.

`state_items` gives every item an integer id; `state_events` links each
version (item and ``valid_from``) to the events that made it, with their
own transaction time; `declared_*` hold the names dossiers declare. Views
named after the sections give the current state. These tables are a
contract: see the README's SQL section.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import orjson
import sqlalchemy as sa

from projections import SECTIONS
from projections.export import content_to_json
from projections.state import ACTOR_FIELDS
from timeline.readmodels.columns import Decode, Field, item_fields
from timeline.store import rows
from timeline.store.schema import NAME_LENGTH, UTCDateTime, metadata

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Row ids: SQLite makes an INTEGER PRIMARY KEY the rowid, with no index of its own."""

TABLE_NAMES = {
    "positions": "position_versions",
    "pledges": "pledge_versions",
    "totals": "total_versions",
    "requests": "request_versions",
    "precedents": "precedent_versions",
    "pressure": "pressure_versions",
    "formed": "formed_coalition_versions",
}
"""The sections kept as versions, each in a table of its own; coalitions are derived."""
TIMES = ("valid_from", "valid_to", "recorded_from", "recorded_to")
COMMITTED = ("actor", "since_start", "since_end", "since_event", "stance")
"""What a coalition reads of each committed position, kept in the index it reads."""


@attrs.frozen
class VersionTable:
    """One section's version table, and how items and rows convert."""

    section: str
    cls: type[Any]
    table: sa.Table
    keys: tuple[Field, ...]
    content: tuple[Field, ...]
    certain: bool
    computed: tuple[str, ...] = ()
    """Columns after the content, as `computed_values` gives them: what a version is
    as JSON (``document``), and for positions how it differs from the version before it
    in its item's chain (``moved``)."""

    @property
    def fields(self) -> tuple[Field, ...]:
        return (*self.keys, *self.content)

    def values(self, item: Any) -> list[Any]:
        """The key and content column values of `item`, in column order."""
        found: list[Any] = []
        for f in self.fields:
            found.extend(f.encode(getattr(item, f.name)))
        return found

    def computed_values(self, before: Any, item: Any) -> tuple[Any, ...]:
        """The `computed` columns of `item`, the version after `before` (None: the first)."""
        document = orjson.dumps(content_to_json(item)).decode()
        if self.section != "positions":
            return (document,)
        was = None if before is None else before.membership()
        return (was != item.membership(), document)

    def item(self, values: Sequence[Any], **extra: Any) -> Any:
        """The item from its column values (causes included), with `extra` fields
        (derived ones; those not given at their defaults)."""
        dossier = values[0]
        for name, decode, start, stop in self._plan:
            extra[name] = decode(values[start:stop], dossier)
        return self.cls(**extra)

    @functools.cached_property
    def _plan(self) -> list[tuple[str, Decode, int, int]]:
        plan, at = [], 0
        for f in self.fields:
            plan.append((f.name, f.decode, at, at + f.width))
            at += f.width
        return plan

    def raw(self, dialect: str) -> Callable[[Sequence[Any]], list[Any]]:
        """How the driver's values of the key and content columns become those `item`
        takes (`timeline.store.rows` reads the events table the same way)."""
        converters = [
            (index, convert)
            for index, (_, kind, _) in enumerate(s for f in self.fields for s in f.specs)
            if (convert := raw_converter(kind, dialect)) is not None
        ]

        def convert_all(values: Sequence[Any]) -> list[Any]:
            found = list(values)
            for index, convert in converters:
                if found[index] is not None:
                    found[index] = convert(found[index])
            return found

        return convert_all

    def columns(self) -> list[sa.Column[Any]]:
        """The key and content columns, in the order `values` and `item` use."""
        return [self.table.c[name] for f in self.fields for name in f.names]

    def stored(self) -> list[sa.Column[Any]]:
        """The key, content and computed columns: what a version row holds of its item."""
        return [*self.columns(), *(self.table.c[name] for name in self.computed)]


def raw_converter(kind: sa.types.TypeEngine[Any], dialect: str) -> Callable[[Any], Any] | None:
    """How a raw driver value of a column of type `kind` becomes a Python value; None: as
    it comes."""
    if isinstance(kind, UTCDateTime):
        return rows.time_reader(dialect)
    if isinstance(kind, sa.JSON) and dialect == "sqlite":
        return orjson.loads
    if isinstance(kind, sa.Boolean) and dialect == "sqlite":
        return bool
    return None


def _partial(name: str, where: sa.TextClause, *columns: str) -> sa.Index:
    """An index of the rows `where` selects, on both backends."""
    return sa.Index(name, *columns, sqlite_where=where, postgresql_where=where)


def _version_table(section: str, cls: type[Any]) -> VersionTable:
    keys, content = item_fields(cls)
    certain = "certain" in attrs.fields_dict(cls)
    extra: list[Any] = [
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
    ]
    columns = [column for f in (*keys, *content) for column in f.columns()]
    computed: tuple[str, ...] = ("document",)
    if section == "positions":
        # Whether this version moves its actor into or out of the issue's
        # coalition: what a coalition's causes are read from.
        computed = ("moved", "document")
        columns.append(sa.Column("moved", sa.Boolean(), nullable=False))
    # The version as the JSON contract gives it, without the fields computed
    # when read: a state is this text with them appended (`documents`).
    columns.append(sa.Column("document", sa.Text(), nullable=False))
    times: list[Any] = [
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_to", UTCDateTime(), nullable=True),
        sa.Column("recorded_from", UTCDateTime(), nullable=False),
        sa.Column("recorded_to", UTCDateTime(), nullable=True),
    ]
    if certain:
        times.append(sa.Column("certain_from", UTCDateTime(), nullable=True))
    name = TABLE_NAMES[section]
    indexes: list[Any] = [
        sa.Index(None, "item_id", "valid_from"),
        # A dossier's versions by valid time, with both intervals: the state of a
        # dossier (or of all, one after another) as of any time known at any time
        # is one range of it, filtered in the index; a diff's window, another.
        sa.Index(f"ix_{name}_dossier_time", "dossier", *TIMES),
        sa.Index(None, "recorded_from"),
    ]
    if certain:
        indexes.append(sa.Index(None, "certain_from"))
    if section == "pressure":
        # A position's `pressed_by`: the pressure on its actor and issue.
        # Covering: the database writes a position's pressed_by from it alone.
        indexes.append(
            sa.Index(f"ix_{name}_pressing", "dossier", "target", "issue", *TIMES, "actor")
        )
    if section == "positions":
        # Coalitions are read from the committed positions on an issue and from
        # the versions that moved them; the projector finds the positions
        # waiting for a donor.
        waiting = sa.text("condition_actor IS NOT NULL AND recorded_to IS NULL")
        indexes += [
            # Covering: the members of a coalition are read from the index alone.
            _partial(
                f"ix_{name}_committed",
                sa.text("stance = 'committed'"),
                "dossier",
                "issue",
                *TIMES,
                *COMMITTED,
            ),
            sa.Index(
                f"ix_{name}_moved",
                "dossier",
                "issue",
                "valid_from",
                "recorded_from",
                "recorded_to",
                sqlite_where=sa.text("moved = 1"),
                postgresql_where=sa.text("moved"),
            ),
            _partial(f"ix_{name}_waiting", waiting, "dossier", "condition_actor"),
        ]
    table = sa.Table(name, metadata, *extra, *columns, *times, *indexes)
    return VersionTable(section, cls, table, tuple(keys), tuple(content), certain, computed)


VERSIONS: dict[str, VersionTable] = {
    section: _version_table(section, cls)
    for section, cls in SECTIONS.items()
    if section in TABLE_NAMES
}

state_items = sa.Table(
    "state_items",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=False),
    sa.Column("section", sa.String(32), nullable=False),
    sa.Column("dossier", sa.String(NAME_LENGTH), nullable=False),
    # The other parts of the item's key, as a JSON array: ["DEU", "mbt-for-ukraine"].
    sa.Column("key", sa.Text(), nullable=False),
    sa.UniqueConstraint("section", "dossier", "key"),
)


def key_text(key: Sequence[str]) -> str:
    """An item's key after its dossier, as the JSON array `state_items.key` holds."""
    return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))


item_names = sa.Table(
    "item_names",
    metadata,
    # Every actor and every issue that any version of an item has named (in the
    # fields of `projections.state.ACTOR_FIELDS`, and `issue`): a superset, so an
    # actor or issue filter picks its items by this index and then checks the
    # version in force. Rows are only ever added. The key, in this order, is
    # the index: one seek per filter, the items coming in id order by dossier.
    sa.Column("kind", sa.String(8), primary_key=True),  # "actor" or "issue"
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("section", sa.String(32), primary_key=True),
    sa.Column("dossier", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("item_id", sa.BigInteger(), primary_key=True, autoincrement=False),
)


def names_of(section: str, item: Any) -> Iterator[tuple[str, str]]:
    """The actors and the issue an item names, as rows of `item_names` take them."""
    for field in ACTOR_FIELDS[section]:
        value = getattr(item, field)
        for actor in value if isinstance(value, tuple) else (value,):
            if actor is not None:
                yield "actor", actor
    issue = getattr(item, "issue", None)
    if issue is not None:
        yield "issue", issue


state_events = sa.Table(
    "state_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=False),
    sa.Column("item_id", sa.BigInteger(), nullable=False),
    sa.Column("valid_from", UTCDateTime(), nullable=False),
    # The event's position in `events`.
    sa.Column("event", sa.BigInteger(), nullable=False),
    # False: the event folds into the item; true: it changed the item through
    # another (a pledge meeting a condition, a position moving a coalition).
    sa.Column("effect", sa.Boolean(), nullable=False),
    sa.Column("recorded_from", UTCDateTime(), nullable=False),
    sa.Column("recorded_to", UTCDateTime(), nullable=True),
    sa.Index(None, "item_id", "valid_from"),
    sa.Index(None, "event"),
)


def _declared(name: str, *extra: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("dossier", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("code", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        *extra,
        # The position of the `dossier.declared` event that declared it, and
        # its valid start: of two declarations of a code, the later one (by
        # that start, then the event's key) holds.
        sa.Column("event", sa.BigInteger(), nullable=False),
        sa.Column("declared", UTCDateTime(), nullable=False),
        sa.Column("recorded_from", UTCDateTime(), nullable=False),
        sa.Column("recorded_to", UTCDateTime(), nullable=True),
        sa.Index(None, "dossier", "code"),
    )


declared_actors = _declared("declared_actors")
declared_items = _declared("declared_items", sa.Column("category", sa.Text(), nullable=False))
declared_issues = _declared("declared_issues")
DECLARED = {"actors": declared_actors, "items": declared_items, "issues": declared_issues}

checkpoints = sa.Table(
    "projector_checkpoints",
    metadata,
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
)

pending_references = sa.Table(
    "pending_references",
    metadata,
    # An event whose reference (a decision's request, a fix's target) named
    # nothing when it was projected: the projector looks again as events come.
    sa.Column("event", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("dossier", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("reference", sa.Text(), nullable=False),
)

dossier_types = sa.Table(
    "dossier_types",
    metadata,
    # How many events of each type a dossier holds, up to the projector's
    # checkpoint, and when the first and the last were recorded: the
    # catalogue's counts without a scan of the events.
    sa.Column("dossier", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("type", sa.String(100), primary_key=True),
    sa.Column("events", sa.BigInteger(), nullable=False),
    sa.Column("first_recorded", UTCDateTime(), nullable=False),
    sa.Column("last_recorded", UTCDateTime(), nullable=False),
)

dossier_publishers = sa.Table(
    "dossier_publishers",
    metadata,
    # How many sources of a dossier's events name each publisher, up to the
    # checkpoint. A publisher may be 10,000 characters, beyond what a
    # PostgreSQL index entry holds, so the key is its SHA-256 (hex).
    sa.Column("dossier", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("publisher", sa.Text(), nullable=False),
    sa.Column("sources", sa.BigInteger(), nullable=False),
)
