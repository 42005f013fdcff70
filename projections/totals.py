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
from projections.refs import Ref


@attrs.frozen(kw_only=True)
class Total:
    """The pledges of one category: at least `low`, at most `high` units, over `pledges` items."""

    section: ClassVar[str] = "totals"

    dossier: str = key()
    category: str = key()
    low: int
    high: int
    unknown: int
    pledges: int
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str]:
        return (self.dossier, self.category)

    def certain_from(self) -> None:
        return None


def moved(previous: Total | None, dossier: str, category: str, delta: Contribution) -> Total:
    """The total after its pledges' contributions moved by `delta`."""
    low, high, unknown, pledges = (0, 0, 0, 0) if previous is None else _sums(previous)
    return Total(
        dossier=dossier,
        category=category,
        low=low + delta[0],
        high=high + delta[1],
        unknown=unknown + delta[2],
        pledges=pledges + delta[3],
    )


def _sums(total: Total) -> Contribution:
    return (total.low, total.high, total.unknown, total.pledges)


def delta(before: Contribution, after: Contribution) -> Contribution:
    return (
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
        after[3] - before[3],
    )


def kinds(before: Total | None, after: Total) -> list[str]:
    return ["total added" if before is None else "total changed"]


def add(one: Contribution, other: Contribution) -> Contribution:
    return (one[0] + other[0], one[1] + other[1], one[2] + other[2], one[3] + other[3])


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
        old_delta, old_causes = was.get(start, ((0, 0, 0, 0), ()))
        new_delta, new_causes = now.get(start, ((0, 0, 0, 0), ()))
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
    before = (0, 0, 0, 0) if previous is None else _sums(previous)
    for start, total in old:
        boundaries[start] = (delta(before, _sums(total)), set(total.events))
        before = _sums(total)
    for start, found in changes.items():
        moved_by, refs = boundaries.get(start, ((0, 0, 0, 0), set()))
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
            moved(current, dossier, category, moved_by), events=tuple(sorted(refs))
        )
        result.append((start, current))
    return result
