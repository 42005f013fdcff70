"""The projector and the snapshots: incremental equals rebuild equals the pure projection."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from events import (
    DossierDeclared,
    Envelope,
    EventCorrected,
    EventRetracted,
    Occurred,
    PositionStated,
    Stance,
)
from projections import Fold, project
from tests.strategies import as_of_points, histories
from timeline import snapshots, synthetic
from timeline.projector import Projector, expected_read_models, read_models
from timeline.schema import metadata
from timeline.store import EventStore

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _empty(engine: Engine) -> None:
    """Every table emptied, so one database serves many hypothesis examples."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def _append(store: EventStore, batch: list[Envelope]) -> None:
    by_dossier: dict[str, list[Envelope]] = {}
    for envelope in batch:
        by_dossier.setdefault(envelope.dossier, []).append(envelope)
    store.append_batches(by_dossier)


@st.composite
def split(draw: st.DrawFn, history: list[Envelope]) -> list[list[Envelope]]:
    """The history cut into consecutive batches of random sizes."""
    batches, rest = [], list(history)
    while rest:
        size = draw(st.integers(1, max(1, len(rest))))
        batches.append(rest[:size])
        rest = rest[size:]
    return batches


@SETTINGS
@given(data=st.data())
def test_catching_up_after_each_batch_equals_rebuild_and_projection(
    engine: Engine, data: st.DataObject
) -> None:
    """Random histories with late facts and corrections, appended in random batches."""
    _empty(engine)
    store = EventStore(engine)
    history = data.draw(histories(max_size=30))
    projector = Projector(
        store,
        page_size=data.draw(st.integers(1, 6)),
        snapshot_every=data.draw(st.integers(1, 4)),
        keep_every=data.draw(st.integers(1, 8)),
    )
    for batch in data.draw(split(history)):
        _append(store, [attrs_free(e) for e in batch])
        projector.catch_up()
        assert read_models(store) == expected_read_models(store)
    restarted = Projector(store, page_size=3, snapshot_every=2)
    assert restarted.catch_up() == 0
    rebuilt = Projector(store, page_size=5, snapshot_every=3, keep_every=3)
    rebuilt.rebuild()
    assert read_models(store) == expected_read_models(store)


@SETTINGS
@given(data=st.data())
def test_state_with_snapshots_equals_full_fold(engine: Engine, data: st.DataObject) -> None:
    """`state(as_of)` resumed from snapshots equals folding every event, for random as_of."""
    _empty(engine)
    store = EventStore(engine)
    history = data.draw(histories(max_size=30))
    batches = data.draw(split(history))
    projector = Projector(
        store, page_size=data.draw(st.integers(1, 5)), snapshot_every=1, keep_every=2
    )
    for number, batch in enumerate(batches):
        _append(store, [attrs_free(e) for e in batch])
        if number < len(batches) - 1 or data.draw(st.booleans()):
            projector.catch_up()  # sometimes leave the last batch past the checkpoint
    moments = data.draw(st.lists(as_of_points(), min_size=1, max_size=5))
    for as_of in moments:
        assert snapshots.resume(store, as_of) == project(store.read_all(), as_of=as_of)
    # Several moments from one snapshot, in any order: what a diff reads.
    expected = [project(store.read_all(), as_of=as_of) for as_of in moments]
    assert snapshots.resume_at(store, moments) == expected
    # As the store stood at an earlier position: what a diff pins both its states to.
    through = data.draw(st.integers(0, store.head()))
    as_of = data.draw(as_of_points())
    earlier = store.read_all(through=through)
    assert snapshots.resume(store, as_of, through=through) == project(earlier, as_of=as_of)


def test_snapshots_are_taken_and_used(engine: Engine) -> None:
    """A projector with small snapshot intervals leaves snapshots behind, and state uses them."""
    store = _with_long_history(engine)
    Projector(store, page_size=7, snapshot_every=5, keep_every=5).catch_up()
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(snapshots.snapshots)).scalar()
        found = snapshots.latest(conn, snapshots.END_OF_TIME, through=store.head())
    assert count is not None
    assert count > 1
    assert found is not None
    assert found.thaw()[0].step > 0
    as_of = snapshots.END_OF_TIME
    assert snapshots.resume(store, as_of) == project(store.read_all(), as_of=as_of)


def _with_long_history(engine: Engine) -> EventStore:
    """A store holding `_long_history`, appended as a caller would."""
    store = EventStore(engine)
    _append(store, [attrs_free(e) for e in _long_history()])
    return store


def _long_history() -> list[Envelope]:
    """A deterministic synthetic history with late facts and corrections."""
    return list(synthetic.history(300, seed=7, actors=12, issues=3, items=6))


def attrs_free(envelope: Envelope) -> Envelope:
    """The envelope as a caller would append it: the store sets the rest."""
    return attrs.evolve(envelope, recorded=None, position=None, version=None)


def _stated(key: str, actor: str, day: str) -> Envelope:
    return Envelope.new(
        dossier="d",
        key=key,
        occurred=Occurred.parse(day),
        event=PositionStated(actor=actor, issue="i", stance=Stance.SUPPORTIVE),
    )


