"""The envelope every event travels in: identity, stream, times, sources."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs

from events.occurred import Occurred
from events.vocabulary import Event

# Fixed forever: ids derived from it must stay the same across releases so
# re-importing a dossier file appends nothing.
ID_NAMESPACE = uuid.UUID("6f1c9a52-8d0e-5b7a-9c43-2e5d1f0a7b18")


def derive_id(dossier: str, key: str) -> uuid.UUID:
    """The deterministic id of an event given without one."""
    return uuid.uuid5(ID_NAMESPACE, f"{dossier}/{key}")


@attrs.frozen(kw_only=True)
class Source:
    """A citation: who published what, when, and the words relied on."""

    publisher: str
    published: dt.date
    quote: str
    title: str | None = None
    url: str | None = None


@attrs.frozen(kw_only=True)
class Envelope:
    """An event as stored: the caller sets the first six fields, the store the rest.

    `recorded` (transaction time), `position` (global order) and `version`
    (order within the dossier) are None until the store has appended it.
    """

    id: uuid.UUID
    key: str
    dossier: str
    occurred: Occurred
    event: Event
    sources: tuple[Source, ...] = ()
    recorded: dt.datetime | None = None
    position: int | None = None
    version: int | None = None

    @classmethod
    def new(
        cls,
        *,
        dossier: str,
        key: str,
        occurred: Occurred,
        event: Event,
        sources: tuple[Source, ...] = (),
        id: uuid.UUID | None = None,
    ) -> Envelope:
        """An unstored event; its id is derived from dossier and key unless given."""
        return cls(
            id=id or derive_id(dossier, key),
            key=key,
            dossier=dossier,
            occurred=occurred,
            event=event,
            sources=sources,
        )

    @property
    def type(self) -> str:
        return self.event.type

    @property
    def schema_version(self) -> int:
        return self.event.schema_version

    def same_fact(self, other: Envelope) -> bool:
        """Equal in everything the caller gave, whatever the store added."""
        return attrs.evolve(self, recorded=None, position=None, version=None) == attrs.evolve(
            other, recorded=None, position=None, version=None
        )
