"""The database schema, as SQLAlchemy Core tables; Alembic migrations create it.

The domain never sees these tables: `timeline.store` maps rows to envelopes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

NAME_LENGTH = 200
"""The longest dossier name or event key the store keeps (the store checks it)."""


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timestamps that are UTC on the way in and aware UTC on the way out.

    PostgreSQL keeps `timestamptz`; SQLite keeps naive UTC text, which sorts
    correctly. A naive datetime from a caller is a bug, so it is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# SQLite makes an INTEGER PRIMARY KEY the rowid: no second index to maintain.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Payload = sa.JSON().with_variant(JSONB(), "postgresql")

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("id", sa.Uuid(), nullable=False, unique=True),
    sa.Column("dossier", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("key", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("schema_version", sa.Integer(), nullable=False),
    sa.Column("occurred_start", UTCDateTime(), nullable=False),
    sa.Column("occurred_end", UTCDateTime(), nullable=False),
    sa.Column("occurred_precision", sa.String(16), nullable=False),
    sa.Column("recorded", UTCDateTime(), nullable=False),
    sa.Column("payload", Payload, nullable=False),
    sa.Column("sources", Payload, nullable=False),
    sa.UniqueConstraint("dossier", "version"),
    sa.UniqueConstraint("dossier", "key"),
    sa.Index(None, "occurred_start"),
    sa.Index(None, "recorded"),
    sa.Index(None, "type"),
)


# Read models: the state with every recorded event counted, one table per
# section, one row per item, columns named as in `timeline.state/1` JSON.
# The projector keeps them; other programs may query them directly.


def _text(name: str, *, key: bool = False, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(NAME_LENGTH), primary_key=key, nullable=nullable and not key)


def _json(name: str) -> sa.Column[Any]:
    return sa.Column(name, Payload, nullable=True)


rm_positions = sa.Table(
    "rm_positions",
    metadata,
    _text("actor", key=True),
    _text("issue", key=True),
    _text("stance", nullable=False),
    _text("since", nullable=False),
    sa.Column("certain", sa.Boolean(), nullable=False),
    _json("conditions"),
    _json("events"),
    _json("pressed_by"),
)

rm_pledges = sa.Table(
    "rm_pledges",
    metadata,
    _text("donor", key=True),
    _text("recipient", key=True),
    _text("item", key=True),
    _text("issue"),
    _text("category", nullable=False),
    _json("quantity"),
    _json("unknown"),
    _json("delivered"),
    _json("delivered_unknown"),
    _text("first_announced"),
    _text("updated", nullable=False),
    sa.Column("certain", sa.Boolean(), nullable=False),
    _json("events"),
)

rm_totals = sa.Table(
    "rm_totals",
    metadata,
    _text("category", key=True),
    sa.Column("low", sa.BigInteger(), nullable=False),
    sa.Column("high", sa.BigInteger(), nullable=False),
    _json("unknown"),
    sa.Column("pledges", sa.Integer(), nullable=False),
    _json("events"),
)

rm_requests = sa.Table(
    "rm_requests",
    metadata,
    _text("dossier", key=True),
    _text("request", key=True),
    _text("requester", nullable=False),
    _text("addressee", nullable=False),
    _text("issue", nullable=False),
    _text("ask", nullable=False),
    _text("item"),
    _json("quantity"),
    _text("filed", nullable=False),
    _text("status", nullable=False),
    _text("decided"),
    _text("decided_by"),
    sa.Column("certain", sa.Boolean(), nullable=False),
    _json("events"),
)

rm_precedents = sa.Table(
    "rm_precedents",
    metadata,
    _text("actor", key=True),
    _text("issue", key=True),
    sa.Column("threshold", sa.Text(), nullable=False),
    _text("by", nullable=False),
    _text("occurred", nullable=False),
    sa.Column("certain", sa.Boolean(), nullable=False),
    _json("events"),
)

rm_pressure = sa.Table(
    "rm_pressure",
    metadata,
    _text("actor", key=True),
    _text("target", key=True),
    _text("issue", key=True),
    sa.Column("count", sa.Integer(), nullable=False),
    _text("first", nullable=False),
    _text("last", nullable=False),
    sa.Column("certain", sa.Boolean(), nullable=False),
    _json("events"),
)

rm_coalitions = sa.Table(
    "rm_coalitions",
    metadata,
    _text("issue", key=True),
    _json("committed"),
    _json("formed"),
    _json("events"),
)

READ_MODELS = {
    "positions": rm_positions,
    "pledges": rm_pledges,
    "totals": rm_totals,
    "requests": rm_requests,
    "precedents": rm_precedents,
    "pressure": rm_pressure,
    "coalitions": rm_coalitions,
}

checkpoints = sa.Table(
    "projector_checkpoints",
    metadata,
    _text("name", key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
)

# Folds paused at a valid-time cutoff, so `state(as_of)` and the projector
# resume from the nearest one instead of folding from the first event.
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("cutoff", UTCDateTime(), nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("fold", sa.LargeBinary(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Index(None, "cutoff"),
)
