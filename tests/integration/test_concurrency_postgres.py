"""Concurrent writers on PostgreSQL: no lost, duplicated or skipped event.

Writers are separate processes (the "spawn" context, each with its own
engine), so they race through real connections exactly as deployed
writers would. The main process plays the follower a projector would be,
tailing `read_all(after=last_seen)` while they write.

The timeouts below only keep a broken run from hanging forever; nothing here
asserts how fast anything is.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.synchronize
import queue
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from events import Envelope, Occurred, StatementIssued, Tone
from events.codec import event_to_dict
from tests.conftest import PG_URL, require_postgres
from timeline.errors import ConcurrencyError
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine
from timeline.store.schema import events as events_table

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS = 4
BATCHES = 150
SHARED = "shared"
HANG_GUARD = 300.0  # seconds; only so that a deadlock fails instead of hanging

SPAWN = multiprocessing.get_context("spawn")


def _event(dossier: str, key: str) -> Envelope:
    return Envelope.new(
        dossier=dossier,
        key=key,
        occurred=Occurred.parse("2023-01-25"),
        event=StatementIssued(actor="NATO", tone=Tone.NEUTRAL, summary=key),
    )


# ---------------------------------------------------------------- child processes


def write_batches(
    url: str,
    number: int,
    batches: int,
    start: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue[dict[str, Any]],
) -> None:
    """A writer: every other batch to the shared dossier with expected_version, else its own."""
    engine = create_engine(url)
    store = EventStore(engine)
    rng = random.Random(number)
    own = f"writer-{number}"
    own_version = 0
    report: dict[str, Any] = {
        "number": number,
        "appended": 0,
        "conflicts": 0,
        "own_conflicts": 0,
        "short_batches": 0,
        "ids": [],
    }
    start.wait(timeout=120)
    for batch_number in range(batches):
        size = rng.randint(1, 3)
        if batch_number % 2 == 0:
            batch = [_event(SHARED, f"w{number}-b{batch_number}-{k}") for k in range(size)]
            while True:
                expected = store.version(SHARED)
                try:
                    stored = store.append(SHARED, batch, expected_version=expected)
                    break
                except ConcurrencyError:
                    report["conflicts"] += 1
        else:
            batch = [_event(own, f"b{batch_number}-{k}") for k in range(size)]
            try:
                stored = store.append(own, batch, expected_version=own_version)
            except ConcurrencyError:
                report["own_conflicts"] += 1
                continue
            own_version += len(stored)
        report["short_batches"] += len(stored) != size
        report["appended"] += len(stored)
        report["ids"].extend(str(e.id) for e in stored)
    engine.dispose()
    results.put(report)


def append_one(
    url: str,
    key: str,
    about_to_append: multiprocessing.synchronize.Event,
    results: multiprocessing.Queue[dict[str, Any]],
) -> None:
    """A writer of one event to dossier "d"; reports its backend and the position it got."""
    engine = create_engine(url, poolclass=sa.pool.StaticPool)  # one connection, one pid
    store = EventStore(engine)
    with engine.connect() as conn:
        results.put({"pid": conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()})
    about_to_append.set()
    (stored,) = store.append("d", [_event("d", key)])
    engine.dispose()
    results.put(
        {"position": stored.position, "version": stored.version, "recorded": stored.recorded}
    )


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema, migrated to head, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """An engine whose statements give up after 30 s instead of waiting forever on a lock."""
    engine = create_engine(pg_url)

    @sa.event.listens_for(engine, "connect")
    def _timeout(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 30000")
        dbapi_connection.commit()

    yield engine
    engine.dispose()


def _stop(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()


# ---------------------------------------------------------------- tests


def test_racing_writers_lose_duplicate_and_reorder_nothing(pg_url: str, pg_engine: Engine) -> None:
    """Writers racing on one dossier and their own never lose, duplicate or reorder an event."""
    started = time.monotonic()
    barrier = SPAWN.Barrier(WRITERS)
    results: multiprocessing.Queue[dict[str, Any]] = SPAWN.Queue()
    writers = [
        SPAWN.Process(target=write_batches, args=(pg_url, n, BATCHES, barrier, results))
        for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    follower = EventStore(pg_engine, page_size=50)
    reports: list[dict[str, Any]] = []
    seen: list[Envelope] = []
    skipped: list[tuple[int, int | None]] = []
    try:
        while True:
            while True:  # drain reports so no writer blocks flushing its queue
                try:
                    reports.append(results.get_nowait())
                except queue.Empty:
                    break
            # Decided before reading: once every writer has reported, this read
            # runs after their last commit, so an empty page means caught up.
            all_done = len(reports) == WRITERS
            page = list(follower.read_all(after=seen[-1].position or 0 if seen else 0))
            for envelope in page:
                expected_next = len(seen) + 1
                if envelope.position != expected_next:
                    skipped.append((expected_next, envelope.position))
                seen.append(envelope)
            if all_done and not page:
                break
            crashed = [p.exitcode for p in writers if p.exitcode not in (None, 0)]
            assert not crashed, f"a writer crashed with exit code {crashed}"
            assert time.monotonic() - started < HANG_GUARD, "writers hung"
            if not page:
                time.sleep(0.002)
    finally:
        _stop(writers)
    seconds = time.monotonic() - started

    everything = list(EventStore(pg_engine).read_all())
    appended = sum(r["appended"] for r in reports)
    conflicts = sum(r["conflicts"] for r in reports)
    print(
        f"\nconcurrency: {len(everything)} events, {WRITERS} writers, "
        f"{conflicts} conflicts on {SHARED!r}, {seconds:.1f} s"
    )

    # The follower saw every committed event exactly once, in position order.
    assert skipped == []
    assert [e.id for e in seen] == [e.id for e in everything]
    assert len({e.id for e in seen}) == len(seen)
    # Positions 1..N without gaps; N is what the writers say they appended.
    assert [e.position for e in everything] == list(range(1, len(everything) + 1))
    assert len(everything) == appended
    reported_ids = Counter(i for r in reports for i in r["ids"])
    assert set(reported_ids) == {str(e.id) for e in everything}
    assert max(reported_ids.values()) == 1
    # Every dossier's versions run 1..n.
    by_dossier: dict[str, list[int | None]] = {}
    for envelope in everything:
        by_dossier.setdefault(envelope.dossier, []).append(envelope.version)
    assert set(by_dossier) == {SHARED, *(f"writer-{n}" for n in range(WRITERS))}
    for dossier, versions in by_dossier.items():
        assert versions == list(range(1, len(versions) + 1)), dossier
    # Every batch went in whole, nobody else touched a writer's own dossier,
    # and the shared dossier really was raced for.
    assert sum(r["short_batches"] for r in reports) == 0
    assert sum(r["own_conflicts"] for r in reports) == 0
    assert conflicts > 0


def _late_row(position: int, version: int, recorded: dt.datetime) -> dict[str, Any]:
    event = _event("d", "late")
    return {
        "position": position,
        "id": event.id,
        "dossier": "d",
        "key": "late",
        "version": version,
        "type": event.type,
        "schema_version": event.schema_version,
        "occurred_start": event.occurred.start,
        "occurred_end": event.occurred.end,
        "occurred_precision": str(event.occurred.precision),
        "recorded": recorded,
        "payload": event_to_dict(event.event),
        "sources": [],
    }


def _lock_waits(engine: Engine, pid: int) -> list[tuple[str, str]]:
    """The locks backend `pid` waits for: (lock type, mode), "events" for our table."""
    query = sa.text(
        "SELECT CASE WHEN relation = to_regclass('events') THEN 'events' ELSE locktype END,"
        " mode FROM pg_locks WHERE pid = :pid AND NOT granted"
    )
    with engine.connect() as conn:
        return [(str(kind), str(mode)) for kind, mode in conn.execute(query, {"pid": pid})]


def test_a_follower_never_passes_a_transaction_still_in_flight(
    pg_url: str, pg_engine: Engine
) -> None:
    """While position n+1 is uncommitted, a concurrent append waits, so n+2 never shows first."""
    store = EventStore(pg_engine)
    store.append("d", [_event("d", f"early-{i}") for i in range(3)])
    n = store.head()
    future = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    about_to_append = SPAWN.Event()
    results: multiprocessing.Queue[dict[str, Any]] = SPAWN.Queue()
    writer = SPAWN.Process(target=append_one, args=(pg_url, "racer", about_to_append, results))
    observed: list[list[int | None]] = []
    holder = pg_engine.connect()
    try:
        transaction = holder.begin()
        # What the store does at the start of an append, held open on purpose.
        holder.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")
        holder.execute(sa.insert(events_table), [_late_row(n + 1, n + 1, future)])

        writer.start()
        pid = results.get(timeout=HANG_GUARD)["pid"]
        assert about_to_append.wait(timeout=HANG_GUARD)
        deadline = time.monotonic() + HANG_GUARD
        while not (waits := _lock_waits(pg_engine, pid)) and writer.is_alive():
            assert time.monotonic() < deadline, "the second writer never reached a lock"
            time.sleep(0.01)
        # It waits for the very lock the open transaction holds, nothing else.
        assert waits == [("events", "ExclusiveLock")]

        # The racer is queued behind the open transaction: nothing past n is
        # visible, reads do not wait for the lock, and the racer has not finished.
        for _ in range(20):
            observed.append([e.position for e in store.read_all(after=n)])
            time.sleep(0.01)
        assert all(positions == [] for positions in observed)
        assert results.empty()
        assert writer.is_alive()
        transaction.commit()
    finally:
        holder.close()

    try:
        report = results.get(timeout=HANG_GUARD)
        while (positions := [e.position for e in store.read_all(after=n)]) != [n + 1, n + 2]:
            observed.append(positions)
            assert positions in ([], [n + 1]), f"follower saw {positions}"
            time.sleep(0.005)
        observed.append(positions)
    finally:
        _stop([writer])

    assert writer.exitcode == 0
    # The racer was given n + 2 and read the late row's time as the last
    # recorded: it read "the last position" only after the late commit.
    assert (report["position"], report["version"]) == (n + 2, n + 2)
    assert report["recorded"] == future
    assert [e.key for e in store.read_all(after=n)] == ["late", "racer"]
    assert all(obs in ([], [n + 1], [n + 1, n + 2]) for obs in observed)
