"""The event store's contract, written once and run on SQLite and PostgreSQL.

Every test takes the `store` or `engine` fixture, which conftest parametrizes
over both backends, so a behaviour that holds on one and not the other shows
up as one failing variant.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from events import (
    REGISTRY,
    Ask,
    CoalitionFormed,
    Condition,
    ConsultationHeld,
    Decision,
    DeliveryReported,
    DossierDeclared,
    Envelope,
    Event,
    EventCorrected,
    EventRetracted,
    InvalidEvent,
    Occurred,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    Quantity,
    RequestDecided,
    RequestFiled,
    Source,
    Stance,
    StatementIssued,
    ThreatIssued,
    TimelineError,
    Tone,
)
from timeline.errors import ConcurrencyError, DuplicateEvent, SchemaNotReady
from timeline.readmodels.projector import Projector
from timeline.store import EventStore, migrate, rows
from timeline.store import event_store as store_module
from timeline.store.database import create_engine
from timeline.store.schema import events as events_table

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
SOURCE = Source(
    publisher="Reuters",
    published=dt.date(2023, 1, 25),
    quote="Germany will send Leopard 2 tanks",
    title="Germany to send tanks",
    url="https://example.org/tanks",
)


# ---------------------------------------------------------------- helpers


def every_event() -> list[tuple[str, Event]]:
    """One event of every registered type, every optional field filled: (occurred, event)."""
    return [
        ("2023-01", PressureApplied(actors=("POL", "GBR"), target="DEU", issue="mbt", note="n")),
        (
            "2023-01-24",
            RequestFiled(
                requester="POL",
                addressee="DEU",
                issue="mbt",
                ask=Ask.RE_EXPORT,
                item="leopard-2a4",
                quantity=Quantity(10, 14),
                note="formal request",
            ),
        ),
        (
            "2023-01-25T16:12:00-05:00",
            RequestDecided(request="pol-asks", decision=Decision.APPROVED, by="DEU", note="ok"),
        ),
        (
            "2023-W03",
            PositionStated(
                actor="DEU",
                issue="mbt",
                stance=Stance.CONDITIONAL,
                condition=Condition(actor="USA", item="m1-abrams"),
                note="only with Abrams",
            ),
        ),
        (
            "2023-01-25",
            PledgeAnnounced(
                donor="USA",
                recipient="UKR",
                issue="mbt",
                item="m1-abrams",
                quantity=Quantity(31, 31),
                total=Quantity(0, 39),
                eta=Occurred.parse("2023-08-01/2023-08-17"),
                conditions=("training first", "spare parts"),
                note="31 tanks",
            ),
        ),
        ("2023-01-14", PrecedentSet(actor="GBR", issue="mbt", threshold="first MBT", by="gbr")),
        ("2023-01-24", ConsultationHeld(participants=("USA", "DEU", "GBR"), issue="mbt", note="c")),
        (
            "2023-01-25",
            StatementIssued(actor="NATO", issue="mbt", tone=Tone.SUPPORTIVE, summary="welcome"),
        ),
        ("2023", ThreatIssued(actor="RUS", target="DEU", issue="mbt", summary="consequences")),
        (
            "2023-02",
            CoalitionFormed(
                coalition="TANKS", members=("DEU", "POL", "NOR"), leads=("DEU",), issue="mbt"
            ),
        ),
        (
            "2023-03-27",
            DeliveryReported(
                donor="GBR",
                recipient="UKR",
                item="challenger-2",
                quantity=Quantity(14, 14),
                total=Quantity(14, 14),
                note="arrived",
            ),
        ),
        (
            "2023-01-26",
            EventCorrected.of("usa-pledge", {"occurred": "2023-01-25", "quantity": 31}),
        ),
        ("2023-01-27", EventRetracted(retracts="rumour", reason="never happened")),
        (
            "2023-01-01",
            DossierDeclared(
                title="Tanks",
                actors=(("NATO", "North Atlantic Treaty Organization"),),
                items=(("leopard-2a6", "Leopard 2A6", "main-battle-tank"),),
                issues=(("mbt", "Main battle tanks"),),
            ),
        ),
    ]


_counter = itertools.count()


def new(
    dossier: str = "d",
    key: str | None = None,
    *,
    occurred: str = "2023-01-25",
    event: Event | None = None,
    id: uuid.UUID | None = None,
) -> Envelope:
    """A fresh unstored envelope; unique key unless one is given."""
    return Envelope.new(
        dossier=dossier,
        key=key or f"e{next(_counter)}",
        occurred=Occurred.parse(occurred),
        event=event or StatementIssued(actor="DEU", tone=Tone.NEUTRAL, summary="s"),
        sources=(SOURCE,),
        id=id,
    )


def unstored(envelope: Envelope) -> Envelope:
    """The envelope as the caller gave it, without what the store added."""
    return attrs.evolve(envelope, recorded=None, position=None, version=None)


def backwards_clock(start: dt.datetime = T0) -> Callable[[], dt.datetime]:
    """A clock that goes back one hour every time it is read."""
    ticks = itertools.count()
    return lambda: start - dt.timedelta(hours=next(ticks))


def clock_of(times: list[dt.datetime]) -> Callable[[], dt.datetime]:
    """A clock reading `times` in order, then staying at the last."""
    remaining = iter(times)
    last = [times[0]]

    def now() -> dt.datetime:
        last[0] = next(remaining, last[0])
        return last[0]

    return now


def everything(store: EventStore) -> list[Envelope]:
    return list(store.read_all())


# ---------------------------------------------------------------- positions, versions, recorded


def test_positions_are_one_to_n_without_gaps(store: EventStore) -> None:
    """Positions are assigned 1..n in append order across batches and dossiers."""
    stored = store.append("a", [new("a"), new("a")])
    stored += store.append("b", [new("b")])
    stored += store.append("a", [new("a"), new("a"), new("a")])
    assert [e.position for e in stored] == [1, 2, 3, 4, 5, 6]
    assert [e.position for e in everything(store)] == [1, 2, 3, 4, 5, 6]
    assert store.head() == 6


def test_versions_count_per_dossier(store: EventStore) -> None:
    """Each dossier's versions run 1..n independently of interleaved dossiers."""
    store.append("a", [new("a"), new("a")])
    store.append("b", [new("b")])
    store.append("a", [new("a")])
    store.append("b", [new("b"), new("b")])
    assert [e.version for e in store.read_dossier("a")] == [1, 2, 3]
    assert [e.version for e in store.read_dossier("b")] == [1, 2, 3]
    assert (store.version("a"), store.version("b"), store.version("nobody")) == (3, 3, 0)
    assert store.dossiers() == ["a", "b"]


