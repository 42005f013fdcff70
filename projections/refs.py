"""How one event names another: by key within its own dossier, else by id.

Keys are unique within a dossier only, so an event is named everywhere by
its dossier and key (`Ref`). A reference written in an event (a decision's
`request`, a correction's `corrects`) names an event of the *same* dossier:
by its key, or else by its id in any spelling `uuid.UUID` reads. This is
the one rule; the store's `find` applies it in SQL, `Resolver` in memory.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterable
from typing import Generic, TypeVar

import attrs

from events import Envelope

_T = TypeVar("_T")


@attrs.frozen(order=True)
class Ref:
    """An event named by its dossier and key."""

    dossier: str
    key: str

    @classmethod
    def of(cls, envelope: Envelope) -> Ref:
        return cls(envelope.dossier, envelope.key)

    def __str__(self) -> str:
        return f"{self.dossier}/{self.key}"


by_name = operator.attrgetter("dossier", "key")
"""The order of `Ref` as a sort key: sorting with it skips the comparisons attrs writes,
a tenth of a large diff."""


def uuid_int(text: str) -> int | None:
    """The id a reference spells, as an integer, in any spelling `uuid.UUID` reads; else None."""
    try:
        return uuid.UUID(text).int
    except ValueError:
        return None


class Resolver(Generic[_T]):
    """Finds what a reference made in a dossier names, among values indexed by envelope.

    Where a key is indexed twice (which a store never allows), the first wins.
    """

    def __init__(self, entries: Iterable[tuple[Envelope, _T]] = ()) -> None:
        self._by_key: dict[tuple[str, str], _T] = {}
        self._by_id: dict[tuple[str, int], _T] = {}
        for envelope, value in entries:
            self.add(envelope, value)

    def add(self, envelope: Envelope, value: _T) -> None:
        self._by_key.setdefault((envelope.dossier, envelope.key), value)
        self._by_id.setdefault((envelope.dossier, envelope.id.int), value)

    def __call__(self, dossier: str, reference: str) -> _T | None:
        found = self._by_key.get((dossier, reference))
        if found is None and (number := uuid_int(reference)) is not None:
            found = self._by_id.get((dossier, number))
        return found
