"""The versioned read models against the pure fold: every question, both backends.

Histories of several dossiers that reuse keys are appended in random
batches, the projector catching up after some of them with a random page
size; then states, diffs and histories read from the tables must equal
what the pure fold (`projections`) gives from the events, for random
valid times, transaction times and filters. The projector must also reach
the same answers incrementally as by a rebuild.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import attrs
import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection, Engine

from events import DossierDeclared, Envelope, Occurred, PositionStated, Source, Stance
from projections import SECTIONS, Filter, History, diff, project, state_to_json
from tests import synthetic
from tests.conftest import database
from tests.strategies import (
    ACTORS,
    DOSSIERS,
    ISSUES,
    archives,
    as_of_points,
    known_at_points,
    split,
)
from tests.tables import visible_rows
from timeline.engine import Timeline
from timeline.readmodels import catalogue, versions
from timeline.readmodels.projector import Projector, checkpoint, read_models, settled
from timeline.readmodels.reader import Reader
from timeline.readmodels.tables import VERSIONS, metadata
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _empty(engine: Engine) -> None:
    """Every table emptied, so one database serves many hypothesis examples."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


class _Clock:
    """The recorded times a history was drawn with, one per append."""

    def __init__(self, times: list[dt.datetime]) -> None:
        self.times = times

    def __call__(self) -> dt.datetime:
        return self.times.pop(0)


def filters() -> st.SearchStrategy[Filter]:
    sections = st.lists(st.sampled_from(list(SECTIONS)), min_size=1, unique=True).map(tuple)
    return st.builds(
        Filter,
        dossier=st.none() | st.sampled_from(DOSSIERS),
        actor=st.none() | st.sampled_from(ACTORS),
        issue=st.none() | st.sampled_from(ISSUES),
        sections=st.just(tuple(SECTIONS)) | sections,
    )


def _fresh(envelope: Envelope) -> Envelope:
    """The envelope as a caller appends it: the store sets the rest."""
    return attrs.evolve(envelope, recorded=None, position=None, version=None)


def _append(store: EventStore, batch: list[Envelope]) -> None:
    by_dossier: dict[str, list[Envelope]] = {}
    for envelope in batch:
        by_dossier.setdefault(envelope.dossier, []).append(_fresh(envelope))
    store.append_batches(by_dossier)


def _stored(
    engine: Engine, data: st.DataObject, cited: st.SearchStrategy[tuple[Source, ...]] | None = None
) -> tuple[EventStore, Projector]:
    """A drawn history appended in drawn batches, the projector catching up now and then
    (each event citing `cited` sources, when given)."""
    _empty(engine)
    history = data.draw(archives(max_size=15))
    if cited is not None:
        history = [attrs.evolve(e, sources=data.draw(cited)) for e in history]
    batches = data.draw(split(history))
    store = EventStore(engine, clock=_Clock([b[-1].recorded for b in batches if b[-1].recorded]))
    projector = Projector(store, page_size=data.draw(st.integers(1, 8)))
    for batch in batches:
        _append(store, batch)
        if data.draw(st.booleans()):
            projector.catch_up()
    projector.catch_up()
    return store, projector


@SETTINGS
@given(data=st.data())
def test_states_and_diffs_equal_the_pure_fold(engine: Engine, data: st.DataObject) -> None:
    """For random valid and transaction times and filters, state and diff read from the
    tables equal the pure fold's."""
    store, _ = _stored(engine, data)
    events = list(store.read_all())
    reader = Reader(store)
    for _ in range(2):
        as_of, known_at, where = (
            data.draw(as_of_points()),
            data.draw(known_at_points()),
            data.draw(filters()),
        )
        assert reader.state(as_of, known_at=known_at, where=where) == project(
            events, as_of=as_of, known_at=known_at, where=where
        )
        first, second = data.draw(as_of_points()), data.draw(as_of_points())
        known_first, known_second = data.draw(known_at_points()), data.draw(known_at_points())
        found = reader.diff(
            first, second, from_known_at=known_first, to_known_at=known_second, where=where
        )
        expected = diff(
            events,
            from_=first,
            to=second,
            from_known_at=known_first,
            to_known_at=known_second,
            where=where,
        )
        assert found == expected


