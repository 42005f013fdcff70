"""How far a fix reaches in valid time, as the snapshots' context works it out.

`latest_reach` decides which fixes a snapshot must carry: too early a
reach and a fold resumed from it misses a fix, so the answer must cover the
whole chain of fixes of fixes, cycles included, and follow fixes that join
the context later.
"""

from __future__ import annotations

import datetime as dt

from events import EventRetracted
from tests.strategies import as_of, corrected, pledge, stored
from timeline.snapshots import Context
from timeline.store import EventStore


def start(day: str) -> dt.datetime:
    return as_of(day) - dt.timedelta(days=1)


def test_a_correction_that_names_itself_reaches_where_it_moves_itself() -> None:
    itself = corrected("c1", "2023-01-10", "c1", 0, occurred="2023-03-01")
    assert Context([itself]).latest_reach(itself) == start("2023-03-01")


def test_fixes_that_correct_each_other_share_the_latest_reach_of_the_cycle() -> None:
    """c1 moves c2 to February, c2 moves c1 to April: both matter until April."""
    one = corrected("c1", "2023-01-10", "c2", 0, occurred="2023-02-01")
    two = corrected("c2", "2023-01-11", "c1", 1, occurred="2023-04-01")
    context = Context([one, two])
    assert context.latest_reach(one) == start("2023-04-01")
    assert context.latest_reach(two) == start("2023-04-01")


def test_a_long_chain_of_fixes_reaches_as_far_as_its_far_end() -> None:
    """Each retraction retracts the one before: deeper than any recursion limit."""
    target = stored("f", "2023-01-05", pledge("GBR", "tank", 1))
    chain = [stored("r0", "2023-01-06", EventRetracted(retracts="f", reason="wrong"))]
    for n in range(1, 5_000):
        event = EventRetracted(retracts=f"r{n - 1}", reason="wrong")
        chain.append(stored(f"r{n}", "2023-01-06", event, n))
    mover = corrected("m", "2023-01-07", "f", 0, occurred="2023-06-01")
    context = Context([target, *chain, mover])
    assert context.latest_reach(chain[-1]) == start("2023-06-01")


def test_a_fix_that_joins_later_moves_the_reach_of_one_already_asked(store: EventStore) -> None:
    target = stored("f", "2023-01-05", pledge("GBR", "tank", 1))
    retraction = stored("r", "2023-01-06", EventRetracted(retracts="f", reason="wrong"))
    context = Context([target, retraction])
    assert context.latest_reach(retraction) == start("2023-01-05")
    context.add(store, [corrected("m", "2023-01-07", "f", 0, occurred="2023-06-01")])
    assert context.latest_reach(retraction) == start("2023-06-01")
