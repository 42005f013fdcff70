"""Totals: everything a dossier pledged in one item category, as a minimum and a maximum.

A total is derived from the pledges of its category, and kept as its own
versioned section rather than summed when read: summing means reading
every pledge of the category at the time asked for, which a point query or
a diff over one day cannot afford. It changes whenever a pledge of its
category changes what it adds (`Pledge.contribution`); its causes are the
events that changed those pledges. Categories keep a pledge of training
from inflating a tank count; `unknown` counts the pledges whose number no
source gave (each pledge lists its own), so a reader sees that "8" may be
"8 and some more".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs

from projections.items import causes, key
from projections.pledges import Contribution, Pledge
from projections.refs import Ref, by_name


@attrs.frozen(kw_only=True)
class Total:
    """The pledges of one category: at least `low`, at most `high` units, over `pledges` items,
    of which `delivered_low` to `delivered_high` were reported delivered."""

    section: ClassVar[str] = "totals"

    dossier: str = key()
    category: str = key()
    low: int
    high: int
    unknown: int
    pledges: int
    delivered_low: int
    delivered_high: int
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str]:
        return (self.dossier, self.category)

    def certain_from(self) -> None:
        return None


NOTHING: Contribution = (0, 0, 0, 0, 0, 0)
"""What no pledge adds."""


def moved(previous: Total | None, dossier: str, category: str, delta: Contribution) -> Total:
    """The total after its pledges' contributions moved by `delta`."""
    low, high, unknown, pledges, delivered_low, delivered_high = add(
        NOTHING if previous is None else _sums(previous), delta
    )
    return Total(
        dossier=dossier,
        category=category,
        low=low,
        high=high,
        unknown=unknown,
        pledges=pledges,
        delivered_low=delivered_low,
        delivered_high=delivered_high,
    )


def _sums(total: Total) -> Contribution:
    return (
        total.low,
        total.high,
        total.unknown,
        total.pledges,
        total.delivered_low,
        total.delivered_high,
    )


def delta(before: Contribution, after: Contribution) -> Contribution:
    a, b, c, d, e, f = (new - old for old, new in zip(before, after, strict=True))
    return (a, b, c, d, e, f)


def kinds(before: Total | None, after: Total) -> list[str]:
    return ["total added" if before is None else "total changed"]


def add(one: Contribution, other: Contribution) -> Contribution:
    a, b, c, d, e, f = (x + y for x, y in zip(one, other, strict=True))
    return (a, b, c, d, e, f)


@attrs.frozen
class Patch:
    """How a total changes at one valid time because one pledge item was refolded:
    what it adds, and the causes it takes away and brings."""

    delta: Contribution
    removed: frozenset[Ref]
    added: frozenset[Ref]


def steps(
    base: Contribution, chain: Sequence[tuple[dt.datetime, Pledge]]
) -> dict[dt.datetime, tuple[Contribution, tuple[Ref, ...]]]:
    """Where a pledge item's contribution changes along `chain` (versions by start,
    after one that contributed `base`): by how much, and by which events."""
    found = {}
    before = base
    for start, pledge in chain:
        after = pledge.contribution()
        if after != before:
            found[start] = (delta(before, after), pledge.events)
        before = after
    return found


def patches(
    base: Contribution,
    old: Sequence[tuple[dt.datetime, Pledge]],
    new: Sequence[tuple[dt.datetime, Pledge]],
) -> dict[dt.datetime, Patch]:
    """What replacing a pledge item's versions `old` by `new` does to its total."""
    was, now = steps(base, old), steps(base, new)
    found = {}
    for start in was.keys() | now.keys():
        old_delta, old_causes = was.get(start, (NOTHING, ()))
        new_delta, new_causes = now.get(start, (NOTHING, ()))
        if (old_delta, old_causes) != (new_delta, new_causes):
            found[start] = Patch(
                delta(old_delta, new_delta), frozenset(old_causes), frozenset(new_causes)
            )
    return found


def patched(
    previous: Total | None,
    dossier: str,
    category: str,
    old: Sequence[tuple[dt.datetime, Total]],
    changes: Mapping[dt.datetime, Sequence[Patch]],
) -> list[tuple[dt.datetime, Total]]:
    """A total's versions after `previous`: its old ones (`old`, by start) with the
    pledges' `changes` applied. A version stands where some pledge changed."""
    boundaries: dict[dt.datetime, tuple[Contribution, set[Ref]]] = {}
    before = NOTHING if previous is None else _sums(previous)
    for start, total in old:
        boundaries[start] = (delta(before, _sums(total)), set(total.events))
        before = _sums(total)
    for start, found in changes.items():
        moved_by, refs = boundaries.get(start, (NOTHING, set()))
        for patch in found:
            moved_by = add(moved_by, patch.delta)
        # Every removal before any addition: an event a correction moved from one item
        # to another is removed by the one patch and brought by the other, in any order.
        refs = refs.difference(*(p.removed for p in found)).union(*(p.added for p in found))
        boundaries[start] = (moved_by, refs)
    result, current = [], previous
    for start in sorted(boundaries):
        moved_by, refs = boundaries[start]
        if not refs:
            continue
        current = attrs.evolve(
            moved(current, dossier, category, moved_by), events=tuple(sorted(refs, key=by_name))
        )
        result.append((start, current))
    return result
