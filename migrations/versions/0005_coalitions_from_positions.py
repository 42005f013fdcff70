"""Coalitions are read from the positions on their issue; versions carry their causes
and are indexed by dossier and valid time.

Each coalition version held every member in a list, and a late fact
rewrote every version after it: the largest of the read models. Now
`position_versions` says of each version whether it ``moved`` its actor
into or out of its issue's coalition, and two partial indexes (committed
versions, moves) answer who is committed and since which move; the view
`current_coalitions` lists each coalition's members now, one row each.

Every version table gains `events`, the keys of the events behind the
version (its links in `state_events` stay); `document`, the version as
the JSON contract gives it without the fields computed when read, which
a state appends; and an index on (dossier, valid_from, valid_to,
recorded_from, recorded_to) in place of the one on valid_from: a
dossier's state as of any time, known at any time, is one range of it.

The read models are emptied and built again by the projector on the next
read (or `timeline project`), as after `timeline project --rebuild`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
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
    "formed": "formed_coalition_versions",
}
"""The version tables that stay, by section."""
READ_MODELS = (
    *SECTIONS.values(),
    "state_items",
    "state_events",
    "item_names",
    "declared_actors",
    "declared_items",
    "declared_issues",
    "pending_references",
    "projector_checkpoints",
    "dossier_types",
    "dossier_publishers",
)
TIMES = ["valid_from", "valid_to", "recorded_from", "recorded_to"]
CURRENT_COALITIONS = (
    "CREATE VIEW current_coalitions AS SELECT dossier, issue, actor, since_event AS joined_by, "
    "since, since_start, since_end FROM position_versions "
    "WHERE recorded_to IS NULL AND valid_to IS NULL AND stance = 'committed'"
)
OLD_COALITIONS = (
    "CREATE VIEW current_coalitions AS SELECT * FROM coalition_versions "
    "WHERE recorded_to IS NULL AND valid_to IS NULL"
)


def _current(section: str) -> str:
    """The view of a section's present (SQLite rebuilds a table whose columns change, and
    PostgreSQL keeps a view's columns as they were: views are dropped and made again)."""
    certain = "" if section == "totals" else ", certain_from <= CURRENT_TIMESTAMP AS certain"
    return (
        f"CREATE VIEW current_{section} AS SELECT *{certain} FROM {SECTIONS[section]} "
        "WHERE recorded_to IS NULL AND valid_to IS NULL"
    )


def _drop_views() -> None:
    for section in (*SECTIONS, "coalitions"):
        op.execute(f"DROP VIEW current_{section}")


def _empty() -> None:
    for table in READ_MODELS:
        op.execute(f"DELETE FROM {table}")


def upgrade() -> None:
    _empty()
    _drop_views()
    op.drop_table("coalition_versions")
    for table in SECTIONS.values():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("events", Payload, nullable=False, server_default=sa.text("'[]'"))
            )
            batch_op.add_column(
                sa.Column("document", sa.Text(), nullable=False, server_default=sa.text("'{}'"))
            )
            batch_op.drop_index(f"ix_{table}_valid_from")
            batch_op.create_index(f"ix_{table}_dossier_time", ["dossier", *TIMES], unique=False)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("events", server_default=None)
            batch_op.alter_column("document", server_default=None)
    with op.batch_alter_table("pressure_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_pressure_versions_dossier_target_issue_valid_from")
        batch_op.create_index(
            "ix_pressure_versions_pressing",
            ["dossier", "target", "issue", *TIMES, "actor"],
            unique=False,
        )
    with op.batch_alter_table("position_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_position_versions_issue_current")
        batch_op.add_column(
            sa.Column("moved", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("position_versions", schema=None) as batch_op:
        batch_op.alter_column("moved", server_default=None)
        batch_op.create_index(
            "ix_position_versions_committed",
            [
                "dossier",
                "issue",
                *TIMES,
                "actor",
                "since_start",
                "since_end",
                "since_event",
                "stance",
            ],
            unique=False,
            sqlite_where=sa.text("stance = 'committed'"),
            postgresql_where=sa.text("stance = 'committed'"),
        )
        batch_op.create_index(
            "ix_position_versions_moved",
            ["dossier", "issue", "valid_from", "recorded_from", "recorded_to"],
            unique=False,
            sqlite_where=sa.text("moved = 1"),
            postgresql_where=sa.text("moved"),
        )
    for section in SECTIONS:
        op.execute(_current(section))
    op.execute(CURRENT_COALITIONS)


def downgrade() -> None:
    _empty()
    _drop_views()
    with op.batch_alter_table("pressure_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_pressure_versions_pressing")
        batch_op.create_index(
            "ix_pressure_versions_dossier_target_issue_valid_from",
            ["dossier", "target", "issue", "valid_from"],
            unique=False,
        )
    with op.batch_alter_table("position_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_position_versions_moved")
        batch_op.drop_index("ix_position_versions_committed")
        batch_op.drop_column("moved")
        batch_op.create_index(
            "ix_position_versions_issue_current",
            ["dossier", "issue", "valid_from"],
            unique=False,
            sqlite_where=sa.text("recorded_to IS NULL"),
            postgresql_where=sa.text("recorded_to IS NULL"),
        )
    for table in SECTIONS.values():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_dossier_time")
            batch_op.drop_column("document")
            batch_op.drop_column("events")
            batch_op.create_index(f"ix_{table}_valid_from", ["valid_from"], unique=False)
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
    for section in SECTIONS:
        op.execute(_current(section))
    op.execute(OLD_COALITIONS)