@SETTINGS
@given(data=st.data())
def test_state_documents_equal_the_pure_folds_json(engine: Engine, data: st.DataObject) -> None:
    """The state as JSON written by the database equals the pure fold's state as JSON, for
    random valid and transaction times and filters."""
    store, _ = _stored(engine, data)
    events = list(store.read_all())
    reader = Reader(store)
    for _ in range(2):
        as_of, known_at, where = (
            data.draw(as_of_points()),
            data.draw(known_at_points()),
            data.draw(filters()),
        )
        found = orjson.loads("".join(reader.document(as_of, known_at=known_at, where=where)))
        assert found == state_to_json(project(events, as_of=as_of, known_at=known_at, where=where))


@SETTINGS
@given(data=st.data())
def test_history_holds_the_state_at_every_version(engine: Engine, data: st.DataObject) -> None:
    """Every item's versions read from the tables equal the pure fold's, and each is the
    item in the state read just after it begins."""
    store, _ = _stored(engine, data)
    events = list(store.read_all())
    known_at = data.draw(known_at_points())
    reader = Reader(store)
    pure = History(events, known_at=known_at)
    for section, key in pure.chains:
        versions = reader.history(section, key, known_at=known_at)
        assert versions == pure.versions(section, key)
        for version in versions:
            moment = version.valid_from + dt.timedelta(microseconds=1)
            state = reader.state(moment, known_at=known_at, where=Filter(dossier=key[0]))
            assert version.item in state.section(section)


@SETTINGS
@given(data=st.data())
def test_catching_up_equals_a_rebuild(engine: Engine, data: st.DataObject) -> None:
    """The tables kept incrementally hold every row a rebuild writes that any transaction
    time can see: versions, links and declared names."""
    store, _ = _stored(engine, data)
    before = visible_rows(engine)
    Projector(store, page_size=data.draw(st.integers(1, 50))).rebuild()
    assert visible_rows(engine) == before
    assert Projector(store).catch_up() == 0


_SOURCES = st.builds(
    Source,
    # Publishers beyond what a PostgreSQL index entry holds (2,704 bytes) among them.
    publisher=st.sampled_from(["Reuters", "CNN", "reuters", "Le Monde", "é" * 3_000]),
    published=st.just(dt.date(2023, 1, 25)),
    quote=st.just("as quoted"),
)


@SETTINGS
@given(data=st.data())
def test_the_catalogue_counts_what_the_store_holds(engine: Engine, data: st.DataObject) -> None:
    """The counts the projector keeps page by page (events by type, first and last
    recorded, sources by publisher) equal those counted over the events themselves."""
    store, _ = _stored(engine, data, st.lists(_SOURCES, max_size=3).map(tuple))
    events = list(store.read_all())
    for name in sorted({e.dossier for e in events}):
        held = [e for e in events if e.dossier == name]
        found = catalogue.dossier(store, name)
        assert found is not None
        summary = found.summary
        assert (summary.events, summary.first_recorded, summary.last_recorded) == (
            len(held),
            min(e.recorded for e in held if e.recorded),
            max(e.recorded for e in held if e.recorded),
        )
        assert dict(found.types) == Counter(e.type for e in held)
        assert dict(found.sources) == Counter(s.publisher for e in held for s in e.sources)
    assert [s.dossier for s in catalogue.summaries(store)] == sorted({e.dossier for e in events})


def _stated(key: str, actor: str, day: str, dossier: str = "d") -> Envelope:
    return Envelope.new(
        dossier=dossier,
        key=key,
        occurred=Occurred.parse(day),
        event=PositionStated(actor=actor, issue="i", stance=Stance.SUPPORTIVE),
    )


def test_a_state_document_lists_who_pressed_a_position_in_code_point_order(
    store: EventStore,
) -> None:
    """The database writes `pressed_by` as the fold does: every actor pressing, sorted by
    code point (lower case after upper)."""
    from events import PressureApplied

    pressed = PressureApplied(actors=("USA", "GBR", "alliance"), target="DEU", issue="i")
    store.append(
        "d",
        [
            _stated("a", "DEU", "2023-01-10"),
            Envelope.new(
                dossier="d", key="p", occurred=Occurred.parse("2023-01-12"), event=pressed
            ),
        ],
    )
    Projector(store).catch_up()
    as_of = Occurred.parse("2023-01-31").end
    found = orjson.loads("".join(Reader(store).document(as_of)))
    assert [p["pressed_by"] for p in found["positions"]] == [["GBR", "USA", "alliance"]]
    assert found == state_to_json(project(store.read_all(), as_of=as_of))


