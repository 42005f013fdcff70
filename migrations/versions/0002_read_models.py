"""Read models for downstream apps, projector checkpoints and fold snapshots.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
Payload = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "projector_checkpoints",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projector_checkpoints")),
    )
    op.create_table(
        "rm_coalitions",
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("committed", Payload, nullable=True),
        sa.Column("formed", Payload, nullable=True),
        sa.Column("events", Payload, nullable=True),
        sa.PrimaryKeyConstraint("issue", name=op.f("pk_rm_coalitions")),
    )
    op.create_table(
        "rm_pledges",
        sa.Column("donor", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("quantity", Payload, nullable=True),
        sa.Column("unknown", Payload, nullable=True),
        sa.Column("delivered", Payload, nullable=True),
        sa.Column("delivered_unknown", Payload, nullable=True),
        sa.Column("first_announced", sa.String(length=200), nullable=True),
        sa.Column("updated", sa.String(length=200), nullable=False),
        sa.Column("certain", sa.Boolean(), nullable=False),
        sa.Column("events", Payload, nullable=True),
        sa.PrimaryKeyConstraint("donor", "recipient", "item", name=op.f("pk_rm_pledges")),
    )
    op.create_table(
        "rm_positions",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("stance", sa.String(length=200), nullable=False),
        sa.Column("since", sa.String(length=200), nullable=False),
        sa.Column("certain", sa.Boolean(), nullable=False),
        sa.Column("conditions", Payload, nullable=True),
        sa.Column("events", Payload, nullable=True),
        sa.Column("pressed_by", Payload, nullable=True),
        sa.PrimaryKeyConstraint("actor", "issue", name=op.f("pk_rm_positions")),
    )
    op.create_table(
        "rm_precedents",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("threshold", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("occurred", sa.String(length=200), nullable=False),
        sa.Column("certain", sa.Boolean(), nullable=False),
        sa.Column("events", Payload, nullable=True),
        sa.PrimaryKeyConstraint("actor", "issue", name=op.f("pk_rm_precedents")),
    )
    op.create_table(
        "rm_pressure",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first", sa.String(length=200), nullable=False),
        sa.Column("last", sa.String(length=200), nullable=False),
        sa.Column("certain", sa.Boolean(), nullable=False),
        sa.Column("events", Payload, nullable=True),
        sa.PrimaryKeyConstraint("actor", "target", "issue", name=op.f("pk_rm_pressure")),
    )
    op.create_table(
        "rm_requests",
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("request", sa.String(length=200), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("addressee", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("ask", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=True),
        sa.Column("quantity", Payload, nullable=True),
        sa.Column("filed", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("decided", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("certain", sa.Boolean(), nullable=False),
        sa.Column("events", Payload, nullable=True),
        sa.PrimaryKeyConstraint("dossier", "request", name=op.f("pk_rm_requests")),
    )
    op.create_table(
        "rm_totals",
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("unknown", Payload, nullable=True),
        sa.Column("pledges", sa.Integer(), nullable=False),
        sa.Column("events", Payload, nullable=True),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_rm_totals")),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cutoff", Timestamp, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("fold", sa.LargeBinary(), nullable=False),
        sa.Column("created", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snapshots_cutoff"), ["cutoff"], unique=False)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_type"), ["type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_type"))

    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshots_cutoff"))

    op.drop_table("snapshots")
    op.drop_table("rm_totals")
    op.drop_table("rm_requests")
    op.drop_table("rm_pressure")
    op.drop_table("rm_precedents")
    op.drop_table("rm_positions")
    op.drop_table("rm_pledges")
    op.drop_table("rm_coalitions")
    op.drop_table("projector_checkpoints")
