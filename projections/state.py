"""The state at one valid time, as known at one transaction time, and what reads it.

Every class here is a frozen value: two states built from the same facts
compare equal, which is what makes "same state in any recording order" and
"state(a) + diff(a, b) == state(b)" testable laws rather than hopes.
Sections are tuples sorted by each item's key (dossier first), so equality
never depends on the order items were produced in.

`finish` computes the derived fields of items (`projections.items`) for the
time asked for; the pure fold and the indexed read side both call it, so
the rules for `certain`, `pressed_by` and `category` are written once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from projections.coalitions import Coalition
from projections.formed import Formed
from projections.items import certain
from projections.pledges import Pledge
from projections.positions import Position
from projections.precedents import Precedent
from projections.pressure import Pressure
from projections.record import UNCATEGORISED
from projections.requests import Request
from projections.totals import Total

Item = Position | Pledge | Total | Request | Precedent | Pressure | Coalition | Formed
Key = tuple[str, ...]

SECTIONS: dict[str, type[Any]] = {
    cls.section: cls
    for cls in (Position, Pledge, Total, Request, Precedent, Pressure, Coalition, Formed)
}
"""Every section by name, in the order states, diffs and exports list them."""

ACTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "positions": ("actor",),
    "pledges": ("donor", "recipient"),
    "totals": (),
    "requests": ("requester", "addressee"),
    "precedents": ("actor",),
    "pressure": ("actor", "target"),
    "coalitions": ("committed",),
    "formed": ("coalition", "members", "leads"),
}
"""The fields by which an item names actors: an actor filter keeps items naming it there.

Totals name none, so an actor filter leaves them out."""

ISSUE_FIELD: dict[str, str | None] = dict.fromkeys(SECTIONS, "issue") | {"totals": None}
"""The field naming an item's issue: an issue filter keeps items on it (no totals)."""

_T = TypeVar("_T")


@attrs.frozen(kw_only=True)
class Filter:
    """Which items a question is about: one dossier, one actor, one issue, some sections."""

    dossier: str | None = None
    actor: str | None = None
    issue: str | None = None
    sections: tuple[str, ...] = tuple(SECTIONS)

    def wants(self, section: str) -> bool:
        if section not in self.sections:
            return False
        if self.actor is not None and not ACTOR_FIELDS[section]:
            return False
        return self.issue is None or ISSUE_FIELD[section] is not None

    def keeps(self, item: Item) -> bool:
        """Whether `item` (of a section this filter wants) is one asked about."""
        if self.dossier is not None and item.dossier != self.dossier:
            return False
        if self.issue is not None and getattr(item, "issue", None) != self.issue:
            return False
        return self.actor is None or any(
            self.actor == value or (isinstance(value, tuple) and self.actor in value)
            for value in (getattr(item, name) for name in ACTOR_FIELDS[item.section])
        )


EVERYTHING = Filter()


@attrs.frozen(kw_only=True)
class Context:
    """What derived fields are computed from: the time asked for and the dossiers' categories.

    `pressing(dossier, target, issue)` names the actors that had pressed
    `target` on `issue` by then.
    """

    as_of: dt.datetime
    categories: Callable[[str], Mapping[str, str]]
    pressing: Callable[[str, str, str], tuple[str, ...]]


def finish(item: _T, context: Context) -> _T:
    """`item` with its derived fields computed for `context`."""
    if isinstance(item, Position):
        pressed = context.pressing(item.dossier, item.actor, item.issue)
        return attrs.evolve(item, certain=certain(item, context.as_of), pressed_by=pressed)
    if isinstance(item, Pledge):
        category = context.categories(item.dossier).get(item.item, UNCATEGORISED)
        return attrs.evolve(item, certain=certain(item, context.as_of), category=category)
    if isinstance(item, Request | Precedent | Pressure | Formed):
        return attrs.evolve(item, certain=certain(item, context.as_of))
    return item


def _sorted(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(sorted(items, key=lambda item: item.key))  # type: ignore[attr-defined]


@attrs.frozen(kw_only=True)
class State:
    """Everything known as of `as_of` (valid time), as known at `known_at` (transaction time).

    Both cutoffs are exclusive. Build states with `State.of`, which puts
    every section in key order so that equal facts give equal states.
    """

    as_of: dt.datetime
    known_at: dt.datetime | None
    positions: tuple[Position, ...] = ()
    pledges: tuple[Pledge, ...] = ()
    totals: tuple[Total, ...] = ()
    requests: tuple[Request, ...] = ()
    precedents: tuple[Precedent, ...] = ()
    pressure: tuple[Pressure, ...] = ()
    coalitions: tuple[Coalition, ...] = ()
    formed: tuple[Formed, ...] = ()

    @classmethod
    def of(
        cls, *, as_of: dt.datetime, known_at: dt.datetime | None, items: Iterable[Item] = ()
    ) -> State:
        """A state of `items`, every section sorted by item key (the canonical form)."""
        sections: dict[str, list[Item]] = {name: [] for name in SECTIONS}
        for item in items:
            sections[item.section].append(item)
        ordered: dict[str, Any] = {name: _sorted(found) for name, found in sections.items()}
        return cls(as_of=as_of, known_at=known_at, **ordered)

    def section(self, name: str) -> tuple[Item, ...]:
        """The items of one section by name (one of `SECTIONS`)."""
        if name not in SECTIONS:
            raise KeyError(name)
        items: tuple[Item, ...] = getattr(self, name)
        return items

    def items(self) -> Iterable[Item]:
        for name in SECTIONS:
            yield from self.section(name)

    def filtered(self, where: Filter) -> State:
        """Only the items `where` asks about."""
        kept = (
            item
            for name in SECTIONS
            if where.wants(name)
            for item in self.section(name)
            if where.keeps(item)
        )
        return State.of(as_of=self.as_of, known_at=self.known_at, items=kept)

    def _find(self, name: str, *key: str, dossier: str | None) -> Any:
        return next(
            (
                item
                for item in self.section(name)
                if item.key[1:] == key and dossier in (None, item.dossier)
            ),
            None,
        )

    def position(self, actor: str, issue: str, dossier: str | None = None) -> Position | None:
        """The position of `actor` on `issue` (in `dossier`, else in the first that has one)."""
        found: Position | None = self._find("positions", actor, issue, dossier=dossier)
        return found

    def pledge(
        self, donor: str, recipient: str, item: str, dossier: str | None = None
    ) -> Pledge | None:
        found: Pledge | None = self._find("pledges", donor, recipient, item, dossier=dossier)
        return found

    def total(self, category: str, dossier: str | None = None) -> Total | None:
        found: Total | None = self._find("totals", category, dossier=dossier)
        return found

    def request(self, key: str, dossier: str | None = None) -> Request | None:
        """The request filed by the event `key` (of `dossier`), if filed by `as_of`."""
        found: Request | None = self._find("requests", key, dossier=dossier)
        return found

    def precedent(self, actor: str, issue: str, dossier: str | None = None) -> Precedent | None:
        found: Precedent | None = self._find("precedents", actor, issue, dossier=dossier)
        return found

    def coalition(self, issue: str, dossier: str | None = None) -> Coalition | None:
        found: Coalition | None = self._find("coalitions", issue, dossier=dossier)
        return found
