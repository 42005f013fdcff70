"""The event store: the append-only `events` table, its engines, schema and migrations."""

from timeline.store.event_store import EventStore

__all__ = ["EventStore"]
