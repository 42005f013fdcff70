"""The follow API: every event once, in position order, then new ones as they commit."""

from __future__ import annotations

import threading
import time

import pytest

from tests import synthetic
from timeline.store import EventStore, rows


def test_follow_yields_history_then_new_events(store: EventStore) -> None:
    """A follower sees stored events, then events appended while it waits, each once."""
    batches = list(synthetic.batches(synthetic.history(120, seed=3), 30))
    store.append_batches(batches[0])
    seen: list[int] = []
    done = threading.Event()

    def writer() -> None:
        for batch in batches[1:]:
            time.sleep(0.05)
            store.append_batches(batch)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 60  # a hang guard, not a speed assertion
    for envelope in store.follow(
        0,
        poll=0.05,
        stop=lambda: (done.is_set() and len(seen) >= store.head()) or time.monotonic() > deadline,
    ):
        seen.append(envelope.position or 0)
    thread.join()
    assert seen == list(range(1, store.head() + 1))


def test_follow_from_a_position_skips_what_came_before(store: EventStore) -> None:
    """Following after position P starts at P + 1."""
    for batch in synthetic.batches(synthetic.history(20, seed=4), 10):
        store.append_batches(batch)
    positions = [e.position for e in store.follow(15, poll=0.01, stop=lambda: True)]
    assert positions == list(range(16, store.head() + 1))


@pytest.mark.parametrize("size", [5, rows.COPY_FROM * 3], ids=["inserted", "copied"])
def test_an_append_wakes_a_postgresql_waiter_long_before_its_poll(
    store: EventStore, size: int
) -> None:
    """PostgreSQL waiters are woken by the append's NOTIFY, whether the rows went
    in by INSERT or by COPY; SQLite ones sleep out the poll."""
    postgres = store.engine.dialect.name == "postgresql"
    poll = 60.0 if postgres else 0.5
    (batch,) = synthetic.batches(synthetic.history(size, seed=5), 100)
    with store.waiter(poll) as waiter:
        timer = threading.Timer(0.2, store.append_batches, (batch,))
        timer.start()
        began = time.monotonic()
        waiter.wait()
        waited = time.monotonic() - began
        timer.join()
    # Which wake-up it was, with a margin of many seconds: not a speed assertion.
    assert waited < poll / 2 if postgres else waited >= poll
    assert store.head() == sum(len(part) for part in batch.values())
