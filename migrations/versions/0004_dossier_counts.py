"""The catalogue's counts: events by type and sources by publisher, per dossier.

Filled from the events the read models already reflect (up to the
projector's checkpoint); the projector adds each page it applies from then on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:40:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
CHECKPOINT = "(SELECT position FROM projector_checkpoints WHERE name = 'read-models')"


def upgrade() -> None:
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
    op.execute(
        "INSERT INTO dossier_types (dossier, type, events, first_recorded, last_recorded) "
        "SELECT dossier, type, count(*), min(recorded), max(recorded) FROM events "
        f"WHERE position <= {CHECKPOINT} GROUP BY dossier, type"
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        publisher, each = "s->>'publisher'", "jsonb_array_elements(e.sources) AS s"
    else:
        publisher, each = "json_extract(s.value, '$.publisher')", "json_each(e.sources) AS s"
    found = bind.execute(
        sa.text(
            f"SELECT e.dossier, {publisher}, count(*) FROM events e, {each} "
            f"WHERE e.position <= {CHECKPOINT} GROUP BY 1, 2"
        )
    ).all()
    if found:
        bind.execute(
            sa.text(
                "INSERT INTO dossier_publishers (dossier, digest, publisher, sources) "
                "VALUES (:dossier, :digest, :publisher, :sources)"
            ),
            [
                {
                    "dossier": dossier,
                    "digest": hashlib.sha256(name.encode()).hexdigest(),
                    "publisher": name,
                    "sources": count,
                }
                for dossier, name, count in found
            ],
        )


def downgrade() -> None:
    op.drop_table("dossier_publishers")
    op.drop_table("dossier_types")
