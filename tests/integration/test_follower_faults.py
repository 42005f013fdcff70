"""A follower whose database connections are terminated keeps following: it logs the
loss, reconnects with a pause, and ends with the read models a rebuild makes."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import sqlalchemy as sa

from tests import synthetic
from tests.conftest import database
from tests.tables import visible_rows
from timeline.readmodels.projector import Projector, checkpoint
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine

pytestmark = pytest.mark.postgres
NAME = "timeline-follower-under-test"


def test_a_follower_survives_terminated_connections(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with database("postgresql", tmp_path_factory) as url:
        _follow_through_kills(url, caplog)


def _follow_through_kills(fresh_url: str, caplog: pytest.LogCaptureFixture) -> None:
    writer = create_engine(fresh_url)
    migrate.upgrade(writer)
    store = EventStore(writer)
    follower = Projector(EventStore(create_engine(f"{fresh_url}&application_name={NAME}")))
    done = threading.Event()
    thread = threading.Thread(
        target=follower.follow, kwargs={"poll": 0.05, "stop": done.is_set}, daemon=True
    )

    def kill() -> int:
        with writer.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": NAME},
                ).scalar_one()
            )

    def caught_up() -> bool:
        deadline = time.monotonic() + 120  # a hang guard, not a speed assertion
        while time.monotonic() < deadline:
            with writer.connect() as conn:
                if checkpoint(conn) == store.head():
                    return True
            time.sleep(0.1)
        return False

    batches = list(synthetic.batches(synthetic.history(3_000, seed=11, dossiers=2), 150))
    busy = 0
    with caplog.at_level(logging.WARNING, logger="timeline.projector"):
        thread.start()
        for batch in batches[:-1]:  # killed while it applies pages
            store.append_batches(batch)
            busy += kill()
            time.sleep(0.05)
        assert caught_up()
        idle = kill()  # killed while it only listens for the next append
        store.append_batches(batches[-1])
        assert caught_up()
        done.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert busy > 0, "no connection of the follower was terminated while it worked"
    assert idle > 0, "the follower's listening connection was not terminated"
    assert any("lost the database" in r.getMessage() for r in caplog.records)
    with writer.connect() as conn:
        assert checkpoint(conn) == store.head()
    followed = visible_rows(writer)
    Projector(store).rebuild()
    assert visible_rows(writer) == followed
    writer.dispose()
    follower.store.engine.dispose()
