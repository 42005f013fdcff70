"""The event store's table, and the metadata every table of the engine shares.

Alembic migrations create the tables; the domain never sees them:
`timeline.store.rows` maps rows to envelopes, and the read models
(`timeline.readmodels.tables`) add their tables to the same `metadata`.
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
