"""A writer blocked by another's lock gives up after the lock timeout, in one line, and
writes nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from timeline.interfaces.cli import main
from timeline.store import EventStore
from timeline.store.database import create_engine

SEED = Path(str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml"))


@contextmanager
def _locked(url: str) -> Iterator[None]:
    """Another process's write lock on the events, held until the block ends."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url)
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("LOCK TABLE events IN EXCLUSIVE MODE"))
        yield
    engine.dispose()


def test_an_import_blocked_by_a_lock_gives_up_in_one_line(fresh_url: str) -> None:
    assert main(["init", "--db", fresh_url]) == 0
    command = [str(Path(sys.executable).parent / "timeline"), "--lock-timeout", "1"]
    with _locked(fresh_url):
        began = time.monotonic()
        done = subprocess.run(
            [*command, "import", "--db", fresh_url, str(SEED)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        waited = time.monotonic() - began
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "lock" in done.stderr
    assert waited < 60, "the default timeout, not the one given, was used"
    assert EventStore(create_engine(fresh_url)).head() == 0
