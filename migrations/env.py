"""Alembic environment: runs on the caller's connection when one is given.

`timeline.migrate` passes its connection in `config.attributes` (the
"sharing a connection" recipe), so `timeline init`, the tests and Alembic's
CLI apply the same scripts the same way.
"""

from __future__ import annotations

from alembic import context

from timeline.readmodels.tables import metadata
from timeline.store.database import create_engine, default_url


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or default_url())
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them on a database")
run_migrations_online()
