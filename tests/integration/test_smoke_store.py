"""A first check that both backends are wired; the contract suite goes deeper."""

from timeline.store import EventStore


def test_empty_store_has_no_events(store: EventStore) -> None:
    """A freshly migrated database holds no events and is at position 0."""
    assert store.head() == 0
    assert list(store.read_all()) == []
