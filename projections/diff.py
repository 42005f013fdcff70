"""What changed between two states, item by item, and because of which events.

A diff is complete by construction: every item that differs in any field
gets a `Change` carrying the whole item before and after, so
`apply_diff(before, diff) == after` holds for any two states. `kinds` name
what happened in human terms (each section says how: `kinds` in its
module); `kind` is the first of them, the headline.

Which events caused a change (`events`) is the same rule for the pure
oracle here and for the indexed read side:

* the causes of the item's versions that start in the valid-time window
  between the two dates (as known at the later side's `known_at`);
* when the two sides are known at different times, also what was recorded
  in between and reached the item before the later date: late facts among
  its causes, and corrections and retractions of its causes (followed
  through fixes of fixes); for pledges and totals, the dossier's new
  declarations (categories);
* for a position whose `pressed_by` changed, the same for the pressure on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from events import DossierDeclared, Envelope, EventCorrected, EventRetracted
from projections import (
    coalitions,
    formed,
    pledges,
    positions,
    precedents,
    pressure,
    requests,
    totals,
)
from projections.fold import History, ItemId
from projections.positions import Position
from projections.record import reference
from projections.refs import Ref, Resolver, by_name
from projections.state import EVERYTHING, SECTIONS, Filter, Item, Key, State

REMOVED = "removed"

KINDS: dict[str, Callable[[Any, Any], list[str]]] = {
    "positions": positions.kinds,
    "pledges": pledges.kinds,
    "totals": totals.kinds,
    "requests": requests.kinds,
    "precedents": precedents.kinds,
    "pressure": pressure.kinds,
    "coalitions": coalitions.kinds,
    "formed": formed.kinds,
}


@attrs.frozen(kw_only=True)
class Change:
    """One item of one section that differs, with the events that caused it.

    `before` is None for a new item, `after` None for a removed one.
    `events` is empty when only time passed, e.g. when an item merely
    became certain.
    """

    section: str
    key: Key
    kind: str
    kinds: tuple[str, ...]
    before: Item | None
    after: Item | None
    events: tuple[Ref, ...]


@attrs.frozen(kw_only=True)
class Diff:
    """Every change from the state at `from_` to the state at `to`, in section then key order."""

    from_: dt.datetime
    to: dt.datetime
    from_known_at: dt.datetime | None
    to_known_at: dt.datetime | None
    changes: tuple[Change, ...]


Causes = Callable[[str, Key, Item | None, Item | None], Iterable[Ref]]
"""The events behind the change of one item (section, key, before, after)."""


def change(
    section: str, key: Key, before: Item | None, after: Item | None, events: Iterable[Ref]
) -> Change:
    """The change of one item that differs."""
    found = [REMOVED] if after is None else KINDS[section](before, after)
    return Change(
        section=section,
        key=key,
        kind=found[0],
        kinds=tuple(found),
        before=before,
        after=after,
        events=tuple(sorted(set(events), key=by_name)),
    )


def compare(before: State, after: State, causes: Causes) -> Diff:
    """Every item that differs between `before` and `after`, with `causes` of each."""
    changes: list[Change] = []
    for section in SECTIONS:
        old = {item.key: item for item in before.section(section)}
        new = {item.key: item for item in after.section(section)}
        for key in sorted(old.keys() | new.keys()):
            was, now = old.get(key), new.get(key)
            if was != now:
                changes.append(change(section, key, was, now, causes(section, key, was, now)))
    return Diff(
        from_=before.as_of,
        to=after.as_of,
        from_known_at=before.known_at,
        to_known_at=after.known_at,
        changes=tuple(changes),
    )


def apply_diff(state: State, d: Diff) -> State:
    """`state` with every change of `d` applied: items replaced, added or removed.

    The result carries the diff's target cutoffs (`to`, `to_known_at`).
    """
    items: dict[tuple[str, Key], Item] = {(item.section, item.key): item for item in state.items()}
    for c in d.changes:
        if c.after is None:
            items.pop((c.section, c.key), None)
        else:
            items[(c.section, c.key)] = c.after
    return State.of(as_of=d.to, known_at=d.to_known_at, items=items.values())


def window(d_from: dt.datetime, d_to: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The valid-time window between two dates, whichever comes first."""
    return min(d_from, d_to), max(d_from, d_to)