def test_versions_are_closed_never_deleted(store: EventStore) -> None:
    """A late fact closes the versions it supersedes and inserts new ones: the rows known
    before it stay, so the state as known then is still there."""
    store.append("d", [_stated("a", "DEU", "2023-01-10"), _stated("b", "DEU", "2023-01-20")])
    projector = Projector(store)
    projector.catch_up()
    with store.engine.connect() as conn:
        before = {r.id: r for r in conn.execute(sa.select(VERSIONS["positions"].table))}
    known = store.clock()
    late = PositionStated(actor="DEU", issue="i", stance=Stance.OPPOSED)
    store.append(
        "d", [Envelope.new(dossier="d", key="c", occurred=Occurred.parse("2023-01-15"), event=late)]
    )
    projector.catch_up()
    with store.engine.connect() as conn:
        after = {r.id: r for r in conn.execute(sa.select(VERSIONS["positions"].table))}
    assert before.keys() < after.keys()
    closed = [after[i] for i in before if after[i].recorded_to is not None]
    assert closed, "the version the late fact superseded is closed"
    assert all(after[i].recorded_from == before[i].recorded_from for i in before)
    reader = Reader(store)
    then = reader.state(Occurred.parse("2023-01-31").end, known_at=known)
    assert [p.stance for p in then.positions] == [Stance.SUPPORTIVE]
    now = reader.state(Occurred.parse("2023-01-17").end)
    assert [p.stance for p in now.positions] == [Stance.OPPOSED]


def test_two_projectors_taking_turns_keep_the_read_models_right(store: EventStore) -> None:
    """A projector whose checkpoint another one moved reloads instead of writing stale rows."""
    first, second = Projector(store, page_size=50), Projector(store, page_size=70)
    for number, batch in enumerate(synthetic.batches(synthetic.history(400, seed=9), 100)):
        store.append_batches(batch)
        (first if number % 2 else second).catch_up()
        if number == 2:
            second.rebuild()
    first.catch_up()
    as_of = Occurred.parse("2021").end
    assert Reader(store).state(as_of) == project(store.read_all(), as_of=as_of)
    with store.engine.connect() as conn:
        assert checkpoint(conn) == store.head()