def test_a_fact_on_the_day_of_the_last_snapshot_is_not_lost(engine: Engine) -> None:
    """A later page's fact starting where the page-end snapshot was cut still counts."""
    store = EventStore(engine)
    store.append("d", [_stated("a", "DEU", "2023-01-25")])
    Projector(store).catch_up()
    store.append("d", [_stated("b", "FRA", "2023-01-25"), _stated("c", "USA", "2023-01-27")])
    Projector(store).catch_up()
    as_of = Occurred.parse("2023-01-25").end
    assert snapshots.resume(store, as_of) == project(store.read_all(), as_of=as_of)
    assert {p.actor for p in snapshots.resume(store, as_of).positions} == {"DEU", "FRA"}


def test_two_projectors_taking_turns_keep_the_read_models_right(engine: Engine) -> None:
    """A projector whose checkpoint another one moved reloads instead of writing stale rows."""
    store = EventStore(engine)
    first, second = Projector(store, page_size=50), Projector(store, page_size=70)
    for number, batch in enumerate(synthetic.batches(synthetic.history(400, seed=9), 100)):
        store.append_batches(batch)
        (first if number % 2 else second).catch_up()
        if number == 2:
            second.rebuild()
    first.catch_up()
    assert read_models(store) == expected_read_models(store)


def test_a_new_declaration_mid_stream_changes_only_categories(engine: Engine) -> None:
    """A later header that recategorises an item updates totals without losing anything."""
    store = EventStore(engine)
    history = [attrs_free(e) for e in _long_history()]
    projector = Projector(store, page_size=40, snapshot_every=30)
    store.append_batches({"synthetic-01": history[:150]})
    projector.catch_up()
    first = history[0]
    assert isinstance(first.event, DossierDeclared)
    items = tuple((code, name, "training") for code, name, _ in first.event.items)
    again = Envelope.new(
        dossier=first.dossier,
        key="declared-again",
        occurred=first.occurred,
        event=attrs.evolve(first.event, items=items),
    )
    store.append_batches({"synthetic-01": [again, *history[150:]]})
    projector.catch_up()
    assert read_models(store) == expected_read_models(store)
    assert {row["category"] for row in read_models(store)["totals"]} == {"training"}


def test_fixes_naming_events_of_another_dossier_by_id_apply_everywhere(engine: Engine) -> None:
    """A correction or retraction may name its target by id, in any spelling, across dossiers.

    The pure projection resolves such references globally; snapshots and the
    projector, which hold only the fixes and what they name, must too.
    """
    store = EventStore(engine)
    moved, dropped = _stated("moved", "DEU", "2023-01-10"), _stated("dropped", "FRA", "2023-01-11")
    store.append("d", [moved, dropped, _stated("kept", "USA", "2023-02-20")])
    projector = Projector(store, page_size=1, snapshot_every=1, keep_every=1)
    projector.catch_up()
    fixes = [
        EventCorrected.of(moved.id.hex.upper(), {"occurred": "2023-03-01"}),
        EventRetracted(retracts=str(dropped.id).upper(), reason="misreported"),
    ]
    when = Occurred.parse("2023-03-05")
    store.append(
        "e",
        [
            Envelope.new(dossier="e", key=f"fix-{n}", occurred=when, event=e)
            for n, e in enumerate(fixes)
        ],
    )
    moments = [Occurred.parse(day).end for day in ("2023-01-15", "2023-02-25", "2023-03-10")]
    for caught_up in (False, True):
        if caught_up:
            projector.catch_up()
            assert read_models(store) == expected_read_models(store)
        for moment in moments:
            assert snapshots.resume(store, moment) == project(store.read_all(), as_of=moment)
    positions = snapshots.resume(store, moments[1]).positions
    assert {p.actor for p in positions} == {"USA"}


def test_a_first_pass_keeps_the_newest_snapshots_close_together(engine: Engine) -> None:
    """Near the end a first pass snapshots every `snapshot_every` steps, not per `keep_every`."""
    store = _with_long_history(engine)
    # One bucket of `keep_every` spans the whole history: without the newest
    # ones, the final snapshot would be the only one.
    Projector(store, page_size=50, snapshot_every=10, keep_every=10_000).rebuild()
    with engine.connect() as conn:
        steps = sorted(conn.scalars(sa.select(snapshots.snapshots.c.step)))
    assert len(steps) == snapshots.KEEP_LATEST
    assert steps[0] >= steps[-1] - (snapshots.KEEP_LATEST + 1) * 10  # all near the end
    last = max(e.occurred.start for e in store.read_all())
    for days in (1, 5, 20):
        as_of = last - dt.timedelta(days=days)
        assert snapshots.resume(store, as_of) == project(store.read_all(), as_of=as_of)


def test_states_far_apart_thaw_a_second_snapshot_close_ones_fold_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`resume_at` folds on between near moments and thaws again when a snapshot is far ahead."""
    store = _with_long_history(engine)
    Projector(store, page_size=50, snapshot_every=5, keep_every=5).catch_up()
    thawed = []
    real_thaw = snapshots.Snapshot.thaw

    def counting_thaw(snapshot: snapshots.Snapshot) -> tuple[Fold, list[Envelope]]:
        thawed.append(snapshot.cutoff)
        return real_thaw(snapshot)

    monkeypatch.setattr(snapshots.Snapshot, "thaw", counting_thaw)
    starts = sorted(e.occurred.start for e in store.read_all())
    early, late = starts[30], starts[-10]
    for moments, thaws in (([early, late], 2), ([late - dt.timedelta(hours=1), late], 1)):
        thawed.clear()
        expected = [project(store.read_all(), as_of=moment) for moment in moments]
        assert snapshots.resume_at(store, moments) == expected
        assert len(thawed) == thaws
