"""The record as the store knew it: known events, with retractions and corrections applied.

Events are never edited; a mistake is fixed by a later `event.corrected` or
`event.retracted`. Those fix the *record*, not the world, so they apply
whatever the valid time asked for: only transaction time (`known_at`)
decides whether the fix was known yet. Likewise `dossier.declared` gives
item categories for the whole dossier, not from some date on.

Every dossier is its own record: a fix names an event of its own dossier
(`projections.refs`), and a dossier's categories are its own declarations.

Fixes are few and facts many, so the work here is done on the fixes and
their targets; the facts are walked once and sorted once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from events import (
    DossierDeclared,
    Envelope,
    EventCorrected,
    EventRetracted,
    InvalidEvent,
)
from events.codec import corrected
from projections.refs import Resolver

FIXES = (EventCorrected, EventRetracted)
UNCATEGORISED = "uncategorised"
"""The category of an item no declaration names, so it still gets a total."""

SortKey = tuple[dt.datetime, dt.datetime, str, str, uuid.UUID]


def fold_order(envelope: Envelope) -> SortKey:
    """Valid time first, then the key: recording order never decides anything.

    Dossier and id only break ties between streams that reuse a key.
    """
    occurred = envelope.occurred
    return (occurred.start, occurred.end, envelope.key, envelope.dossier, envelope.id)


def declaration_order(envelope: Envelope) -> tuple[dt.datetime, int, str]:
    """Declarations apply by valid start, then as recorded (an unstored one first)."""
    return (envelope.occurred.start, envelope.position or 0, envelope.key)


def fix_order(envelope: Envelope) -> tuple[dt.datetime, str, dt.datetime, str, uuid.UUID]:
    """Corrections of one event, and declarations, apply by (valid start, key)."""
    occurred = envelope.occurred
    return (occurred.start, envelope.key, occurred.end, envelope.dossier, envelope.id)


def known(envelopes: Iterable[Envelope], known_at: dt.datetime | None) -> list[Envelope]:
    """Envelopes the store had recorded before `known_at` (exclusive).

    An envelope not yet stored (`recorded` is None) counts as known: callers
    projecting events they hold in hand expect to see them.
    """
    if known_at is None:
        return list(envelopes)
    return [e for e in envelopes if e.recorded is None or e.recorded < known_at]


def reference(fix: Envelope) -> str:
    """What a correction or retraction names."""
    event = fix.event
    if isinstance(event, EventRetracted):
        return event.retracts
    if isinstance(event, EventCorrected):
        return event.corrects
    raise TypeError(f"{fix.type} is not a fix")


Target = Callable[[Envelope], Envelope | None]
"""The event a fix names, or None when it names nothing known."""


@attrs.frozen(kw_only=True)
class Fixes:
    """What the standing fixes of a record do: events retracted, corrections per event.

    Both are keyed by the target's id as an integer.
    """

    retracted: frozenset[int] = frozenset()
    corrections: Mapping[int, tuple[Envelope, ...]] = attrs.Factory(dict)

    def view(self, envelope: Envelope) -> Envelope | None:
        """`envelope` as the record now gives it: corrected, or None if retracted."""
        number = envelope.id.int
        if number in self.retracted:
            return None
        found = self.corrections.get(number)
        return envelope if found is None else apply_corrections(envelope, found)


def standing(fixes: Sequence[Envelope], target: Target) -> Fixes:
    """Which fixes stand, and what they do.

    A retraction that is itself retracted stands no more, so its target is
    back; retracting a correction therefore undoes it. References only point
    to earlier events, so chains end; should a malformed stream contain a
    cycle, the retraction met first in fold order stands. Corrections of
    fixes are ignored: to undo a correction, retract it.
    """
    targets = {fix.id.int: target(fix) for fix in fixes}
    retracted = _retracted(fixes, targets)
    corrections: dict[int, list[Envelope]] = {}
    for fix in fixes:
        found = targets[fix.id.int]
        if (
            isinstance(fix.event, EventCorrected)
            and fix.id.int not in retracted
            and found is not None
            and found.id.int not in retracted
            and not isinstance(found.event, FIXES)
        ):
            corrections.setdefault(found.id.int, []).append(fix)
    return Fixes(
        retracted=frozenset(retracted),
        corrections={k: tuple(sorted(v, key=fix_order)) for k, v in corrections.items()},
    )


def _retracted(fixes: Sequence[Envelope], targets: Mapping[int, Envelope | None]) -> set[int]:
    """Ids (as integers) of the envelopes a standing retraction removes."""
    retractions = sorted((f for f in fixes if isinstance(f.event, EventRetracted)), key=fold_order)
    retractors: dict[int, list[Envelope]] = {}
    for retraction in retractions:
        found = targets[retraction.id.int]
        if found is not None:
            retractors.setdefault(found.id.int, []).append(retraction)
    stands: dict[int, bool] = {}
    for root in retractions:
        # Depth-first without recursion: a long chain of retractions must
        # not hit Python's recursion limit.
        stack, on_stack = [root], {root.id.int}
        while stack:
            node = stack[-1].id.int
            if node in stands:
                stack.pop()
                continue
            pending = [
                r
                for r in retractors.get(node, ())
                if r.id.int not in stands and r.id.int not in on_stack
            ]
            if pending:
                stack.append(pending[0])
                on_stack.add(pending[0].id.int)
                continue
            # A retractor still on the stack closes a cycle: it counts as standing.
            stands[node] = not any(stands.get(r.id.int, True) for r in retractors.get(node, ()))
            stack.pop()
            on_stack.discard(node)
    return {
        found.id.int
        for retraction in retractions
        if stands[retraction.id.int] and (found := targets[retraction.id.int]) is not None
    }


def apply_corrections(envelope: Envelope, corrections: Sequence[Envelope]) -> Envelope:
    """`envelope` with each correction's changes applied in turn (in fix order).

    Each step goes through the codec, so an invalid correction is reported
    by the key of the correction that made it invalid.
    """
    event, occurred = envelope.event, envelope.occurred
    for correction in corrections:
        assert isinstance(correction.event, EventCorrected)  # only corrections are given
        try:
            event, occurred = corrected(event, occurred, correction.event)
        except InvalidEvent as err:
            raise err.at(key=correction.key, prefix="changes") from err
    return attrs.evolve(envelope, event=event, occurred=occurred)


def categories(declarations: Iterable[Envelope]) -> dict[str, str]:
    """Item categories from (settled) declarations: the later one wins, by valid start,
    then recording: a header that redefines a category is a later version of it."""
    found: dict[str, str] = {}
    for envelope in sorted(declarations, key=declaration_order):
        assert isinstance(envelope.event, DossierDeclared)  # only declarations are given
        for code, _name, category in envelope.event.items:
            found[code] = category
    return found


@attrs.frozen(kw_only=True)
class Record:
    """One dossier's facts to fold, in fold order, and the item categories it declared.

    `facts` excludes corrections, retractions and declarations: they have
    already done their work here. `everything` is what references may
    name: every known envelope of the dossier, as recorded, in fold order.
    """

    dossier: str
    facts: tuple[Envelope, ...]
    categories: Mapping[str, str]
    everything: tuple[Envelope, ...] = ()


def settle(envelopes: Iterable[Envelope], *, known_at: dt.datetime | None) -> list[Record]:
    """Each dossier's record: known envelopes, retractions and corrections applied.

    Corrections and retractions that name no known event of their dossier
    are ignored (the importer rejects them; a projection of a partial
    stream must not fail on them).
    """
    by_dossier: dict[str, list[Envelope]] = {}
    for envelope in known(envelopes, known_at):
        by_dossier.setdefault(envelope.dossier, []).append(envelope)
    return [_settle(name, by_dossier[name]) for name in sorted(by_dossier)]


def _settle(dossier: str, envelopes: list[Envelope]) -> Record:
    envelopes.sort(key=fold_order)  # where a key repeats, the first in fold order is named
    fixes = [e for e in envelopes if isinstance(e.event, FIXES)]
    found = Fixes()
    if fixes:
        resolve = Resolver((e, e) for e in envelopes)
        found = standing(fixes, lambda fix: resolve(fix.dossier, reference(fix)))
    facts: list[Envelope] = []
    declared: list[Envelope] = []
    for envelope in envelopes:
        if isinstance(envelope.event, FIXES):
            continue
        view = found.view(envelope)
        if view is not None:
            (declared if isinstance(view.event, DossierDeclared) else facts).append(view)
    facts.sort(key=fold_order)
    return Record(
        dossier=dossier,
        facts=tuple(facts),
        categories=categories(declared),
        everything=tuple(envelopes),
    )
