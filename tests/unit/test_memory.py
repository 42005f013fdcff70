"""The cycle collector is paused for the body only, and restored as it was."""

from __future__ import annotations

import gc
import weakref

import pytest

from timeline.store.memory import collector_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_off_inside_and_as_before_after(enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(KeyError), collector_paused():
            raise KeyError("boom")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


class _Node:
    """Weak-referenceable, and able to hold itself: a cycle only the collector frees."""

    def __init__(self) -> None:
        self.me = self


def test_what_the_pause_built_skips_the_young_generations_and_nothing_leaks() -> None:
    """Objects built during the pause go to the oldest generation, frozen nowhere;
    a cycle dropped during the pause is still freed by a full collection."""
    was = gc.isenabled()
    gc.enable()
    try:
        with collector_paused():
            kept = [[n] for n in range(1_000)]
            dropped = _Node()
            gone = weakref.ref(dropped)
            del dropped
        young = {id(o) for o in gc.get_objects(generation=0) + gc.get_objects(generation=1)}
        assert not any(id(item) in young for item in kept)
        assert any(o is kept[0] for o in gc.get_objects(generation=2))
        assert gc.get_freeze_count() == 0
        assert gone() is not None  # a cycle: the pause kept it alive...
        gc.collect()
        assert gone() is None  # ...and the next full collection freed it
    finally:
        (gc.enable if was else gc.disable)()


def test_what_the_host_froze_stays_frozen() -> None:
    """A pause never unfreezes objects that the host froze (say, before forking)."""
    was = gc.isenabled()
    gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector_paused():
            [[n] for n in range(1_000)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()
