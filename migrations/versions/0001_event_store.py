"""The event store: one append-only table of events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
Payload = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("occurred_start", Timestamp, nullable=False),
        sa.Column("occurred_end", Timestamp, nullable=False),
        sa.Column("occurred_precision", sa.String(length=16), nullable=False),
        sa.Column("recorded", Timestamp, nullable=False),
        sa.Column("payload", Payload, nullable=False),
        sa.Column("sources", Payload, nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_events")),
        sa.UniqueConstraint("dossier", "key", name=op.f("uq_events_dossier_key")),
        sa.UniqueConstraint("dossier", "version", name=op.f("uq_events_dossier_version")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
    )
    op.create_index(op.f("ix_events_occurred_start"), "events", ["occurred_start"])
    op.create_index(op.f("ix_events_recorded"), "events", ["recorded"])


def downgrade() -> None:
    op.drop_index(op.f("ix_events_recorded"), table_name="events")
    op.drop_index(op.f("ix_events_occurred_start"), table_name="events")
    op.drop_table("events")