def test_recorded_is_set_and_never_decreases(engine: Engine) -> None:
    """`recorded` is set by the store, aware UTC, and never goes back when the clock does."""
    store = EventStore(engine, clock=backwards_clock())
    for size in (2, 1, 3):
        store.append("d", [new() for _ in range(size)])
    recorded = [e.recorded for e in everything(store)]
    assert all(r is not None and r.utcoffset() == dt.timedelta(0) for r in recorded)
    assert recorded == sorted(recorded)  # type: ignore[type-var]
    assert recorded[0] == T0
    assert recorded[-1] == T0


def test_recorded_follows_a_forward_clock_and_is_shared_by_a_batch(engine: Engine) -> None:
    """A batch shares one recorded time, the clock's, and later batches get later times."""
    later = T0 + dt.timedelta(minutes=5)
    store = EventStore(engine, clock=clock_of([T0, later]))
    first = store.append("d", [new(), new()])
    second = store.append("d", [new()])
    assert [e.recorded for e in first] == [T0, T0]
    assert [e.recorded for e in second] == [later]
    assert [e.recorded for e in everything(store)] == [T0, T0, later]


def test_store_fields_given_by_the_caller_are_ignored(store: EventStore) -> None:
    """Position, version and recorded passed in by a caller are replaced by the store's."""
    store.append("d", [new()])
    forged = attrs.evolve(
        new(), position=99, version=42, recorded=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    (stored,) = store.append("d", [forged])
    assert (stored.position, stored.version) == (2, 2)
    assert stored.recorded is not None
    assert stored.recorded.year > 2000
    assert store.find("d", [forged.key])[forged.key] == stored


# ---------------------------------------------------------------- optimistic concurrency


def test_expected_version_matching_appends(store: EventStore) -> None:
    """The right expected_version (0 for a new dossier) lets the append through."""
    store.append("d", [new()], expected_version=0)
    store.append("d", [new(), new()], expected_version=1)
    assert store.version("d") == 3


def test_expected_version_conflict_raises_and_writes_nothing(store: EventStore) -> None:
    """A stale expected_version raises ConcurrencyError naming dossier/expected/actual."""
    store.append("ukraine-mbt", [new("ukraine-mbt"), new("ukraine-mbt")])
    late = new("ukraine-mbt")
    with pytest.raises(ConcurrencyError) as caught:
        store.append("ukraine-mbt", [late], expected_version=1)
    err = caught.value
    assert (err.dossier, err.expected, err.actual) == ("ukraine-mbt", 1, 2)
    assert isinstance(err, TimelineError)
    assert "'ukraine-mbt'" in str(err)
    assert "version 2" in str(err)
    assert "expected 1" in str(err)
    assert store.head() == 2
    assert store.find("ukraine-mbt", [late.key]) == {}


def test_expected_version_zero_on_an_existing_dossier_conflicts(store: EventStore) -> None:
    """Claiming a dossier is new when it is not raises with actual = its version."""
    store.append("d", [new()])
    with pytest.raises(ConcurrencyError) as caught:
        store.append("d", [new()], expected_version=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert store.head() == 1


# ---------------------------------------------------------------- idempotence and duplicates


def test_reappending_identical_events_is_a_no_op(store: EventStore) -> None:
    """Appending the same envelopes again returns () and stores nothing more."""
    batch = [new(), new()]
    first = store.append("d", batch)
    assert store.append("d", batch) == ()
    assert store.append("d", list(first)) == ()  # as stored, with store fields
    assert everything(store) == list(first)


@pytest.mark.parametrize("size", [1, rows.COPY_FROM + 1], ids=["inserted", "copied"])
def test_reappend_mixed_with_new_appends_only_the_new(store: EventStore, size: int) -> None:
    """A batch of stored and new events appends the new ones only, at the next positions.

    On PostgreSQL a batch this large goes in by COPY: the clash undoes it too.
    """
    (old,) = store.append("d", [new()])
    fresh = [new() for _ in range(size)]
    stored = store.append("d", [unstored(old), *fresh])
    expected = [(e.key, n, n) for n, e in enumerate(fresh, start=2)]
    assert [(e.key, e.position, e.version) for e in stored] == expected


def test_the_same_envelope_twice_in_a_batch_is_stored_once(store: EventStore) -> None:
    """An identical envelope repeated within one batch is appended once."""
    envelope = new()
    stored = store.append("d", [envelope, envelope])
    assert len(stored) == 1
    assert store.head() == 1


def test_same_id_with_different_content_is_refused(store: EventStore) -> None:
    """An id already stored with other content raises DuplicateEvent and writes nothing."""
    (stored,) = store.append("d", [new(key="pledge")])
    changed = attrs.evolve(unstored(stored), occurred=Occurred.parse("2023-01-26"))
    with pytest.raises(DuplicateEvent) as caught:
        store.append("d", [changed, new()])
    assert caught.value.id == stored.id
    assert caught.value.key == "pledge"
    assert "event.corrected" in str(caught.value)
    assert everything(store) == [stored]


def test_same_id_in_another_dossier_is_refused(store: EventStore) -> None:
    """An id is global: reusing it for an event of another dossier is a DuplicateEvent."""
    (stored,) = store.append("a", [new("a")])
    with pytest.raises(DuplicateEvent):
        store.append("b", [new("b", key=stored.key, id=stored.id)])
    assert store.head() == 1


def test_same_key_with_a_different_id_is_refused(store: EventStore) -> None:
    """A key already naming another stored event raises DuplicateEvent and writes nothing."""
    (stored,) = store.append("d", [new(key="deu-pledge")])
    other = new(key="deu-pledge", id=uuid.uuid4())
    with pytest.raises(DuplicateEvent) as caught:
        store.append("d", [other])
    assert (caught.value.key, caught.value.id) == ("deu-pledge", other.id)
    assert everything(store) == [stored]


def test_the_same_key_in_two_dossiers_is_fine(store: EventStore) -> None:
    """Keys are unique within a dossier only."""
    store.append("a", [new("a", key="k")])
    store.append("b", [new("b", key="k")])
    assert set(store.find("a", ["k"])) == {"k"}
    assert store.find("b", ["k"])["k"].dossier == "b"


def test_a_batch_with_two_events_of_one_key_is_refused(store: EventStore) -> None:
    """Two different ids under one key within a batch raise DuplicateEvent, nothing written."""
    with pytest.raises(DuplicateEvent):
        store.append("d", [new(key="k"), new(key="k", id=uuid.uuid4())])
    assert store.head() == 0


def test_a_batch_with_two_contents_for_one_id_is_refused(store: EventStore) -> None:
    """Two different events with one id within a batch raise DuplicateEvent, nothing written."""
    first = new(key="k")
    second = attrs.evolve(first, occurred=Occurred.parse("2023"))
    with pytest.raises(DuplicateEvent):
        store.append("d", [first, second])
    assert store.head() == 0


def test_a_key_too_long_for_the_column_is_refused_alike(store: EventStore) -> None:
    """A key longer than the schema allows raises InvalidEvent on every backend, writing nothing."""
    with pytest.raises(InvalidEvent):
        store.append("d", [new(key="k" * 201)])
    assert store.head() == 0


@pytest.mark.parametrize("field", ["key", "dossier"])
def test_a_nul_character_in_a_name_is_refused_alike(store: EventStore, field: str) -> None:
    """PostgreSQL stores no NUL in text: a name holding one is refused on every backend."""
    envelope = new("d\x00d", "k") if field == "dossier" else new("d", "k\x00k")
    with pytest.raises(InvalidEvent) as caught:
        store.append(envelope.dossier, [envelope])
    assert caught.value.path == field
    assert "NUL" in caught.value.expected
    assert store.head() == 0


# ---------------------------------------------------------------- atomic batches


def test_append_batches_writes_several_dossiers_in_one_transaction(engine: Engine) -> None:
    """append_batches stores every dossier's batch, consecutive positions, one recorded time."""
    store = EventStore(engine, clock=lambda: T0)
    stored = store.append_batches({"a": [new("a"), new("a")], "b": [new("b")]}, {"a": 0, "b": 0})
    assert [(e.dossier, e.position, e.version) for e in stored] == [
        ("a", 1, 1),
        ("a", 2, 2),
        ("b", 3, 1),
    ]
    assert {e.recorded for e in everything(store)} == {T0}


def test_append_batches_duplicate_in_second_dossier_leaves_first_unwritten(
    store: EventStore,
) -> None:
    """A DuplicateEvent in the second dossier's batch leaves the first dossier's unwritten."""
    store.append("b", [new("b", key="taken")])
    first = [new("a"), new("a")]
    with pytest.raises(DuplicateEvent):
        store.append_batches({"a": first, "b": [new("b", key="taken", id=uuid.uuid4())]})
    assert list(store.read_dossier("a")) == []
    assert store.find("a", [e.key for e in first]) == {}
    assert store.head() == 1


def test_append_batches_conflict_in_second_dossier_leaves_first_unwritten(
    store: EventStore,
) -> None:
    """A ConcurrencyError on the second dossier leaves the first dossier's batch unwritten."""
    store.append("b", [new("b")])
    with pytest.raises(ConcurrencyError) as caught:
        store.append_batches({"a": [new("a")], "b": [new("b")]}, {"a": 0, "b": 0})
    assert caught.value.dossier == "b"
    assert list(store.read_dossier("a")) == []
    assert store.version("a") == 0
    assert store.head() == 1


@pytest.mark.parametrize("size", [1, rows.COPY_FROM + 1], ids=["one row", "copied rows"])
def test_a_failure_while_inserting_rolls_everything_back(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """An error raised mid-append, after the rows are in, leaves no row and no used position."""

    class Boom(Exception):
        pass

    def insert_then_fail(conn: Any, encoded: Any, then: Any = ()) -> None:
        real_insert(conn, encoded)  # not `then`: on PostgreSQL it holds the commit
        raise Boom

    real_insert = rows.insert
    monkeypatch.setattr(rows, "insert", insert_then_fail)
    with pytest.raises(Boom):
        store.append_batches({"a": [new("a")], "b": [new("b") for _ in range(size)]})
    monkeypatch.undo()
    assert store.head() == 0
    (next_one,) = store.append("a", [new("a")])
    assert (next_one.position, next_one.version) == (1, 1)


def test_large_appends_pause_the_collector_and_restore_it(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From `PAUSE_FROM` new events the insert runs with the collector paused;
    after it, succeeded or failed, the collector is on again."""
    paused: list[bool] = []

    @contextlib.contextmanager
    def recorded() -> Any:
        with real():
            paused.append(not gc.isenabled())
            yield

    real = store_module.collector_paused
    monkeypatch.setattr(store_module, "collector_paused", recorded)
    was = gc.isenabled()
    gc.enable()
    try:
        store.append("d", [new()])
        store.append("d", [new() for _ in range(store_module.PAUSE_FROM)])
        assert paused == [True]
        assert gc.isenabled()
        # The optimistic insert clashes on a stored key, inside the pause.
        other = new(key="e-taken", id=uuid.uuid4())  # the key of a stored event, a new id
        clash = [new() for _ in range(store_module.PAUSE_FROM - 1)] + [other]
        store.append("d", [new(key="e-taken")])
        with pytest.raises(DuplicateEvent):
            store.append("d", clash)
        assert paused == [True, True]
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_a_failed_append_holds_no_lock_and_leaves_no_transaction(store: EventStore) -> None:
    """After an append fails between its round trips, no session holds the write
    lock and the pooled connection is back as it was: idle, not in autocommit."""
    store.append("d", [new()])
    with pytest.raises(ConcurrencyError):
        store.append("d", [new()], expected_version=0)
    with store.engine.connect() as conn:
        driver = conn.connection.driver_connection
        if store.engine.dialect.name == "postgresql":
            assert driver.autocommit is False
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            held = sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'relation'"
                " AND relation = 'events'::regclass AND mode = 'ExclusiveLock'"
            )
            assert conn.execute(held).scalar() == 0
        else:
            assert not driver.in_transaction
    (next_one,) = store.append("d", [new()])
    assert next_one.version == 2


def test_one_append_may_hold_more_dossiers_than_a_result_has_columns(store: EventStore) -> None:
    """2,100 dossiers in one batch: more than PostgreSQL's 1,664 result columns."""
    names = [f"d{n:04d}" for n in range(2_100)]
    store.append_batches({name: [new(name)] for name in names})
    store.append_batches({name: [new(name)] for name in names[-2:]}, {names[-1]: 1})
    assert [store.version(name) for name in (names[0], names[-2], names[-1])] == [1, 2, 2]
    assert store.head() == 2_102


def test_an_envelope_of_another_dossier_invalidates_the_batch(store: EventStore) -> None:
    """A batch holding an envelope whose dossier differs raises InvalidEvent; nothing is written."""
    with pytest.raises(InvalidEvent) as caught:
        store.append_batches({"a": [new("a")], "b": [new("b"), new("a", key="stray")]})
    assert caught.value.path == "dossier"
    assert caught.value.key == "stray"
    assert store.head() == 0


# ---------------------------------------------------------------- reads


def test_read_dossier_from_a_version(engine: Engine) -> None:
    """read_dossier yields the dossier's events from a version on, across page boundaries."""
    store = EventStore(engine, page_size=2)
    for _ in range(3):
        store.append("a", [new("a")])
        store.append("b", [new("b")])
    keys = [e.key for e in store.read_dossier("a")]
    assert len(keys) == 3
    assert [e.key for e in store.read_dossier("a", from_version=2)] == keys[1:]
    assert [e.version for e in store.read_dossier("a", from_version=3)] == [3]
    assert list(store.read_dossier("a", from_version=4)) == []
    assert list(store.read_dossier("missing")) == []


@pytest.mark.parametrize("after", [0, 1, 2, 3, 5, 6, 9, 10, 11])
def test_read_all_after_a_position_pages_through_everything(engine: Engine, after: int) -> None:
    """read_all(after=p) with page_size=3 yields positions p+1..10 exactly once, in order."""
    store = EventStore(engine, page_size=3)
    store.append("a", [new("a") for _ in range(4)])
    store.append("b", [new("b") for _ in range(6)])
    read = list(store.read_all(after=after))
    assert [e.position for e in read] == list(range(after + 1, 11))
    assert len({e.id for e in read}) == len(read)


def test_read_all_filters_by_dossier_and_types_while_paging(engine: Engine) -> None:
    """The dossier and types filters keep only matching events, in position order, across pages."""
    store = EventStore(engine, page_size=3)
    pressed = PressureApplied(actors=("POL",), target="DEU", issue="mbt")
    for i in range(10):
        dossier = "a" if i % 2 else "b"
        store.append(dossier, [new(dossier, event=pressed if i % 3 == 0 else None)])
    every = everything(store)
    in_a = list(store.read_all(dossier="a"))
    assert in_a == [e for e in every if e.dossier == "a"]
    assert len(in_a) == 5
    pressure = list(store.read_all(types=["pressure.applied"]))
    assert pressure == [e for e in every if e.type == "pressure.applied"]
    assert len(pressure) == 4
    both = list(store.read_all(after=3, dossier="b", types=["pressure.applied"]))
    assert both == [
        e for e in pressure if e.dossier == "b" and e.position is not None and e.position > 3
    ]
    assert both
    assert list(store.read_all(types=[])) == []


def test_read_all_recorded_before_is_strict(engine: Engine) -> None:
    """recorded_before keeps the events the store knew strictly before that time."""
    t1, t2, t3 = (T0 + dt.timedelta(hours=h) for h in (1, 2, 3))
    store = EventStore(engine, clock=clock_of([t1, t2, t3]))
    batches = [store.append("d", [new(), new()]) for _ in range(3)]
    assert list(store.read_all(recorded_before=t2)) == list(batches[0])
    assert list(store.read_all(recorded_before=t2 + dt.timedelta(microseconds=1))) == list(
        batches[0] + batches[1]
    )
    assert list(store.read_all(recorded_before=t1)) == []


WINDOW_EVENTS = {
    "year-2022": "2022",
    "month-jan": "2023-01",
    "week-03": "2023-W03",
    "day-20": "2023-01-20",
    "span-1-24": "2023-01-01/2023-01-24",
    "instant-25": "2023-01-25T16:12:00-05:00",
    "day-23": "2023-01-23",
}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Inside the week: everything whose interval covers Jan 20.
        ("2023-01-20", "2023-01-21", {"month-jan", "week-03", "day-20", "span-1-24"}),
        # W03 is [Jan 16, Jan 23): it ends where this window starts.
        ("2023-01-23", "2023-01-24", {"month-jan", "span-1-24", "day-23"}),
        # The window's end is exclusive: W03 starts on Jan 16 and is not in.
        ("2023-01-10", "2023-01-16", {"month-jan", "span-1-24"}),
        # The span's last day is Jan 24 inclusive, so it reaches into Jan 24.
        ("2023-01-24", "2023-01-25", {"month-jan", "span-1-24"}),
        # The instant is 21:12 UTC on Jan 25.
        ("2023-01-25T21:00:00Z", "2023-01-25T21:13:00Z", {"month-jan", "instant-25"}),
        ("2023-01-25T21:12:00.000001Z", "2023-01-26", {"month-jan"}),
        ("2022-12-31T23:59:59Z", "2023-01-01", {"year-2022"}),
        ("2023-02-01", "2023-03-01", set()),
    ],
)
def test_read_window_overlaps_imprecise_intervals(
    store: EventStore, start: str, end: str, expected: set[str]
) -> None:
    """read_window keeps events whose [start, end) interval overlaps the window, in order."""
    store.append("d", [new(key=k, occurred=o) for k, o in WINDOW_EVENTS.items()])
    store.append("other", [new("other", key="elsewhere", occurred="2023-01")])
    window_start, window_end = Occurred.parse(start).start, Occurred.parse(end).start
    found = list(store.read_window(window_start, window_end, dossier="d"))
    assert {e.key for e in found} == expected
    assert [e.position for e in found] == sorted(e.position or 0 for e in found)
    unfiltered = {e.key for e in store.read_window(window_start, window_end)}
    assert unfiltered - expected <= {"elsewhere"}


def test_find_by_key_and_by_id(store: EventStore) -> None:
    """find() returns stored events of the dossier named by key or by id, omitting unknown names."""
    a1, a2 = store.append("a", [new("a", key="one"), new("a", key="two")])
    (b1,) = store.append("b", [new("b", key="three")])
    found = store.find("a", ["one", str(a2.id), "missing", str(uuid.uuid4()), "three", str(b1.id)])
    assert found == {"one": a1, str(a2.id): a2}
    assert store.find("a", []) == {}


def test_find_by_id_accepts_any_spelling_of_the_uuid(store: EventStore) -> None:
    """An id given in upper case still finds the event, under the name it was asked by."""
    (stored,) = store.append("a", [new("a")])
    name = str(stored.id).upper()
    assert store.find("a", [name]) == {name: stored}


# ---------------------------------------------------------------- schema readiness


def test_a_database_without_schema_is_refused(fresh_url: str) -> None:
    """A store on a database never initialised raises SchemaNotReady telling to run init."""
    engine = create_engine(fresh_url)
    try:
        with pytest.raises(SchemaNotReady) as caught:
            EventStore(engine)
        assert "timeline init" in str(caught.value)
        assert caught.value.current is None
        assert caught.value.head == migrate.head_revision()
    finally:
        engine.dispose()


def test_a_database_behind_head_is_refused(engine: Engine) -> None:
    """A database downgraded below head is refused until it is upgraded again."""
    migrate.downgrade(engine, "base")
    with pytest.raises(SchemaNotReady) as caught:
        EventStore(engine)
    assert "timeline init" in str(caught.value)
    migrate.upgrade(engine)
    assert EventStore(engine).head() == 0


# ---------------------------------------------------------------- round trips


def test_every_event_type_round_trips_through_the_store(store: EventStore) -> None:
    """Each registered event type reads back equal to the envelope appended."""
    samples = every_event()
    assert {event.type for _, event in samples} == set(REGISTRY)
    given = [
        new(key=f"k-{event.type}", occurred=occurred, event=event) for occurred, event in samples
    ]
    given[0] = attrs.evolve(given[0], sources=(SOURCE, attrs.evolve(SOURCE, title=None, url=None)))
    given[1] = attrs.evolve(given[1], sources=())
    stored = store.append("d", given)
    assert [unstored(e) for e in stored] == given
    read = everything(store)
    assert read == list(stored)
    assert [unstored(e) for e in read] == given
    assert all(type(e.event) is type(g.event) for e, g in zip(read, given, strict=True))
    by_key = store.find("d", [g.key for g in given])
    assert [by_key[g.key] for g in given] == list(stored)


def test_minimal_events_round_trip_with_absent_optionals(store: EventStore) -> None:
    """Events with every optional field left out come back with those fields absent."""
    given = [
        new(event=RequestFiled(requester="POL", addressee="allies", issue="i", ask=Ask.OTHER)),
        new(event=PledgeAnnounced(donor="GBR", recipient="UKR", issue="i", item="c2")),
        new(event=PositionStated(actor="USA", issue="i", stance=Stance.RELUCTANT)),
        new(event=ConsultationHeld(participants=("USA",))),
    ]
    store.append("d", given)
    assert [unstored(e) for e in everything(store)] == given


def _insert_raw(engine: Engine, **values: Any) -> None:
    row = {
        "position": 1,
        "id": uuid.uuid4(),
        "dossier": "d",
        "key": "old-pressure",
        "version": 1,
        "type": "pressure.applied",
        "schema_version": 1,
        "occurred_start": dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        "occurred_end": dt.datetime(2023, 2, 1, tzinfo=dt.UTC),
        "occurred_precision": "month",
        "recorded": T0,
        "payload": {"actor": "POL", "target": "DEU", "issue": "x"},
        "sources": [],
    } | values
    with engine.begin() as conn:
        conn.execute(sa.insert(events_table), [row])


def test_a_stored_version_1_payload_is_read_as_version_2(store: EventStore) -> None:
    """A raw v1 `pressure.applied` row with one `actor` reads back as v2 with `actors`."""
    _insert_raw(store.engine)
    (read,) = everything(store)
    assert read.event == PressureApplied(actors=("POL",), target="DEU", issue="x")
    assert read.schema_version == 2
    assert read.occurred == Occurred.parse("2023-01")
    assert (read.position, read.version, read.recorded) == (1, 1, T0)
    assert list(store.read_dossier("d")) == [read]
    assert store.find("d", ["old-pressure"]) == {"old-pressure": read}


def test_an_upcast_event_counts_as_identical_when_reappended(store: EventStore) -> None:
    """Re-appending the v2 form of a stored v1 event is a no-op, not a duplicate."""
    _insert_raw(store.engine)
    (read,) = everything(store)
    assert store.append("d", [unstored(read)]) == ()
    (after,) = store.append("d", [new()])
    assert (after.position, after.version) == (2, 2)


def _by_start(envelopes: list[Envelope]) -> list[Envelope]:
    return sorted(envelopes, key=lambda e: (e.occurred.start, e.position))


WHEN = ["2023-01-03", "2023-01", "2023-01-03T10:00:00Z", "2022", "2023-01-02", "2023-W01"]


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, None), ("2023-01-01", None), (None, "2023-01-03"), ("2023-01-02", "2023-01-04")],
)
def test_read_started_pages_through_a_window_by_start(
    engine: Engine, start: str | None, end: str | None
) -> None:
    """Across pages of 3, ties of one start included: each event once, by (start,
    position), of the types asked for, up to the position asked for."""
    store = EventStore(engine, page_size=3)
    pressed = PressureApplied(actors=("POL",), target="DEU", issue="mbt")
    store.append(
        "d",
        [new(occurred=WHEN[n % len(WHEN)], event=pressed if n % 3 else None) for n in range(20)],
    )
    low, high = (None if t is None else Occurred.parse(t).start for t in (start, end))

    def inside(e: Envelope) -> bool:
        moment = e.occurred.start
        return (low is None or moment >= low) and (high is None or moment < high)

    expected = _by_start([e for e in everything(store) if inside(e)])
    without_sources = [attrs.evolve(e, sources=()) for e in expected]
    assert list(store.read_started(low, high)) == expected
    assert list(store.read_started(low, high, sources=False)) == without_sources
    pressure = [e for e in expected if e.type == "pressure.applied"]
    assert list(store.read_started(low, high, types=["pressure.applied"])) == pressure
    assert list(store.read_started(low, high, types=[])) == []
    early = [e for e in expected if (e.position or 0) <= 7]
    assert list(store.read_started(low, high, through=7)) == early
    assert pressure != expected
    assert early != expected


