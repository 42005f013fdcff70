"""The state of a dossier at one valid time, as the store knew it at one transaction time.

Every class here is a frozen value: two states built from the same facts
compare equal, which is what makes "same state in any recording order" and
"state(a) + diff(a, b) == state(b)" testable laws rather than hopes. Sections
are tuples sorted by each item's `key`, so equality never depends on the
order a fold happened to produce items in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import ClassVar, TypeVar

import attrs

from events import Does, Occurred, Quantity, Stance

Key = tuple[str, ...]

OPEN = "open"
"""The status of a request nobody has decided yet; otherwise the decision."""

UNCATEGORISED = "uncategorised"
"""The category of an item no declaration names, so it still gets a total."""


@attrs.frozen(kw_only=True)
class ConditionStatus:
    """A condition a position hangs on, and whether (and by what) it was met.

    `met_by` is the key of the first pledge that met it, which may have come
    before the condition was even stated: Germany's "only if the US sends
    Abrams" is met the moment such a pledge exists, whenever that was.
    """

    actor: str
    does: Does
    item: str | None
    met: bool
    met_by: str | None


@attrs.frozen(kw_only=True)
class Position:
    """Where `actor` stands on `issue`.

    `since` is the valid time of the event that last *changed* the stance (a
    restatement keeps it), so "since when" answers the analyst's question
    rather than "when did they last say so". `pressed_by` names every actor
    that pressed this one on this issue, whenever they did.
    """

    section: ClassVar[str] = "positions"

    actor: str
    issue: str
    stance: Stance
    since: Occurred
    certain: bool
    conditions: tuple[ConditionStatus, ...]
    events: tuple[str, ...]
    pressed_by: tuple[str, ...]

    @property
    def key(self) -> Key:
        return (self.actor, self.issue)


@attrs.frozen(kw_only=True)
class Pledge:
    """What `donor` pledged and delivered of one `item` to `recipient`.

    Quantities stay honest: `quantity` sums only the numbers sources gave and
    `unknown` lists the pledges that gave none; a stated running `total`
    replaces the sum and the earlier unknowns. `delivered` and
    `delivered_unknown` follow the same rule for delivery reports. An item
    that so far has only been reported delivered has no `issue` and no
    `first_announced`. `updated` is the valid time of the last event that
    changed it; `certain` says whether that interval has ended.
    """

    section: ClassVar[str] = "pledges"

    donor: str
    recipient: str
    item: str
    issue: str | None
    category: str
    quantity: Quantity | None
    unknown: tuple[str, ...]
    delivered: Quantity | None
    delivered_unknown: tuple[str, ...]
    first_announced: Occurred | None
    updated: Occurred
    certain: bool
    events: tuple[str, ...]

    @property
    def key(self) -> Key:
        return (self.donor, self.recipient, self.item)


@attrs.frozen(kw_only=True)
class Total:
    """Everything pledged in one item category, as a minimum and a maximum.

    Categories keep a pledge of training from inflating a tank count;
    `unknown` lists the pledges whose number no source gave, so a reader sees
    that "8" may be "8 and some more". `events` are the pledges counted.
    """

    section: ClassVar[str] = "totals"

    category: str
    low: int
    high: int
    unknown: tuple[str, ...]
    pledges: int
    events: tuple[str, ...]

    @property
    def key(self) -> Key:
        return (self.category,)


@attrs.frozen(kw_only=True)
class Request:
    """A request and, once someone decided it, the decision.

    `status` is "open" or the decision (approved, denied, partial); the last
    decision folded wins. `certain` follows the decision when there is one,
    else the filing.
    """

    section: ClassVar[str] = "requests"

    dossier: str
    request: str
    requester: str
    addressee: str
    issue: str
    ask: str
    item: str | None
    quantity: Quantity | None
    filed: Occurred
    status: str
    decided: Occurred | None
    decided_by: str | None
    certain: bool
    events: tuple[str, ...]

    @property
    def key(self) -> Key:
        # Keys are unique within a dossier only: two dossiers may both have "r1".
        return (self.dossier, self.request)


@attrs.frozen(kw_only=True)
class Precedent:
    """The threshold `actor` crossed first on `issue`, and the event that crossed it."""

    section: ClassVar[str] = "precedents"

    actor: str
    issue: str
    threshold: str
    by: str
    occurred: Occurred
    certain: bool
    events: tuple[str, ...]

    @property
    def key(self) -> Key:
        return (self.actor, self.issue)


@attrs.frozen(kw_only=True)
class Pressure:
    """How often and when `actor` pressed `target` on `issue`.

    One item per pressing actor, so "who pressed Berlin, how often, last
    when" is a lookup rather than a scan of the log.
    """

    section: ClassVar[str] = "pressure"

    actor: str
    target: str
    issue: str
    count: int
    first: Occurred
    last: Occurred
    certain: bool
    events: tuple[str, ...]

    @property
    def key(self) -> Key:
        return (self.actor, self.target, self.issue)


@attrs.frozen(kw_only=True)
class FormedCoalition:
    """A declared coalition (a `coalition.formed` event) on an issue."""

    coalition: str
    members: tuple[str, ...]
    leads: tuple[str, ...]
    occurred: Occurred
    key: str


@attrs.frozen(kw_only=True)
class Coalition:
    """Who is committed on `issue`, in the order they joined, and coalitions formed.

    An actor joins when its stance becomes committed (a pledge does that) and
    leaves if it later states a lower stance; the order is that of the event
    that made each one committed, by valid time and then event key, so it
    never depends on when the store learned the facts. `events` are the
    events by which actors joined or left and the `coalition.formed` events,
    in fold order. The item stays once it exists, even if everyone leaves,
    so that later states never lose an item earlier ones had.
    """

    section: ClassVar[str] = "coalitions"

    issue: str
    committed: tuple[str, ...]
    formed: tuple[FormedCoalition, ...]
    events: tuple[str, ...]

    @property
    def key(self) -> Key:
        return (self.issue,)


Item = Position | Pledge | Total | Request | Precedent | Pressure | Coalition

SECTIONS: tuple[str, ...] = (
    "positions",
    "pledges",
    "totals",
    "requests",
    "precedents",
    "pressure",
    "coalitions",
)
"""Section names in the order diffs and exports list them."""

_T = TypeVar("_T", Position, Pledge, Total, Request, Precedent, Pressure, Coalition)


def _sorted(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(sorted(items, key=lambda item: item.key))


@attrs.frozen(kw_only=True)
class State:
    """Everything the projection knows, as of `as_of`, as known at `known_at`.

    Both cutoffs are exclusive. Build states with `State.of`, which puts every
    section in key order so that equal facts give equal states.
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

    @classmethod
    def of(
        cls,
        *,
        as_of: dt.datetime,
        known_at: dt.datetime | None,
        positions: Iterable[Position] = (),
        pledges: Iterable[Pledge] = (),
        totals: Iterable[Total] = (),
        requests: Iterable[Request] = (),
        precedents: Iterable[Precedent] = (),
        pressure: Iterable[Pressure] = (),
        coalitions: Iterable[Coalition] = (),
    ) -> State:
        """A state with every section sorted by item key (the canonical form)."""
        return cls(
            as_of=as_of,
            known_at=known_at,
            positions=_sorted(positions),
            pledges=_sorted(pledges),
            totals=_sorted(totals),
            requests=_sorted(requests),
            precedents=_sorted(precedents),
            pressure=_sorted(pressure),
            coalitions=_sorted(coalitions),
        )

    def section(self, name: str) -> tuple[Item, ...]:
        """The items of one section by name (one of `SECTIONS`)."""
        if name not in SECTIONS:
            raise KeyError(name)
        items: tuple[Item, ...] = getattr(self, name)
        return items

    def position(self, actor: str, issue: str) -> Position | None:
        """The position of `actor` on `issue`, if it has one."""
        return next((p for p in self.positions if p.key == (actor, issue)), None)

    def pledge(self, donor: str, recipient: str, item: str) -> Pledge | None:
        """What `donor` pledged of `item` to `recipient`, if anything."""
        return next((p for p in self.pledges if p.key == (donor, recipient, item)), None)

    def total(self, category: str) -> Total | None:
        """The total of one item category, if anything of it was pledged."""
        return next((t for t in self.totals if t.category == category), None)

    def request(self, key: str, dossier: str | None = None) -> Request | None:
        """The request filed by the event `key` (of `dossier`), if filed by `as_of`."""
        return next(
            (r for r in self.requests if r.request == key and dossier in (None, r.dossier)),
            None,
        )

    def precedent(self, actor: str, issue: str) -> Precedent | None:
        """The precedent `actor` set on `issue`, if any."""
        return next((p for p in self.precedents if p.key == (actor, issue)), None)

    def coalition(self, issue: str) -> Coalition | None:
        """Who is committed on `issue` and which coalitions formed on it."""
        return next((c for c in self.coalitions if c.issue == issue), None)
