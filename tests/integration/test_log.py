"""The log against a whole-history oracle, and read a page at a time.

The feed streams the store along its valid-time index and merges in the
facts that fixes moved; the oracle here reads every event, applies the
standing fixes of each dossier at once and sorts. For random windows,
transaction times and flags, over several dossiers that reuse keys, both
must list the same entries, and the feed resumed after any entry must go on
exactly where the whole listing does.
"""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from events import DossierDeclared, Envelope, EventCorrected, EventRetracted
from projections.record import SortKey, standing
from projections.refs import Resolver
from tests.strategies import ACTORS, DOSSIERS, archives, as_of_points
from timeline.log import Corrections, Entry, feed
from timeline.store import EventStore

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_FIXES = (EventCorrected, EventRetracted)


def _order(envelope: Envelope) -> tuple[object, ...]:
    occurred = envelope.occurred
    return (occurred.start, occurred.end, envelope.key, envelope.dossier, envelope.id.int)


def _oracle(
    events: list[Envelope],
    start: dt.datetime | None,
    end: dt.datetime | None,
    raw: bool,
    retracted: bool,
) -> list[tuple[Envelope, bool]]:
    """(envelope as shown, whether marked retracted), for every event overlapping the window."""
    shown: list[tuple[Envelope, bool]] = []
    if raw:
        shown = [(e, False) for e in events]
    else:
        resolve = Resolver((e, e) for e in events)
        fixes = [e for e in events if isinstance(e.event, _FIXES)]
        result = standing(fixes, lambda fix: resolve(fix.dossier, _named(fix)))
        for fact in events:
            if isinstance(fact.event, (*_FIXES, DossierDeclared)):
                continue
            view = result.view(fact)
            if view is not None:
                shown.append((view, False))
            elif retracted:
                shown.append((fact, True))
    return sorted(
        (
            (e, marked)
            for e, marked in shown
            if (start is None or e.occurred.end > start) and (end is None or e.occurred.start < end)
        ),
        key=lambda pair: _order(pair[0]),
    )


def _named(fix: Envelope) -> str:
    event = fix.event
    return event.retracts if isinstance(event, EventRetracted) else event.corrects  # type: ignore[union-attr]


def _seen(entries: list[Entry]) -> list[tuple[Envelope, bool]]:
    return [(e.envelope, bool(e.retracted_by)) for e in entries]


@SETTINGS
@given(data=st.data())
def test_the_feed_equals_the_whole_history_oracle_page_by_page(
    engine: Engine, data: st.DataObject
) -> None:
    """Same entries as the oracle, in the same order; resumed after any entry, the rest.

    The fixes worked out for a read are kept (`Corrections`) across the appends,
    read now and then between them: what they were kept for must not outlive
    the events that change them."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM events")
    store = EventStore(engine, page_size=data.draw(st.integers(1, 5)))
    corrections = Corrections(store)
    raw, retracted = data.draw(st.booleans()), data.draw(st.booleans())
    dossier = data.draw(st.none() | st.sampled_from(DOSSIERS))
    rest = [
        attrs.evolve(e, recorded=None, position=None, version=None)
        for e in data.draw(archives(max_size=15))
    ]
    while rest:  # in batches, so that transaction time tells them apart
        size = data.draw(st.integers(1, len(rest)))
        batch: dict[str, list[Envelope]] = {}
        for envelope in rest[:size]:
            batch.setdefault(envelope.dossier, []).append(envelope)
        store.append_batches(batch)
        rest = rest[size:]
        if data.draw(st.booleans()):
            list(feed(store, dossier=dossier, retracted=retracted, corrections=corrections))
    everything = list(store.read_all())
    known_at = data.draw(st.none() | st.sampled_from([e.recorded for e in everything]))
    stored = [e for e in everything if known_at is None or (e.recorded and e.recorded < known_at)]
    start, end = data.draw(st.none() | as_of_points()), data.draw(st.none() | as_of_points())
    if start and end and end < start:
        start, end = end, start
    actor = data.draw(st.none() | st.sampled_from(ACTORS))
    expected = [
        (e, marked)
        for e, marked in _oracle(stored, start, end, raw, retracted)
        if (dossier is None or e.dossier == dossier)
        and (actor is None or actor in e.event.named_actors())
    ]

    def read(after: SortKey | None = None) -> list[Entry]:
        return list(
            feed(
                store,
                dossier=dossier,
                actor=actor,
                start=start,
                end=end,
                known_at=known_at,
                raw=raw,
                retracted=retracted,
                after=after,
                corrections=corrections,
            )
        )

    whole = read()
    assert _seen(whole) == expected
    for cut in data.draw(st.lists(st.integers(0, max(len(whole) - 1, 0)), max_size=3)):
        if whole:
            shown = whole[cut].envelope
            occurred = shown.occurred
            after = (occurred.start, occurred.end, shown.key, shown.dossier, shown.id)
            assert read(after) == whole[cut + 1 :]
