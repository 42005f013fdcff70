"""The Alembic migrations, checked as pytest-alembic would, on both backends.

pytest-alembic does not work with our pytest, so its four built-in checks are
written out here with Alembic's own API: a single head, up/down/up from an
empty database, every downgrade undoing its upgrade, and migrations that build
exactly the tables `timeline.store.schema` and `timeline.readmodels.tables` declare.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Engine

from timeline.readmodels.tables import metadata
from timeline.store import migrate
from timeline.store.database import create_engine


@pytest.fixture
def blank(fresh_url: str) -> Iterator[Engine]:
    """An engine on an empty database, no migration applied."""
    engine = create_engine(fresh_url)
    yield engine
    engine.dispose()


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config())


def _revisions_base_to_head() -> list[Script]:
    return list(reversed(list(_scripts().walk_revisions("base", "heads"))))


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def _shape(engine: Engine) -> dict[str, object]:
    """Tables with their columns, indexes and unique constraints, as reflected."""
    shape: dict[str, object] = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            shape[table] = (
                sorted(c["name"] for c in inspector.get_columns(table)),
                sorted(str(i["name"]) for i in inspector.get_indexes(table)),
                sorted(str(u["name"]) for u in inspector.get_unique_constraints(table)),
            )
    return shape


def test_single_head_revision() -> None:
    """The migration history has exactly one head, and it is what the engine requires."""
    heads = _scripts().get_heads()
    assert len(heads) == 1
    assert heads[0] == migrate.head_revision()


def test_history_is_one_line_from_base() -> None:
    """Every revision has at most one parent and the chain from base reaches head."""
    revisions = _revisions_base_to_head()
    assert revisions
    assert revisions[0].down_revision is None
    for parent, child in itertools.pairwise(revisions):
        assert child.down_revision == parent.revision
    assert revisions[-1].revision == migrate.head_revision()
    # The engine checks a schema against this list without loading the scripts.
    assert tuple(r.revision for r in revisions) == migrate.REVISIONS


def test_upgrade_downgrade_upgrade(blank: Engine) -> None:
    """An empty database goes up to head, down to base, and up to head again."""
    migrate.upgrade(blank)
    assert migrate.current_revision(blank) == migrate.head_revision()
    assert "events" in _tables(blank)
    migrate.downgrade(blank, "base")
    assert migrate.current_revision(blank) is None
    assert _tables(blank) == set()
    migrate.upgrade(blank)
    assert migrate.current_revision(blank) == migrate.head_revision()
    assert "events" in _tables(blank)


def test_every_downgrade_undoes_its_upgrade(blank: Engine) -> None:
    """Stepping up one revision at a time, each downgrade restores the schema before it."""
    before = _shape(blank)
    for script in _revisions_base_to_head():
        migrate.upgrade(blank, script.revision)
        after = _shape(blank)
        assert after != before, f"revision {script.revision} changed nothing"
        parent = script.down_revision
        assert parent is None or isinstance(parent, str), "a merge revision"
        migrate.downgrade(blank, parent or "base")
        assert _shape(blank) == before, f"downgrade of {script.revision} left changes"
        migrate.upgrade(blank, script.revision)
        assert _shape(blank) == after
        before = after
    migrate.downgrade(blank, "base")
    assert _tables(blank) == set()


def test_migrations_match_the_schema_module(blank: Engine) -> None:
    """Autogenerate finds no difference between the migrated database and timeline.schema."""
    migrate.upgrade(blank)
    with blank.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_concurrent_inits_on_a_fresh_database_all_succeed(fresh_url: str) -> None:
    """Several `timeline init` processes at once: each exits 0, the schema is at head."""
    command = [str(Path(sys.executable).parent / "timeline"), "init", "--db", fresh_url]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in results] == [0] * 4, results
    engine = create_engine(fresh_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
