"""Versioned read models: every state item as bitemporal versions, replacing the
read models of the present and the pickled snapshots of 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 06:55:26.025042
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
Payload = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

SECTIONS = {
    "positions": "position_versions",
    "pledges": "pledge_versions",
    "totals": "total_versions",
    "requests": "request_versions",
    "precedents": "precedent_versions",
    "pressure": "pressure_versions",
    "coalitions": "coalition_versions",
    "formed": "formed_coalition_versions",
}
"""Each section's version table; a view named current_<section> gives the present."""


def upgrade() -> None:
    # The new tables start empty: the projector must begin again from position 0.
    op.execute("DELETE FROM projector_checkpoints")
    op.drop_table("rm_pledges")
    op.drop_table("rm_coalitions")
    op.drop_table("rm_pressure")
    op.drop_table("rm_positions")
    op.drop_table("rm_totals")
    op.drop_table("rm_requests")
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshots_cutoff"))
    op.drop_table("snapshots")
    op.drop_table("rm_precedents")
    op.create_table(
        "coalition_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("committed", Payload, nullable=False),
        sa.Column("joined_by", Payload, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coalition_versions")),
    )
    with op.batch_alter_table("coalition_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coalition_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_coalition_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coalition_versions_valid_from"), ["valid_from"], unique=False
        )

    op.create_table(
        "declared_actors",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("event", sa.BigInteger(), nullable=False),
        sa.Column("declared", Timestamp, nullable=False),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declared_actors")),
    )
    with op.batch_alter_table("declared_actors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_declared_actors_dossier_code"), ["dossier", "code"], unique=False
        )

    op.create_table(
        "declared_issues",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("event", sa.BigInteger(), nullable=False),
        sa.Column("declared", Timestamp, nullable=False),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declared_issues")),
    )
    with op.batch_alter_table("declared_issues", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_declared_issues_dossier_code"), ["dossier", "code"], unique=False
        )

    op.create_table(
        "declared_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("event", sa.BigInteger(), nullable=False),
        sa.Column("declared", Timestamp, nullable=False),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declared_items")),
    )
    with op.batch_alter_table("declared_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_declared_items_dossier_code"), ["dossier", "code"], unique=False
        )

    op.create_table(
        "formed_coalition_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("coalition", sa.Text(), nullable=False),
        sa.Column("issue", sa.Text(), nullable=False),
        sa.Column("members", Payload, nullable=False),
        sa.Column("leads", Payload, nullable=False),
        sa.Column("occurred", sa.String(length=64), nullable=False),
        sa.Column("occurred_start", Timestamp, nullable=False),
        sa.Column("occurred_end", Timestamp, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.Column("certain_from", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_formed_coalition_versions")),
    )
    with op.batch_alter_table("formed_coalition_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_formed_coalition_versions_certain_from"), ["certain_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_formed_coalition_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_formed_coalition_versions_recorded_from"),
            ["recorded_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_formed_coalition_versions_valid_from"), ["valid_from"], unique=False
        )

    op.create_table(
        "pending_references",
        sa.Column("event", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event", name=op.f("pk_pending_references")),
    )
    op.create_table(
        "pledge_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("donor", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.Text(), nullable=True),
        sa.Column("quantity_low", sa.BigInteger(), nullable=True),
        sa.Column("quantity_high", sa.BigInteger(), nullable=True),
        sa.Column("unknown", Payload, nullable=False),
        sa.Column("delivered_low", sa.BigInteger(), nullable=True),
        sa.Column("delivered_high", sa.BigInteger(), nullable=True),
        sa.Column("delivered_unknown", Payload, nullable=False),
        sa.Column("first_announced", sa.String(length=64), nullable=True),
        sa.Column("first_announced_start", Timestamp, nullable=True),
        sa.Column("first_announced_end", Timestamp, nullable=True),
        sa.Column("first_event", sa.String(length=200), nullable=True),
        sa.Column("updated", sa.String(length=64), nullable=False),
        sa.Column("updated_start", Timestamp, nullable=False),
        sa.Column("updated_end", Timestamp, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.Column("certain_from", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_versions")),
    )
    with op.batch_alter_table("pledge_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pledge_versions_certain_from"), ["certain_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pledge_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_pledge_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pledge_versions_valid_from"), ["valid_from"], unique=False
        )

    op.create_table(
        "position_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("stance", sa.String(length=32), nullable=False),
        sa.Column("since", sa.String(length=64), nullable=False),
        sa.Column("since_start", Timestamp, nullable=False),
        sa.Column("since_end", Timestamp, nullable=False),
        sa.Column("since_event", sa.String(length=200), nullable=False),
        sa.Column("condition_actor", sa.Text(), nullable=True),
        sa.Column("condition_does", sa.String(length=32), nullable=True),
        sa.Column("condition_item", sa.Text(), nullable=True),
        sa.Column("condition_met", sa.Boolean(), nullable=True),
        sa.Column("condition_met_by", sa.String(length=200), nullable=True),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.Column("certain_from", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_versions")),
    )
    with op.batch_alter_table("position_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_position_versions_certain_from"), ["certain_from"], unique=False
        )
        batch_op.create_index(
            "ix_position_versions_issue_current",
            ["dossier", "issue", "valid_from"],
            unique=False,
            sqlite_where=sa.text("recorded_to IS NULL"),
            postgresql_where=sa.text("recorded_to IS NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_position_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_position_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_position_versions_valid_from"), ["valid_from"], unique=False
        )
        batch_op.create_index(
            "ix_position_versions_waiting",
            ["dossier", "condition_actor"],
            unique=False,
            sqlite_where=sa.text("condition_actor IS NOT NULL AND recorded_to IS NULL"),
            postgresql_where=sa.text("condition_actor IS NOT NULL AND recorded_to IS NULL"),
        )

    op.create_table(
        "precedent_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("threshold", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("occurred", sa.String(length=64), nullable=False),
        sa.Column("occurred_start", Timestamp, nullable=False),
        sa.Column("occurred_end", Timestamp, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.Column("certain_from", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_precedent_versions")),
    )
    with op.batch_alter_table("precedent_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_precedent_versions_certain_from"), ["certain_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_precedent_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_precedent_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_precedent_versions_valid_from"), ["valid_from"], unique=False
        )

    op.create_table(
        "pressure_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("issue", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first", sa.String(length=64), nullable=False),
        sa.Column("first_start", Timestamp, nullable=False),
        sa.Column("first_end", Timestamp, nullable=False),
        sa.Column("last", sa.String(length=64), nullable=False),
        sa.Column("last_start", Timestamp, nullable=False),
        sa.Column("last_end", Timestamp, nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.Column("certain_from", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pressure_versions")),
    )
    with op.batch_alter_table("pressure_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pressure_versions_certain_from"), ["certain_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pressure_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_pressure_versions_dossier_target_issue_valid_from"),
            ["dossier", "target", "issue", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_pressure_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pressure_versions_valid_from"), ["valid_from"], unique=False
        )

    op.create_table(
        "request_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("request", sa.String(length=200), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("addressee", sa.Text(), nullable=False),
        sa.Column("issue", sa.Text(), nullable=False),
        sa.Column("ask", sa.Text(), nullable=False),
        sa.Column("item", sa.Text(), nullable=True),
        sa.Column("quantity_low", sa.BigInteger(), nullable=True),
        sa.Column("quantity_high", sa.BigInteger(), nullable=True),
        sa.Column("filed", sa.String(length=64), nullable=False),
        sa.Column("filed_start", Timestamp, nullable=False),
        sa.Column("filed_end", Timestamp, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decided", sa.String(length=64), nullable=True),
        sa.Column("decided_start", Timestamp, nullable=True),
        sa.Column("decided_end", Timestamp, nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=200), nullable=True),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.Column("certain_from", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_versions")),
    )
    with op.batch_alter_table("request_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_versions_certain_from"), ["certain_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_request_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_request_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_request_versions_valid_from"), ["valid_from"], unique=False
        )

    op.create_table(
        "state_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("event", sa.BigInteger(), nullable=False),
        sa.Column("effect", sa.Boolean(), nullable=False),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_events")),
    )
    with op.batch_alter_table("state_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_state_events_event"), ["event"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_state_events_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )

    op.create_table(
        "state_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_items")),
        sa.UniqueConstraint(
            "section", "dossier", "key", name=op.f("uq_state_items_section_dossier_key")
        ),
    )
    op.create_table(
        "item_names",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "name", "section", "dossier", "item_id", name=op.f("pk_item_names")
        ),
    )
    op.create_table(
        "total_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("unknown", sa.BigInteger(), nullable=False),
        sa.Column("pledges", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("recorded_from", Timestamp, nullable=False),
        sa.Column("recorded_to", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_total_versions")),
    )
    with op.batch_alter_table("total_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_total_versions_item_id_valid_from"),
            ["item_id", "valid_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_total_versions_recorded_from"), ["recorded_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_total_versions_valid_from"), ["valid_from"], unique=False
        )
    _create_views()


def downgrade() -> None:
    op.execute("DELETE FROM projector_checkpoints")
    for section in SECTIONS:
        op.execute(f"DROP VIEW current_{section}")
    op.drop_table("total_versions")
    op.drop_table("item_names")
    op.drop_table("state_items")
    op.drop_table("state_events")
    op.drop_table("request_versions")
    op.drop_table("pressure_versions")
    op.drop_table("precedent_versions")
    op.drop_table("position_versions")
    op.drop_table("pledge_versions")
    op.drop_table("pending_references")
    op.drop_table("formed_coalition_versions")
    op.drop_table("declared_items")
    op.drop_table("declared_issues")
    op.drop_table("declared_actors")
    op.drop_table("coalition_versions")
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


def _create_views() -> None:
    """The present of each section: versions still believed and still so."""
    for section, table in SECTIONS.items():
        certain = (
            ", certain_from <= CURRENT_TIMESTAMP AS certain"
            if section not in ("totals", "coalitions")
            else ""
        )
        op.execute(
            f"CREATE VIEW current_{section} AS SELECT *{certain} FROM {table} "
            "WHERE recorded_to IS NULL AND valid_to IS NULL"
        )
