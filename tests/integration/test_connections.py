"""Every read of the facade holds one pooled connection at a time.

The server answers requests in a bounded number of threads sharing one pool
(`timeline.interfaces.server.app`): a read that took a second connection
while holding its first could leave every thread holding one and waiting
for another, until the pool timed out. With a pool of one connection (two
on PostgreSQL, where a streaming read fetches its next page on a second
one) such a read fails at once instead. Catching up the read models holds
a reading and a writing connection; the server's pool allows for it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from timeline.engine import Timeline
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine

SEED = Path(str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml"))
DOSSIER = "ukraine-mbt-2023"
READS: dict[str, Callable[[Timeline], Any]] = {
    "state": lambda t: t.state("2023-01-26", dossier=DOSSIER, actor="DEU"),
    "state known at": lambda t: t.state("2023-01-26", known_at="2023-02-01"),
    "diff": lambda t: t.diff("2023-01-20", "2023-01-26", from_known_at="2023-02-01"),
    "history": lambda t: t.history("positions", ["DEU", "mbt-for-ukraine"]),
    "log": lambda t: list(t.log(dossier=DOSSIER)),
    "raw log": lambda t: list(t.log(raw=True)),
    "dossiers": lambda t: t.dossiers(),
    "dossier": lambda t: t.dossier(DOSSIER),
    "names": lambda t: t.names(),
}


@pytest.mark.parametrize("read", READS)
def test_a_read_never_waits_for_a_second_connection(fresh_url: str, read: str) -> None:
    setup = create_engine(fresh_url)
    migrate.upgrade(setup)
    timeline = Timeline(EventStore(setup))
    timeline.import_files([SEED])
    timeline.projector.catch_up()  # catching up reads and writes at once: not a read
    setup.dispose()
    size = 2 if fresh_url.startswith("postgresql") else 1
    engine = create_engine(fresh_url, pool_size=size, max_overflow=0, pool_timeout=0.5)
    try:
        READS[read](Timeline(EventStore(engine)))
    except sa.exc.TimeoutError as err:
        pytest.fail(f"{read} took a connection while holding another: {err}")
    finally:
        engine.dispose()