def test_a_conflict_no_other_projector_caused_is_raised_not_retried(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row conflict while the checkpoint stayed where it was is the projector's own
    fault: it is raised (retrying the page would fail the same way for ever), nothing of
    the page is written, and the next catch-up, the fault gone, projects it."""
    store.append_batches(next(iter(synthetic.batches(synthetic.history(120, seed=4), 120))))
    write = versions.Rewrite.write
    failures = iter([True])

    def conflicting(self: versions.Rewrite, conn: Connection, tables: dict[str, sa.Table]) -> None:
        if next(failures, False):
            raise sa.exc.IntegrityError("INSERT", None, Exception("a conflicting row"))
        write(self, conn, tables)

    monkeypatch.setattr(versions.Rewrite, "write", conflicting)
    projector = Projector(store)
    with pytest.raises(sa.exc.IntegrityError):
        projector.catch_up()
    with store.engine.connect() as conn:
        assert checkpoint(conn) == 0
    assert all(not found for found in read_models(store).values())
    assert projector.catch_up() == store.head()
    as_of = Occurred.parse("2030").end
    assert Reader(store).state(as_of) == project(store.read_all(), as_of=as_of)


def test_a_new_declaration_mid_stream_changes_only_categories(store: EventStore) -> None:
    """A later header that recategorises an item moves its pledges to another total."""
    history = [_fresh(e) for e in synthetic.history(300, seed=7, actors=12, issues=3, items=6)]
    projector = Projector(store, page_size=40)
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
    as_of = Occurred.parse("2021").end
    state = Reader(store).state(as_of)
    assert state == project(store.read_all(), as_of=as_of)
    assert {t.category for t in state.totals} == {"training"}


def test_a_reference_to_an_event_recorded_later_resolves_when_it_comes(store: EventStore) -> None:
    """A decision appended before its request (through the API) applies once the request is."""
    from events import Ask, Decision, RequestDecided, RequestFiled

    decided = Envelope.new(
        dossier="d",
        key="yes",
        occurred=Occurred.parse("2023-01-20"),
        event=RequestDecided(request="ask", decision=Decision.APPROVED, by="DEU"),
    )
    store.append("d", [decided])
    projector = Projector(store)
    projector.catch_up()
    filed = Envelope.new(
        dossier="d",
        key="ask",
        occurred=Occurred.parse("2023-01-10"),
        event=RequestFiled(requester="POL", addressee="DEU", issue="i", ask=Ask.RE_EXPORT),
    )
    store.append("d", [filed])
    projector.catch_up()
    as_of = Occurred.parse("2023-01-31").end
    (request,) = Reader(store).state(as_of).requests
    assert request.status == "approved"
    assert Reader(store).state(as_of) == project(store.read_all(), as_of=as_of)


def test_answers_are_final_only_up_to_what_is_projected(store: EventStore) -> None:
    """`settled` is the transaction time of the last projected event: an event appended
    but not yet projected must not let an answer known after it be cached as final."""
    with store.engine.connect() as conn:
        assert settled(conn) is None
    store.append("d", [_stated("a", "DEU", "2023-01-10")])
    Projector(store).catch_up()
    first = list(store.read_all())[-1].recorded
    store.append("d", [_stated("b", "DEU", "2023-01-20")])
    with store.engine.connect() as conn:
        assert settled(conn) == first
    Projector(store).catch_up()
    with store.engine.connect() as conn:
        assert settled(conn) == list(store.read_all())[-1].recorded


def test_names_a_timeline_knows_follow_what_is_appended(store: EventStore) -> None:
    """The names are kept between reads, and read again once an event is appended."""
    timeline = Timeline(store)
    reads = []
    read_names = timeline.reader.names

    def counted() -> dict[str, set[str]]:
        reads.append(1)
        return read_names()

    timeline.reader.names = counted  # type: ignore[method-assign]
    store.append("d", [_stated("a", "DEU", "2023-01-10")])
    assert timeline.names()["dossier"] == {"d"}
    assert timeline.names()["dossier"] == {"d"}
    assert len(reads) == 1, "read again though nothing was appended"
    store.append("e", [_stated("b", "FRA", "2023-01-10", dossier="e")])
    assert timeline.names()["dossier"] == {"d", "e"}
    assert len(reads) == 2
    assert [p.actor for p in timeline.state("2023-02-01", dossier="e").positions] == ["FRA"]


def _planned_rows(engine: Engine) -> float:
    """What PostgreSQL's statistics say position_versions holds (-1: never analysed)."""
    query = "SELECT reltuples FROM pg_class WHERE oid = 'position_versions'::regclass"
    with engine.connect() as conn:
        return float(conn.execute(sa.text(query)).scalar_one())


@pytest.mark.postgres
def test_a_large_catch_up_leaves_the_planner_statistics(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without statistics (autovacuum off, or not yet round) PostgreSQL plans blind; a
    catch-up of many events refreshes them, one of a few does not."""
    with database("postgresql", tmp_path_factory) as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        store = EventStore(engine)
        store.append_batches({"d": [_stated(f"s{i}", f"A{i}", "2023-01-20") for i in range(5)]})
        monkeypatch.setattr("timeline.readmodels.projector.ANALYZE_AFTER", 10)
        assert Projector(store).catch_up() == 5
        assert _planned_rows(engine) == -1
        store.append_batches({"d": [_stated(f"t{i}", f"B{i}", "2023-01-21") for i in range(10)]})
        assert Projector(store).catch_up() == 10
        assert _planned_rows(engine) == 15
        engine.dispose()


def test_a_large_catch_up_leaves_sqlites_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite plans by guesses until ANALYZE: a catch-up of many events leaves statistics
    of the version tables, one of a few does not."""
    engine = create_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    migrate.upgrade(engine)
    store = EventStore(engine)

    def analysed() -> int:
        query = "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'"
        with store.engine.connect() as conn:
            if not conn.exec_driver_sql(query).scalar():
                return 0
            found = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'position_versions'"
            return int(conn.exec_driver_sql(found).scalar() or 0)

    store.append_batches({"d": [_stated(f"s{i}", f"A{i}", "2023-01-20") for i in range(5)]})
    monkeypatch.setattr("timeline.readmodels.projector.ANALYZE_AFTER", 10)
    assert Projector(store).catch_up() == 5
    assert analysed() == 0
    store.append_batches({"d": [_stated(f"t{i}", f"B{i}", "2023-01-21") for i in range(10)]})
    assert Projector(store).catch_up() == 10
    assert analysed() > 0
    engine.dispose()
