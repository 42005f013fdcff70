"""The driver-level row codec agrees with the SQLAlchemy column types, both ways.

The store writes and reads `events` through the DBAPI driver (`timeline.rows`)
for speed; anything else that touches the table (migrations, other programs
using the schema) goes through SQLAlchemy's types. A row written by either
must read back the same through the other.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import orjson
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from sqlalchemy.engine import Engine

from events import Envelope
from events.codec import event_to_dict, source_to_dict
from tests.strategies import histories
from timeline.store import EventStore
from timeline.store.schema import events as table

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(table.delete())


def _typed(row: sa.RowMapping) -> dict[str, Any]:
    """A row as SQLAlchemy's types read it, in the shape of the envelope it holds."""
    return {
        "id": row["id"],
        "dossier": row["dossier"],
        "key": row["key"],
        "occurred": (row["occurred_start"], row["occurred_end"], row["occurred_precision"]),
        "type": row["type"],
        "payload": row["payload"],
        "sources": row["sources"],
        "recorded": row["recorded"],
        "position": row["position"],
        "version": row["version"],
    }


def _shape(envelope: Envelope) -> dict[str, Any]:
    occurred = envelope.occurred
    return {
        "id": envelope.id,
        "dossier": envelope.dossier,
        "key": envelope.key,
        "occurred": (occurred.start, occurred.end, str(occurred.precision)),
        "type": envelope.type,
        # As JSON keeps them: every field, None included; tuples become lists.
        "payload": orjson.loads(orjson.dumps(event_to_dict(envelope.event))),
        "sources": [source_to_dict(s) for s in envelope.sources],
        "recorded": envelope.recorded,
        "position": envelope.position,
        "version": envelope.version,
    }


@SETTINGS
@given(history=histories(max_size=15))
def test_rows_the_store_writes_read_back_through_sqlalchemy_types(
    engine: Engine, history: list[Envelope]
) -> None:
    _empty(engine)
    store = EventStore(engine)
    stored = store.append("test-dossier", history)
    with engine.connect() as conn:
        typed = [_typed(r) for r in conn.execute(sa.select(table).order_by("position")).mappings()]
    assert typed == [_shape(e) for e in stored]
    assert list(store.read_all()) == list(stored)


@SETTINGS
@given(history=histories(max_size=15))
def test_rows_written_through_sqlalchemy_types_read_back_through_the_driver(
    engine: Engine, history: list[Envelope]
) -> None:
    _empty(engine)
    recorded = dt.datetime(2023, 2, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    stored = [
        attrs.evolve(envelope, position=n, version=n, recorded=recorded)
        for n, envelope in enumerate(history, start=1)
    ]
    with engine.begin() as conn:
        for envelope in stored:
            shape = _shape(envelope)
            occurred_start, occurred_end, precision = shape.pop("occurred")
            conn.execute(
                table.insert().values(
                    **shape,
                    schema_version=envelope.schema_version,
                    occurred_start=occurred_start,
                    occurred_end=occurred_end,
                    occurred_precision=precision,
                )
            )
    store = EventStore(engine)
    assert list(store.read_all()) == stored
    without_sources = [attrs.evolve(e, sources=()) for e in stored]
    by_start = sorted(without_sources, key=lambda e: (e.occurred.start, e.position))
    assert list(store.read_started(None, None, sources=False)) == by_start