def test_a_naive_time_is_refused_by_every_read(store: EventStore) -> None:
    naive = dt.datetime(2023, 1, 1)
    reads = [
        store.read_started(naive, None),
        store.read_started(None, naive),
        store.read_all(occurred_from=naive),
        store.read_all(occurred_to=naive),
        store.read_all(recorded_before=naive),
    ]
    for read in reads:
        with pytest.raises(ValueError, match="naive datetime"):
            next(read)


@pytest.mark.parametrize("size", [0, -1])
def test_a_page_size_below_one_is_refused(engine: Engine, size: int) -> None:
    with pytest.raises(ValueError, match="page_size must be at least 1"):
        EventStore(engine, page_size=size)
    with pytest.raises(ValueError, match="page_size must be at least 1"):
        Projector(EventStore(engine), page_size=size)


def test_a_reader_that_stops_early_leaves_no_fetch_running(engine: Engine) -> None:
    """Closing a paged read mid-way waits for the page it was fetching ahead, and
    leaves no thread behind."""
    store = EventStore(engine, page_size=2)
    store.append("d", [new(occurred=WHEN[n % len(WHEN)]) for n in range(10)])
    before = set(threading.enumerate())
    reader = store.read_started(None, None)
    assert len([next(reader) for _ in range(3)]) == 3
    reader.close()
    assert set(threading.enumerate()) <= before


