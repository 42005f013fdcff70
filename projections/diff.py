"""What changed between two states, item by item, and because of which events.

A diff is complete by construction: every item that differs in any field
gets a `Change` carrying the whole item before and after, so
`apply_diff(before, diff(before, after)) == after` holds for any two states,
not only for two points of one history. `kinds` name everything that
happened to the item in human terms (a pledge can change a stance *and*
meet a condition at once); `kind` is the first of them, the headline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

from projections.state import (
    OPEN,
    SECTIONS,
    Coalition,
    Item,
    Key,
    Pledge,
    Position,
    Precedent,
    Pressure,
    Request,
    State,
    Total,
)

# The kinds of change, headline first within each section.
POSITION_TAKEN = "position taken"
STANCE_CHANGED = "stance changed"
CONDITION_MET = "condition met"
CONDITIONS_CHANGED = "conditions changed"
PRESSED = "pressed"
POSITION_RESTATED = "position restated"
POSITION_CHANGED = "position changed"
PLEDGE_ADDED = "pledge added"
PLEDGE_CHANGED = "pledge changed"
DELIVERY_REPORTED = "delivery reported"
TOTAL_ADDED = "total added"
TOTAL_CHANGED = "total changed"
REQUEST_DECIDED = "request decided"
REQUEST_FILED = "request filed"
REQUEST_CHANGED = "request changed"
PRECEDENT_SET = "precedent set"
PRECEDENT_CHANGED = "precedent changed"
PRESSURE_APPLIED = "pressure applied"
PRESSURE_CHANGED = "pressure changed"
COALITION_JOINED = "coalition joined"
COALITION_LEFT = "coalition left"
COALITION_FORMED = "coalition formed"
COALITION_CHANGED = "coalition changed"
CERTAINTY_CHANGED = "certainty changed"
REMOVED = "removed"

_T = TypeVar("_T")


@attrs.frozen(kw_only=True)
class Change:
    """One item of one section that differs, with the events that caused it.

    `before` is None for a new item, `after` None for a removed one.
    `events` are the keys the item gained (for a removal, those it had); it
    is empty when only time passed, e.g. when an item merely became certain.
    """

    section: str
    key: Key
    kind: str
    kinds: tuple[str, ...]
    before: Item | None
    after: Item | None
    events: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Diff:
    """Every change from the state at `from_` to the state at `to`.

    The cutoffs of both states travel with it, so applying it yields a state
    with the right `as_of` and `known_at`. Changes are in section order (as
    in `SECTIONS`), then by key.
    """

    from_: dt.datetime
    to: dt.datetime
    from_known_at: dt.datetime | None
    to_known_at: dt.datetime | None
    changes: tuple[Change, ...]


def _gained(before: tuple[str, ...], after: tuple[str, ...]) -> tuple[str, ...]:
    had = set(before)
    return tuple(key for key in after if key not in had)


def _differ(before: object, after: object, *names: str) -> bool:
    return any(getattr(before, name) != getattr(after, name) for name in names)


def _only_time_passed(before: Item, after: Item, basis: str) -> bool:
    """Same basis event, different certainty: only the passage of time moved it."""
    same_basis: bool = getattr(before, basis) == getattr(after, basis)
    return same_basis and getattr(before, "certain", None) != getattr(after, "certain", None)


def _met(item: Position | None) -> set[tuple[str, str, str | None]]:
    if item is None:
        return set()
    return {(c.actor, str(c.does), c.item) for c in item.conditions if c.met}


def _position_kinds(before: Position | None, after: Position) -> list[str]:
    kinds = []
    if before is None:
        kinds.append(POSITION_TAKEN)
    elif before.stance != after.stance:
        kinds.append(STANCE_CHANGED)
    if _met(after) - _met(before):
        kinds.append(CONDITION_MET)
    if before is None:
        return kinds
    wanted = [(c.actor, c.does, c.item) for c in before.conditions]
    if wanted != [(c.actor, c.does, c.item) for c in after.conditions]:
        kinds.append(CONDITIONS_CHANGED)
    if before.pressed_by != after.pressed_by:
        kinds.append(PRESSED)
    if _only_time_passed(before, after, "since"):
        kinds.append(CERTAINTY_CHANGED)
    if not kinds:
        kinds.append(
            POSITION_RESTATED if _gained(before.events, after.events) else POSITION_CHANGED
        )
    return kinds


def _pledge_kinds(before: Pledge | None, after: Pledge) -> list[str]:
    kinds = []
    if after.first_announced is not None and (before is None or before.first_announced is None):
        kinds.append(PLEDGE_ADDED)
    elif before is not None and _differ(before, after, "issue", "quantity", "unknown", "category"):
        kinds.append(PLEDGE_CHANGED)
    before_delivered = (
        (None, ()) if before is None else (before.delivered, before.delivered_unknown)
    )
    if before_delivered != (after.delivered, after.delivered_unknown):
        kinds.append(DELIVERY_REPORTED)
    if before is not None and _only_time_passed(before, after, "updated"):
        kinds.append(CERTAINTY_CHANGED)
    return kinds or [PLEDGE_CHANGED]


def _total_kinds(before: Total | None, after: Total) -> list[str]:
    return [TOTAL_ADDED if before is None else TOTAL_CHANGED]


def _request_kinds(before: Request | None, after: Request) -> list[str]:
    kinds = []
    decision = ("status", "decided", "decided_by")
    if after.status != OPEN and (before is None or _differ(before, after, *decision)):
        kinds.append(REQUEST_DECIDED)
    if before is None:
        kinds.append(REQUEST_FILED)
    elif _only_time_passed(before, after, "decided") and before.filed == after.filed:
        kinds.append(CERTAINTY_CHANGED)
    return kinds or [REQUEST_CHANGED]


def _precedent_kinds(before: Precedent | None, after: Precedent) -> list[str]:
    if before is None:
        return [PRECEDENT_SET]
    if _only_time_passed(before, after, "occurred"):
        return [CERTAINTY_CHANGED]
    return [PRECEDENT_CHANGED]


def _pressure_kinds(before: Pressure | None, after: Pressure) -> list[str]:
    if before is None or _gained(before.events, after.events):
        return [PRESSURE_APPLIED]
    if _only_time_passed(before, after, "last"):
        return [CERTAINTY_CHANGED]
    return [PRESSURE_CHANGED]


def _coalition_kinds(before: Coalition | None, after: Coalition) -> list[str]:
    committed = set() if before is None else set(before.committed)
    kinds = []
    if set(after.committed) - committed:
        kinds.append(COALITION_JOINED)
    if committed - set(after.committed):
        kinds.append(COALITION_LEFT)
    if after.formed != (() if before is None else before.formed):
        kinds.append(COALITION_FORMED)
    return kinds or [COALITION_CHANGED]


_KINDS: dict[type, Callable[[Any, Any], list[str]]] = {
    Position: _position_kinds,
    Pledge: _pledge_kinds,
    Total: _total_kinds,
    Request: _request_kinds,
    Precedent: _precedent_kinds,
    Pressure: _pressure_kinds,
    Coalition: _coalition_kinds,
}


def _pressure_gained(before: State, after: State) -> dict[Key, tuple[str, ...]]:
    """Per pressed (actor, issue): the `pressure.applied` events gained between the states.

    `pressed_by` is read from the pressure section, so a position's own event
    list does not hold them; indexed once per diff, not scanned per position.
    """
    had = {p.key: p.events for p in before.pressure}
    gained: dict[Key, list[str]] = {}
    for pressure in after.pressure:
        new = _gained(had.get(pressure.key, ()), pressure.events)
        if new:
            gained.setdefault((pressure.target, pressure.issue), []).extend(new)
    return {key: tuple(dict.fromkeys(keys)) for key, keys in gained.items()}


def _change(
    pressure_gained: dict[Key, tuple[str, ...]], before: Item | None, after: Item | None
) -> Change:
    if after is None:
        assert before is not None  # an unchanged key never gets here
        return Change(
            section=before.section,
            key=before.key,
            kind=REMOVED,
            kinds=(REMOVED,),
            before=before,
            after=None,
            events=before.events,
        )
    kinds = _KINDS[type(after)](before, after)
    events = after.events if before is None else _gained(before.events, after.events)
    if PRESSED in kinds and isinstance(after, Position):
        events = tuple(dict.fromkeys(events + pressure_gained.get(after.key, ())))
    return Change(
        section=after.section,
        key=after.key,
        kind=kinds[0],
        kinds=tuple(kinds),
        before=before,
        after=after,
        events=events,
    )


def diff(before: State, after: State) -> Diff:
    """Every item that differs between `before` and `after`, with its cause.

    Works for any two states; for two points of one history (same events,
    same `known_at`) it answers "what changed between the 20th and the 26th,
    and because of which event?".
    """
    changes: list[Change] = []
    pressure_gained = _pressure_gained(before, after)
    for section in SECTIONS:
        old = {item.key: item for item in before.section(section)}
        new = {item.key: item for item in after.section(section)}
        for key in sorted(old.keys() | new.keys()):
            was, now = old.get(key), new.get(key)
            if was != now:
                changes.append(_change(pressure_gained, was, now))
    return Diff(
        from_=before.as_of,
        to=after.as_of,
        from_known_at=before.known_at,
        to_known_at=after.known_at,
        changes=tuple(changes),
    )


def apply_diff(state: State, d: Diff) -> State:
    """`state` with every change of `d` applied: items replaced, added or removed.

    The result carries the diff's target cutoffs (`to`, `to_known_at`). It
    trusts that `d` was computed from `state`; applied to another state it
    still replaces the items the diff names, and leaves the rest alone.
    """
    sections: dict[str, dict[Key, Item]] = {
        name: {item.key: item for item in state.section(name)} for name in SECTIONS
    }
    for change in d.changes:
        items = sections[change.section]
        if change.after is None:
            items.pop(change.key, None)
        else:
            items[change.key] = change.after
    return State.of(
        as_of=d.to,
        known_at=d.to_known_at,
        positions=_typed(sections["positions"].values(), Position),
        pledges=_typed(sections["pledges"].values(), Pledge),
        totals=_typed(sections["totals"].values(), Total),
        requests=_typed(sections["requests"].values(), Request),
        precedents=_typed(sections["precedents"].values(), Precedent),
        pressure=_typed(sections["pressure"].values(), Pressure),
        coalitions=_typed(sections["coalitions"].values(), Coalition),
    )


def _typed(items: Iterable[Item], cls: type[_T]) -> list[_T]:
    """Items of one section as its class; anything else means a malformed diff."""
    typed: list[_T] = []
    for item in items:
        if not isinstance(item, cls):
            raise TypeError(f"expected {cls.__name__} items, got {type(item).__name__}")
        typed.append(item)
    return typed
