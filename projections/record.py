"""The record as the store knew it: known events, with retractions and corrections applied.

Events are never edited; a mistake is fixed by a later `event.corrected` or
`event.retracted`. Those fix the *record*, not the world, so they apply
whatever the valid time asked for: only transaction time (`known_at`)
decides whether the fix was known yet. Likewise `dossier.declared` gives
item categories for the whole dossier, not from some date on.

Fixes are few and facts many, so the work here is done on the fixes and
their targets; the facts are walked once and sorted once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import attrs

from events import (
    DossierDeclared,
    Envelope,
    EventCorrected,
    EventRetracted,
    InvalidEvent,
)
from events.codec import corrected

_FIXES = (EventCorrected, EventRetracted)

_K = TypeVar("_K")

SortKey = tuple[dt.datetime, dt.datetime, str, str, uuid.UUID]


def fold_order(envelope: Envelope) -> SortKey:
    """Valid time first, then the key: recording order never decides anything.

    Dossier and id only break ties between streams that reuse a key.
    """
    occurred = envelope.occurred
    return (occurred.start, occurred.end, envelope.key, envelope.dossier, envelope.id)


def fix_order(envelope: Envelope) -> tuple[dt.datetime, str, dt.datetime, str, uuid.UUID]:
    """Corrections of one event, and declarations, apply by (valid start, key)."""
    occurred = envelope.occurred
    return (occurred.start, envelope.key, occurred.end, envelope.dossier, envelope.id)


@attrs.frozen(kw_only=True)
class Record:
    """The facts to fold, in fold order, and the item categories declared.

    `facts` excludes corrections, retractions and declarations: they have
    already done their work here.
    """

    facts: tuple[Envelope, ...]
    categories: Mapping[str, str]


def known(envelopes: Iterable[Envelope], known_at: dt.datetime | None) -> list[Envelope]:
    """Envelopes the store had recorded before `known_at` (exclusive).

    An envelope not yet stored (`recorded` is None) counts as known: callers
    projecting events they hold in hand expect to see them.
    """
    if known_at is None:
        return list(envelopes)
    return [e for e in envelopes if e.recorded is None or e.recorded < known_at]


def _reference(fix: Envelope) -> str:
    event = fix.event
    if isinstance(event, EventRetracted):
        return event.retracts
    assert isinstance(event, EventCorrected)  # only fixes are asked for
    return event.corrects


def uuid_int(text: str) -> int | None:
    """The id a reference spells, as an integer, in any spelling `uuid.UUID` reads; else None."""
    try:
        return uuid.UUID(text).int
    except ValueError:
        return None


class _Resolver:
    """Finds the event a fix names: by key within the fix's dossier, else by id.

    Only the references the fixes make are indexed, in one pass over the
    envelopes. Where a key is reused, the first in fold order wins, so the
    answer never depends on recording order.
    """

    def __init__(self, envelopes: Sequence[Envelope], fixes: Sequence[Envelope]) -> None:
        wanted_keys = {(fix.dossier, _reference(fix)) for fix in fixes}
        wanted_ids = {uuid_int(_reference(fix)) for fix in fixes} - {None}
        self._by_key: dict[tuple[str, str], Envelope] = {}
        self._by_id: dict[int, Envelope] = {}
        for envelope in envelopes:
            key = (envelope.dossier, envelope.key)
            if key in wanted_keys:
                _keep_first(self._by_key, key, envelope)
            if wanted_ids and envelope.id.int in wanted_ids:
                _keep_first(self._by_id, envelope.id.int, envelope)

    def __call__(self, fix: Envelope) -> Envelope | None:
        """The envelope `fix` names, or None when no known event has that key or id."""
        reference = _reference(fix)
        found = self._by_key.get((fix.dossier, reference))
        if found is None and (number := uuid_int(reference)) is not None:
            found = self._by_id.get(number)
        return found


def _keep_first(index: dict[_K, Envelope], key: _K, envelope: Envelope) -> None:
    """Index `envelope` under `key` unless one earlier in fold order is there already."""
    current = index.get(key)
    if current is None or fold_order(envelope) < fold_order(current):
        index[key] = envelope


def _retracted(fixes: Sequence[Envelope], resolve: _Resolver) -> set[int]:
    """Ids (as integers) of the envelopes a standing retraction removes.

    A retraction that is itself retracted stands no more, so its target is
    back; retracting a correction therefore undoes it. References only point
    to earlier events, so chains end; should a malformed stream contain a
    cycle, the retraction met first in fold order stands.
    """
    retractions = sorted((f for f in fixes if isinstance(f.event, EventRetracted)), key=fold_order)
    targets = {r.id.int: resolve(r) for r in retractions}
    retractors: dict[int, list[Envelope]] = {}
    for retraction in retractions:
        target = targets[retraction.id.int]
        if target is not None:
            retractors.setdefault(target.id.int, []).append(retraction)
    standing: dict[int, bool] = {}
    for root in retractions:
        # Depth-first without recursion: a long chain of retractions must
        # not hit Python's recursion limit.
        stack, on_stack = [root], {root.id.int}
        while stack:
            node = stack[-1].id.int
            if node in standing:
                stack.pop()
                continue
            pending = [
                r
                for r in retractors.get(node, ())
                if r.id.int not in standing and r.id.int not in on_stack
            ]
            if pending:
                stack.append(pending[0])
                on_stack.add(pending[0].id.int)
                continue
            # A retractor still on the stack closes a cycle: it counts as standing.
            standing[node] = not any(standing.get(r.id.int, True) for r in retractors.get(node, ()))
            stack.pop()
            on_stack.discard(node)
    return {
        target.id.int
        for retraction in retractions
        if standing[retraction.id.int] and (target := targets[retraction.id.int]) is not None
    }


def _corrected(target: Envelope, corrections: Sequence[Envelope]) -> Envelope:
    """`target` with each correction's changes applied in turn.

    Each step goes through the codec, so an invalid correction is reported
    by the key of the correction that made it invalid.
    """
    event, occurred = target.event, target.occurred
    for correction in sorted(corrections, key=fix_order):
        assert isinstance(correction.event, EventCorrected)  # only corrections are given
        try:
            event, occurred = corrected(event, occurred, correction.event)
        except InvalidEvent as err:
            raise err.at(key=correction.key, prefix="changes") from err
    return attrs.evolve(target, event=event, occurred=occurred)


def settle(envelopes: Iterable[Envelope], *, known_at: dt.datetime | None) -> Record:
    """Known envelopes, retractions and corrections applied, declarations read.

    Corrections and retractions that name no known event are ignored (the
    importer rejects them; a projection of a partial stream must not fail on
    them). Corrections of corrections or of retractions are ignored too: to
    undo a correction, retract it.
    """
    envelopes = known(envelopes, known_at)
    fixes = [e for e in envelopes if isinstance(e.event, _FIXES)]
    retracted: set[int] = set()
    corrections: dict[int, list[Envelope]] = {}
    if fixes:
        resolve = _Resolver(envelopes, fixes)
        retracted = _retracted(fixes, resolve)
        for fix in fixes:
            if isinstance(fix.event, EventCorrected) and fix.id.int not in retracted:
                target = resolve(fix)
                if (
                    target is not None
                    and target.id.int not in retracted
                    and not isinstance(target.event, _FIXES)
                ):
                    corrections.setdefault(target.id.int, []).append(fix)

    facts: list[Envelope] = []
    declared: list[Envelope] = []
    for envelope in envelopes:
        if isinstance(envelope.event, _FIXES):
            continue
        if fixes:
            number = envelope.id.int
            if number in retracted:
                continue
            if number in corrections:
                envelope = _corrected(envelope, corrections[number])
        (declared if isinstance(envelope.event, DossierDeclared) else facts).append(envelope)
    # The later declaration of an item's category wins, by (valid start, key).
    categories: dict[str, str] = {}
    for envelope in sorted(declared, key=fix_order):
        assert isinstance(envelope.event, DossierDeclared)  # sorted into `declared` above
        for code, _name, category in envelope.event.items:
            categories[code] = category
    facts.sort(key=fold_order)
    return Record(facts=tuple(facts), categories=categories)
