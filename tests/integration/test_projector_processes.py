"""The projector as a process: killed anywhere it recovers; following, it sees new events."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from events import Occurred
from projections import project
from tests import synthetic
from tests.tables import visible_rows
from timeline.readmodels.projector import Projector, checkpoint
from timeline.readmodels.reader import Reader
from timeline.readmodels.tables import VERSIONS
from timeline.store import EventStore
from timeline.store.database import create_engine
from timeline.store.migrate import upgrade

TIMELINE = str(Path(sys.executable).with_name("timeline"))
CRASH_EVENTS = 50_000


def _store(url: str) -> EventStore:
    engine = create_engine(url)
    upgrade(engine)
    return EventStore(engine)


def _checkpoint(store: EventStore) -> int:
    with store.engine.connect() as conn:
        return checkpoint(conn)


@pytest.mark.slow
def test_projector_killed_at_random_points_ends_equal_to_rebuild(fresh_url: str) -> None:
    """SIGKILL during a 50,000-event catch-up, restart, and the tables hold what a rebuild
    writes: every row any transaction time sees.

    The checkpoints read after each kill show that the kills landed between
    the first page and the last.
    """
    store = _store(fresh_url)
    history = synthetic.batches(synthetic.history(CRASH_EVENTS + 5_000, seed=11), 5_000)
    store.append_batches(next(history))
    first = subprocess.run([TIMELINE, "project", "--db", fresh_url], capture_output=True)
    assert first.returncode == 0, first.stderr
    for batch in history:
        store.append_batches(batch)
    head = store.head()
    rng = random.Random(2023)
    interrupted_at = []
    for _ in range(4):
        process = subprocess.Popen(
            [TIMELINE, "project", "--db", fresh_url, "--batch", "2000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.5, 4.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        interrupted_at.append(_checkpoint(store))
    finished = subprocess.run(
        [TIMELINE, "project", "--db", fresh_url], capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stderr
    assert _checkpoint(store) == head
    print(f"checkpoints after each kill: {interrupted_at} of {head}")
    assert any(0 < at < head for at in interrupted_at), "no kill landed mid catch-up"
    survived = visible_rows(store.engine)
    Projector(store, page_size=2_000).rebuild()
    assert visible_rows(store.engine) == survived


@pytest.mark.slow
def test_follow_applies_events_appended_by_another_process(fresh_url: str) -> None:
    """`timeline project --follow` applies new events without a restart."""
    store = _store(fresh_url)
    history = synthetic.history(300, seed=5)
    first = list(synthetic.batches(history, 200))
    store.append_batches(first[0])
    follower = subprocess.Popen(
        [TIMELINE, "project", "--db", fresh_url, "--follow", "--poll", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: _checkpoint(store) == store.head(), follower)
        writer = subprocess.run(
            [sys.executable, "-c", _APPEND_REST, fresh_url], capture_output=True, text=True
        )
        assert writer.returncode == 0, writer.stderr
        _wait_for(lambda: _checkpoint(store) == store.head(), follower)
        as_of = Occurred.parse("2021").end
        state = Reader(store).state(as_of)
        assert state == project(store.read_all(), as_of=as_of)
        assert state.pledges
        with store.engine.connect() as conn:
            pledges = VERSIONS["pledges"].table
            assert conn.execute(sa.select(sa.func.count()).select_from(pledges)).scalar()
    finally:
        follower.terminate()
        follower.wait(timeout=30)


_APPEND_REST = """
import sys
from tests import synthetic
from timeline.store import EventStore
store = EventStore.open(sys.argv[1])
for batch in list(synthetic.batches(synthetic.history(300, seed=5), 200))[1:]:
    store.append_batches(batch)
"""


def _wait_for(condition: object, process: subprocess.Popen[bytes]) -> None:
    """Wait until `condition()` holds; a hang guard, not a speed assertion."""
    assert callable(condition)
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        if time.monotonic() > deadline:
            raise AssertionError("the follower did not catch up within 120 s")
        time.sleep(0.1)
