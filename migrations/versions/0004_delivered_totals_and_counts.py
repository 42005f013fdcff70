"""Totals count what was delivered; the catalogue's counts get tables of their own.

`total_versions` gains `delivered_low` and `delivered_high`, which no
stored version has: the read models are emptied and the projector builds
them again from position 0 on the next read (or `timeline project`), as
it does after `timeline project --rebuild`. `dossier_types` and
`dossier_publishers` hold each dossier's events by type and sources by
publisher, filled by the projector page by page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
READ_MODELS = (
    "position_versions",
    "pledge_versions",
    "total_versions",
    "request_versions",
    "precedent_versions",
    "pressure_versions",
    "coalition_versions",
    "formed_coalition_versions",
    "state_items",
    "state_events",
    "item_names",
    "declared_actors",
    "declared_items",
    "declared_issues",
    "pending_references",
    "projector_checkpoints",
)
CURRENT_TOTALS = (
    "CREATE VIEW current_totals AS SELECT * FROM total_versions "
    "WHERE recorded_to IS NULL AND valid_to IS NULL"
)


def upgrade() -> None:
    for table in READ_MODELS:
        op.execute(f"DELETE FROM {table}")
    op.execute("DROP VIEW current_totals")
    with op.batch_alter_table("total_versions", schema=None) as batch_op:
        for name in ("delivered_low", "delivered_high"):
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0"))
            )
    op.execute(CURRENT_TOTALS)
    op.create_table(
        "dossier_types",
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("first_recorded", Timestamp, nullable=False),
        sa.Column("last_recorded", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("dossier", "type", name=op.f("pk_dossier_types")),
    )
    op.create_table(
        "dossier_publishers",
        sa.Column("dossier", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=False),
        sa.Column("sources", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dossier", "digest", name=op.f("pk_dossier_publishers")),
    )


def downgrade() -> None:
    op.drop_table("dossier_publishers")
    op.drop_table("dossier_types")
    for table in READ_MODELS:
        op.execute(f"DELETE FROM {table}")
    op.execute("DROP VIEW current_totals")
    with op.batch_alter_table("total_versions", schema=None) as batch_op:
        batch_op.drop_column("delivered_high")
        batch_op.drop_column("delivered_low")
    op.execute(CURRENT_TOTALS)
