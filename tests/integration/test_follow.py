"""The follow API: every event once, in position order, then new ones as they commit."""

from __future__ import annotations

import threading
import time

from timeline import synthetic
from timeline.store import EventStore


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