def test_a_paged_read_leaves_no_transaction_open(engine: Engine) -> None:
    """However a read by valid time ends, no page's transaction stays open to
    hold a lock (PostgreSQL) or a snapshot that stops checkpoints (SQLite)."""
    store = EventStore(engine, page_size=2)
    store.append("d", [new(occurred=WHEN[n % len(WHEN)]) for n in range(10)])
    assert len(list(store.read_started(None, None))) == 10
    reader = store.read_started(None, None)
    next(reader)
    reader.close()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            held = sa.text(
                "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass"
                " AND pid <> pg_backend_pid()"
            )
            assert conn.execute(held).scalar() == 0
        else:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            assert busy == 0


def test_a_failing_page_fetch_surfaces_to_the_reader(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while fetching a later page is the reader's, not lost on a thread."""
    store = EventStore(engine, page_size=2)
    store.append("d", [new(occurred=WHEN[n % len(WHEN)]) for n in range(6)])
    reader = store.read_started(None, None)
    first = next(reader)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Should a page's transaction stay open, fail here, not hang.
            conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(sa.text("ALTER TABLE events RENAME TO events_gone"))
    with pytest.raises(sa.exc.DBAPIError):
        list(reader)
    assert first.position is not None


def test_a_page_by_valid_time_starts_where_the_last_one_ended(tmp_path: Path) -> None:
    """Each page of `read_started` costs its own rows, not the rows before it.

    Counted in SQLite virtual-machine steps, which do not depend on the
    machine's speed: the last page of a window must cost about what the
    first does. PostgreSQL has no such count to read (it seeks on the tuple
    itself: `EXPLAIN` shows it).
    """
    engine = create_engine(f"sqlite:///{tmp_path / 'pages.db'}")
    migrate.upgrade(engine)
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0  # go on

    @sa.event.listens_for(engine, "connect")
    def _count(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_progress_handler(step, 100)

    engine.dispose()  # so that every connection from here counts
    store = EventStore(engine, page_size=10)
    days = [dt.date(2023, 1, 1) + dt.timedelta(days=n) for n in range(400)]
    store.append("d", [new(occurred=day.isoformat()) for day in days])
    at_page: list[int] = []
    read = 0
    for read, _ in enumerate(store.read_started(T0 - dt.timedelta(days=1000), None), start=1):
        if read % 10 == 1:
            at_page.append(steps[0])
    engine.dispose()
    assert read == 400
    costs = [later - earlier for earlier, later in itertools.pairwise(at_page)]
    assert max(costs) < 3 * min(costs), costs
