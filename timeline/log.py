"""The chronological feed of events, as the record now gives them, or as recorded.

By default each fact appears as its corrections left it (their values, and
their valid time, which decides whether it falls in the window asked for),
naming the corrections; a retracted fact is left out, or shown marked with
the retraction. Corrections, retractions and declarations do not appear
as facts of the world: they are in the raw stream (`raw=True`), which is
every event as it was recorded.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Sequence

import attrs

from events import DossierDeclared, Envelope, EventCorrected, EventRetracted
from projections.record import FIXES, Fixes, fold_order, reference, standing
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
) -> list[Entry]:
    """The events whose valid time overlaps ``[start, end)``, by valid time then key.

    `raw` gives every event as recorded; otherwise facts as corrected, the
    retracted ones only with `retracted`.
    """
    window = store.read_all(
        dossier=dossier, occurred_from=start, occurred_to=end, recorded_before=known_at
    )
    if raw:
        entries = [Entry(envelope=e) for e in window]
    else:
        found = {e.id: e for e in window if not isinstance(e.event, (*FIXES, DossierDeclared))}
        entries = _corrected(store, found, dossier, known_at, retracted)
        entries = [e for e in entries if _overlaps(e.envelope, start, end)]
    return sorted(
        (
            e
            for e in entries
            if (types is None or e.envelope.type in types)
            and (actor is None or actor in e.envelope.event.named_actors())
        ),
        key=lambda e: fold_order(e.envelope),
    )


def _overlaps(envelope: Envelope, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    occurred = envelope.occurred
    return (start is None or occurred.end > start) and (end is None or occurred.start < end)


def _corrected(
    store: EventStore,
    found: dict[uuid.UUID, Envelope],
    dossier: str | None,
    known_at: dt.datetime | None,
    retracted: bool,
) -> list[Entry]:
    """The facts found, and those corrections may have moved into the window, as corrected."""
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
    entries = []
    for name, held in by_dossier.items():
        targets = store.find(name, {reference(f) for f in held})
        named = {
            f.id.int: t
            for f in held
            if (t := targets.get(reference(f))) is not None
            and (known_at is None or (t.recorded is not None and t.recorded < known_at))
        }
        result = standing(held, functools.partial(_target, named))
        for target in named.values():
            if not isinstance(target.event, (*FIXES, DossierDeclared)):
                found.setdefault(target.id, target)
        entries += _entries(
            [e for e in found.values() if e.dossier == name], held, named, result, retracted
        )
    plain = {e.dossier for e in found.values()} - by_dossier.keys()
    entries += [Entry(envelope=e) for e in found.values() if e.dossier in plain]
    return entries


def _target(named: dict[int, Envelope], fix: Envelope) -> Envelope | None:
    return named.get(fix.id.int)


def _entries(
    facts: Iterable[Envelope],
    fixes: Sequence[Envelope],
    named: dict[int, Envelope],
    result: Fixes,
    retracted: bool,
) -> list[Entry]:
    retractions: dict[int, list[Ref]] = {}
    for fix in fixes:
        target = named.get(fix.id.int)
        stands = fix.id.int not in result.retracted
        if isinstance(fix.event, EventRetracted) and stands and target is not None:
            retractions.setdefault(target.id.int, []).append(Ref.of(fix))
    entries = []
    for fact in facts:
        view = result.view(fact)
        corrections = result.corrections.get(fact.id.int, ())
        refs = tuple(Ref.of(c) for c in corrections if isinstance(c.event, EventCorrected))
        if view is None:
            if retracted:
                by = tuple(sorted(retractions.get(fact.id.int, ())))
                entries.append(Entry(envelope=fact, corrected_by=refs, retracted_by=by))
            continue
        entries.append(Entry(envelope=view, corrected_by=refs))
    return entries