# -- the oracle -----------------------------------------------------------------------


def diff(
    envelopes: Iterable[Envelope],
    *,
    from_: dt.datetime,
    to: dt.datetime,
    from_known_at: dt.datetime | None = None,
    to_known_at: dt.datetime | None = None,
    where: Filter = EVERYTHING,
) -> Diff:
    """What changed from `from_` (as known at `from_known_at`) to `to` (as known at
    `to_known_at`), folding every event: the oracle of `Timeline.diff`."""
    given = list(envelopes)
    later = History(given, known_at=to_known_at)
    earlier = later if from_known_at == to_known_at else History(given, known_at=from_known_at)
    before, after = earlier.state(from_, where), later.state(to, where)
    start, end = window(from_, to)
    recorded = _recorded_between(given, from_known_at, to_known_at)
    fixes = _fixes_by_target(given, recorded)
    declared = {Ref.of(e) for e in given if isinstance(e.event, DossierDeclared)} & recorded
    beginning = dt.datetime.min.replace(tzinfo=dt.UTC)

    def item_causes(item_id: ItemId) -> set[Ref]:
        found = later.causes(item_id, start, end)
        if not recorded:
            return found
        for history in (earlier, later):
            for ref in history.causes(item_id, beginning, end):
                if ref in recorded:
                    found.add(ref)
                found.update(fixes.get(ref, ()))
        return found

    def causes(section: str, key: Key, was: Item | None, now: Item | None) -> set[Ref]:
        found = item_causes((section, key))
        if (
            isinstance(was, Position)
            and isinstance(now, Position)
            and was.pressed_by != now.pressed_by
        ):
            dossier, actor, issue = key
            for other, other_key in list(earlier.chains) + list(later.chains):
                if other == "pressure" and (other_key[0], *other_key[2:]) == (
                    dossier,
                    actor,
                    issue,
                ):
                    found |= item_causes((other, other_key))
        if section in ("pledges", "totals"):
            found |= {ref for ref in declared if ref.dossier == key[0]}
        return found

    return compare(before, after, causes)


def _recorded_between(
    envelopes: Sequence[Envelope], first: dt.datetime | None, second: dt.datetime | None
) -> set[Ref]:
    """The events recorded at or after the earlier transaction time and before the later
    (None is after everything); nothing when the two are the same."""
    if first == second:
        return set()
    low, high = (
        (first, second)
        if second is None or (first is not None and first < second)
        else (second, first)
    )
    return {
        Ref.of(e)
        for e in envelopes
        if (low is None or (e.recorded is not None and e.recorded >= low))
        and (high is None or e.recorded is None or e.recorded < high)
    }


def _fixes_by_target(envelopes: Sequence[Envelope], recorded: set[Ref]) -> dict[Ref, set[Ref]]:
    """For each event, the fixes recorded between the two times that reach it (through fixes)."""
    resolve = Resolver((e, e) for e in envelopes)
    found: dict[Ref, set[Ref]] = {}
    for fix in envelopes:
        if (
            not isinstance(fix.event, EventCorrected | EventRetracted)
            or Ref.of(fix) not in recorded
        ):
            continue
        target, seen = resolve(fix.dossier, reference(fix)), set()
        while target is not None and target.id not in seen:
            seen.add(target.id)
            if isinstance(target.event, EventCorrected | EventRetracted):
                target = resolve(target.dossier, reference(target))
            else:
                found.setdefault(Ref.of(target), set()).add(Ref.of(fix))
                break
    return found
