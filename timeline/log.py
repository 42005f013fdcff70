"""The chronological feed of events, as the record now gives them, or as recorded.

By default each fact appears as its corrections left it (their values, and
their valid time, which decides whether it falls in the window asked for),
naming the corrections; a retracted fact is left out, or shown marked with
the retraction. Corrections, retractions and declarations do not appear
as facts of the world: they are in the raw stream (`raw=True`), which is
every event as it was recorded.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import heapq
import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence

import attrs

from events import REGISTRY, DossierDeclared, Envelope, EventCorrected, EventRetracted
from projections.record import FIXES, Fixes, SortKey, fold_order, reference, standing
from projections.refs import Ref
from timeline.store import EventStore


@attrs.frozen(kw_only=True)
class Entry:
    """One event of the feed: as the record gives it, and the fixes that made it so."""

    envelope: Envelope
    corrected_by: tuple[Ref, ...] = ()
    retracted_by: tuple[Ref, ...] = ()


def feed(
    store: EventStore,
    *,
    dossier: str | None = None,
    actor: str | None = None,
    types: Sequence[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    known_at: dt.datetime | None = None,
    raw: bool = False,
    retracted: bool = False,
    after: SortKey | None = None,
    corrections: Corrections | None = None,
) -> Iterator[Entry]:
    """The events whose valid time overlaps ``[start, end)``, by valid time then key
    (`fold_order`), from just after `after` on.

    `raw` gives every event as recorded; otherwise facts as corrected, the
    retracted ones only with `retracted`. Entries come lazily, the store read
    along the valid-time index: a page of the feed costs what it shows, plus
    the fixes of the dossier (a correction may move its target anywhere),
    which `corrections` keeps from one call to the next.
    """
    if raw:
        entries: Iterable[Entry] = (
            Entry(envelope=e) for e in _in_order(store, dossier, types, start, end, known_at, after)
        )
    else:
        fixed = (
            corrections.fixed(dossier, known_at, retracted)
            if corrections is not None
            else _fixed(store, dossier, known_at, retracted)
        )
        kinds = [k for k in types or REGISTRY if k not in _NOT_FACTS]
        facts = (
            Entry(envelope=e)
            for e in _in_order(store, dossier, kinds, start, end, known_at, after)
            if e.id not in fixed
        )
        moved = sorted(
            (
                e
                for e in fixed.values()
                if e is not None
                and _overlaps(e.envelope, start, end)
                and (after is None or fold_order(e.envelope) > after)
            ),
            key=_order,
        )
        entries = heapq.merge(facts, moved, key=_order)
    for entry in entries:
        if (types is None or entry.envelope.type in types) and (
            actor is None or actor in entry.envelope.event.named_actors()
        ):
            yield entry


_NOT_FACTS = frozenset(cls.type for cls in (*FIXES, DossierDeclared))


def _order(entry: Entry) -> SortKey:
    return fold_order(entry.envelope)


def _in_order(
    store: EventStore,
    dossier: str | None,
    types: Sequence[str] | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    known_at: dt.datetime | None,
    after: SortKey | None,
) -> Iterator[Envelope]:
    """The stored events overlapping ``[start, end)`` in fold order, after `after`.

    The store streams them by valid start; those sharing a start are sorted by
    the rest of the order here. Facts that began before `start` and run into it
    come first, from a scan of the events before `start` (no index finds them).
    """
    read = functools.partial(
        store.read_started, dossier=dossier, types=types, recorded_before=known_at
    )
    lowest = after[0] if after is not None else None
    if start is None:
        stream = read(lowest, end)
    elif lowest is None or lowest < start:
        hanging = read(lowest, start, ending_after=start)
        stream = itertools.chain(hanging, read(start, end))
    else:
        stream = read(lowest, end)
    for _, same_start in itertools.groupby(stream, key=lambda e: e.occurred.start):
        for envelope in sorted(same_start, key=fold_order):
            if after is None or fold_order(envelope) > after:
                yield envelope


def _overlaps(envelope: Envelope, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    occurred = envelope.occurred
    return (start is None or occurred.end > start) and (end is None or occurred.start < end)


Fixed = dict[uuid.UUID, Entry | None]


class Corrections:
    """Every fact a standing fix touches, as corrected (`_fixed`), kept between calls.

    What a dossier's fixes stand for, and what they name, can change only
    with an event of that dossier recorded before the time asked about; so
    an answer is kept under the position of the last such event, and the
    pages of a listing, or the next reader of the same dossier, reuse it
    (0.5 s at a million events to work out again). A few answers are kept,
    the oldest dropped first.
    """

    KEEP = 16

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._kept: collections.OrderedDict[tuple[object, ...], Fixed] = collections.OrderedDict()
        self._lock = threading.Lock()

    def fixed(self, dossier: str | None, known_at: dt.datetime | None, retracted: bool) -> Fixed:
        key = (dossier, self.store.last_before(known_at, dossier), retracted)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = _fixed(self.store, dossier, known_at, retracted)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.KEEP:
                self._kept.popitem(last=False)
        return found


def _fixed(
    store: EventStore, dossier: str | None, known_at: dt.datetime | None, retracted: bool
) -> Fixed:
    """Every fact a standing fix touches, by id: as corrected, or marked retracted
    (None where retracted facts are not shown)."""
    fixes = list(
        store.read_all(
            dossier=dossier,
            types=[cls.type for cls in FIXES],
            recorded_before=known_at,
        )
    )
    by_dossier: dict[str, list[Envelope]] = {}
    for fix in fixes:
        by_dossier.setdefault(fix.dossier, []).append(fix)
    fixed: dict[uuid.UUID, Entry | None] = {}
    for name, held in by_dossier.items():
        targets = store.find(name, {reference(f) for f in held})
        named = {
            f.id.int: t
            for f in held
            if (t := targets.get(reference(f))) is not None
            and (known_at is None or (t.recorded is not None and t.recorded < known_at))
        }
        result = standing(held, functools.partial(_target, named))
        facts = {t.id: t for t in named.values() if t.type not in _NOT_FACTS}
        fixed |= _entries(facts.values(), held, named, result, retracted)
    return fixed


def _target(named: dict[int, Envelope], fix: Envelope) -> Envelope | None:
    return named.get(fix.id.int)


def _entries(
    facts: Iterable[Envelope],
    fixes: Sequence[Envelope],
    named: dict[int, Envelope],
    result: Fixes,
    retracted: bool,
) -> dict[uuid.UUID, Entry | None]:
    """Each fact as its fixes leave it; a retracted one marked, or None unless `retracted`."""
    retractions: dict[int, list[Ref]] = {}
    for fix in fixes:
        target = named.get(fix.id.int)
        stands = fix.id.int not in result.retracted
        if isinstance(fix.event, EventRetracted) and stands and target is not None:
            retractions.setdefault(target.id.int, []).append(Ref.of(fix))
    entries: dict[uuid.UUID, Entry | None] = {}
    for fact in facts:
        view = result.view(fact)
        corrections = result.corrections.get(fact.id.int, ())
        refs = tuple(Ref.of(c) for c in corrections if isinstance(c.event, EventCorrected))
        if view is not None:
            entries[fact.id] = Entry(envelope=view, corrected_by=refs)
        elif retracted:
            by = tuple(sorted(retractions.get(fact.id.int, ())))
            entries[fact.id] = Entry(envelope=fact, corrected_by=refs, retracted_by=by)
        else:
            entries[fact.id] = None
    return entries
