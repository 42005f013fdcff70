"""The benchmark: the engine's store beside `eventsourcing` and the raw driver, and its
read side beside the full fold of the pure projection.

One run measures, on SQLite (a file, WAL) and on PostgreSQL, with the same
synthetic events for every system:

* the store: batch import (events/s), single-event appends (one commit
  each), reading the first 200,000 events back, beside the references;
* the projector: a rebuild from nothing, and catching up with batches
  appended after it (events/s);
* the read side, as range queries on the version tables: one actor's
  position on one issue at random valid and transaction times (p50, p99;
  known now and known at a past time), one dossier's whole state (as objects,
  and as the JSON the database writes), the whole state streamed (items/s,
  and the memory it took; as objects and as JSON), diffs over a day and over
  a year; each beside the full fold of the pure projection
  (`projections.project` over every event) as the reference;
* the disk the version and link tables take, beside the events table;
* peak memory (RSS) of each phase.

Every phase runs in a fresh process, so each peak RSS is that phase's own.
Figures are printed, never asserted: machines are shared and noisy, so only
ratios within one run mean anything.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/run.py                       # 1,000,000 events, both backends
    .venv/bin/python bench/run.py --quick               # 20,000 events, as CI runs it

PostgreSQL is `--pg` (default: `$TIMELINE_BENCH_PG` or the local server); the
engine's tables there are dropped and recreated, so point it at a scratch
database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import itertools
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from events import DossierDeclared, Envelope, EventCorrected, EventRetracted, Occurred, Precision
from events.codec import event_to_dict, source_to_dict, stored_event, stored_source
from projections import FOLDED_TYPES, Filter, project
from timeline.readmodels.projector import Projector
from timeline.readmodels.reader import Reader
from timeline.readmodels.tables import VERSIONS, state_events, state_items
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine
from timeline.store.memory import collector_paused
from timeline.store.schema import events as table

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))  # the synthetic history is test-only code
import references

from tests import synthetic

BATCH = 10_000
TAIL_BATCH = 1_000
"""The catch-up phase appends the last 5% of the events in batches of this size."""
SAMPLE = references.SAMPLE
"""Events read back: a rate, not a total."""
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
Result = dict[str, Any]


# -- the events, generated once ---------------------------------------------------


def row_of(envelope: Envelope) -> references.Row:
    """The plain-dict form the references take: the stored fields, JSON-ready."""
    return {
        "id": str(envelope.id),
        "dossier": envelope.dossier,
        "key": envelope.key,
        "type": envelope.type,
        "schema_version": envelope.schema_version,
        "occurred_start": envelope.occurred.start.isoformat(),
        "occurred_end": envelope.occurred.end.isoformat(),
        "precision": str(envelope.occurred.precision),
        "payload": event_to_dict(envelope.event),
        "sources": [source_to_dict(s) for s in envelope.sources],
    }


def generate(path: Path, events: int, seed: int, single: int) -> None:
    """Write the history once, so every system reads the same events.

    One JSON line of rows (`row_of`) per batch: the references take rows as
    they are, and the engine's envelopes are built back from them in about
    13 s at a million, where unpickling them took about 40 s.
    """
    history = synthetic.history(events, seed=seed, dossiers=4)
    with path.open("wb") as out:
        for batch in synthetic.batches(history, BATCH):
            out.write(orjson.dumps([row_of(e) for part in batch.values() for e in part]))
            out.write(b"\n")
    extra = synthetic.history(single, seed=seed + 1)
    singles = [
        row_of(Envelope.new(dossier="bench-single", key=e.key, occurred=e.occurred, event=e.event))
        for e in extra
        if not isinstance(e.event, DossierDeclared | EventCorrected | EventRetracted)
    ]
    path.with_suffix(".single").write_bytes(orjson.dumps(singles))


def batches(path: Path) -> Iterator[list[references.Row]]:
    """The history's batches, as rows."""
    with path.open("rb") as source:
        for line in source:
            # Outside every timing, and the collector would walk each batch
            # as it is built: without the pause, building takes twice as long.
            with collector_paused():
                batch = orjson.loads(line)
            yield batch


def singles(path: Path) -> list[references.Row]:
    loaded: list[references.Row] = orjson.loads(path.with_suffix(".single").read_bytes())
    return loaded


def envelope_of(row: references.Row) -> Envelope:
    """The envelope `row_of` wrote, as the caller of an append would hold it."""
    occurred = Occurred(
        dt.datetime.fromisoformat(row["occurred_start"]),
        dt.datetime.fromisoformat(row["occurred_end"]),
        Precision(row["precision"]),
    )
    return Envelope(
        id=uuid.UUID(row["id"]),
        key=row["key"],
        dossier=row["dossier"],
        occurred=occurred,
        event=stored_event(row["type"], row["schema_version"], row["payload"]),
        sources=tuple(stored_source(source) for source in row["sources"]),
    )


def by_dossier(rows: list[references.Row]) -> dict[str, list[Envelope]]:
    grouped: dict[str, list[Envelope]] = {}
    for row in rows:
        grouped.setdefault(row["dossier"], []).append(envelope_of(row))
    return grouped


# -- phases, each in its own process ----------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(phase: Callable[..., Result], *args: Any) -> Result:
    """Run one phase in a fresh process; its figures come back with its peak RSS."""
    began = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: Result = pool.apply(_measured, (phase, *args))
    named = " ".join(str(a) for a in args[:1] if not str(a).startswith(("sqlite", "postgres")))
    print(
        f"  {phase.__name__} {named}: {time.perf_counter() - began:,.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return result


def _measured(phase: Callable[..., Result], *args: Any) -> Result:
    result = phase(*args)
    result["rss_mb"] = peak_mb()
    return result


def _store(url: str) -> EventStore:
    return EventStore(create_engine(url))


def split(path: Path, tail: int) -> tuple[list[list[references.Row]], list[list[references.Row]]]:
    """The history's batches without its last `tail` events, and those events in batches
    of `TAIL_BATCH`: what the import writes, and what the catch-up phase appends."""
    rows = [row for batch in batches(path) for row in batch]
    head, rest = rows[: len(rows) - tail], rows[len(rows) - tail :]
    imported = [head[i : i + BATCH] for i in range(0, len(head), BATCH)]
    appended = [rest[i : i + TAIL_BATCH] for i in range(0, len(rest), TAIL_BATCH)]
    return imported, appended


def engine_import(url: str, path: str, tail: int) -> Result:
    """Every event but the last `tail`, which the catch-up phase appends."""
    engine = create_engine(url)
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    store = EventStore(engine)
    seconds, count = 0.0, 0
    for batch_rows in split(Path(path), tail)[0]:
        with collector_paused():
            batch = by_dossier(batch_rows)
        start = time.perf_counter()
        count += len(store.append_batches(batch))
        seconds += time.perf_counter() - start
    return {"events": count, "rate": count / seconds}


def engine_single(url: str, path: str) -> Result:
    store = _store(url)
    envelopes = [envelope_of(row) for row in singles(Path(path))]
    start = time.perf_counter()
    for envelope in envelopes:
        store.append("bench-single", [envelope])
    return {"rate": len(envelopes) / (time.perf_counter() - start)}


def engine_read(url: str, sample: int) -> Result:
    store = _store(url)
    start = time.perf_counter()
    count = sum(1 for _ in itertools.islice(store.read_all(), sample))
    return {"rate": count / (time.perf_counter() - start)}


def engine_rebuild(url: str) -> Result:
    """The projector from nothing: every event, group by group, into the version tables."""
    store = _store(url)
    start = time.perf_counter()
    applied = Projector(store).rebuild()
    return {"rate": applied / (time.perf_counter() - start), "events": applied}


def engine_catch_up(url: str, path: str, tail: int) -> Result:
    """The last `tail` events appended a batch at a time, the projector catching up after
    each: only the catch-ups are timed."""
    store = _store(url)
    projector = Projector(store)
    projector.catch_up()
    seconds, count = 0.0, 0
    for batch_rows in split(Path(path), tail)[1]:
        store.append_batches(by_dossier(batch_rows))
        start = time.perf_counter()
        count += projector.catch_up()
        seconds += time.perf_counter() - start
    return {"rate": count / seconds if seconds else 0.0, "events": count}


def engine_fold(url: str) -> Result:
    """The reference: the pure projection folding every event, as of the end of history."""
    store = _store(url)
    kinds = [
        *FOLDED_TYPES,
        *(cls.type for cls in (DossierDeclared, EventCorrected, EventRetracted)),
    ]
    start = time.perf_counter()
    with collector_paused():
        state = project(store.read_all(types=kinds, sources=False), as_of=END_OF_TIME)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rate": store.head() / seconds,
        "items": sum(1 for _ in state.items()),
    }


END_OF_TIME = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _bounds(store: EventStore) -> tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime]:
    """The first and last valid start, and the first and last recorded time."""
    with store.engine.connect() as conn:
        found = conn.execute(
            sa.select(
                sa.func.min(table.c.occurred_start),
                sa.func.max(table.c.occurred_start),
                sa.func.min(table.c.recorded),
                sa.func.max(table.c.recorded),
            )
        ).one()
    first, last, recorded_first, recorded_last = (
        value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value + "+00:00")
        for value in found
    )
    return first, last, recorded_first, recorded_last


def engine_queries(url: str, samples: int) -> Result:
    """Point, dossier and diff queries at random valid and transaction times."""
    store = _store(url)
    reader = Reader(store)
    rng = random.Random(7)
    first, last, recorded_first, recorded_last = _bounds(store)

    def when() -> dt.datetime:
        return first + (last - first) * rng.random()

    def known() -> dt.datetime:
        return recorded_first + (recorded_last - recorded_first) * rng.random()

    with store.engine.connect() as conn:
        keys = [
            (dossier, *json.loads(key))
            for dossier, key in conn.execute(
                sa.select(state_items.c.dossier, state_items.c.key).where(
                    state_items.c.section == "positions"
                )
            )
        ]
        dossiers = sorted({k[0] for k in keys})
    points = [(rng.choice(keys), when(), known()) for _ in range(samples)]

    def point(key: tuple[str, ...], as_of: dt.datetime, known_at: dt.datetime | None) -> float:
        where = Filter(dossier=key[0], actor=key[1], issue=key[2], sections=("positions",))
        return _timed(functools.partial(reader.state, as_of, known_at=known_at, where=where))

    known_now = [point(key, as_of, None) for key, as_of, _ in points]
    known_then = [point(key, as_of, known_at) for key, as_of, known_at in points]
    # Forty at the default: a dossier's state grows with `as_of`, so that the p50 of
    # ten draws was left to chance.
    asked = [(when(), Filter(dossier=rng.choice(dossiers))) for _ in range(max(3, samples // 5))]
    dossier = [_timed(functools.partial(reader.state, t, where=where)) for t, where in asked]
    dossier_json = [
        _timed(functools.partial(_document, reader, t, where=where)) for t, where in asked
    ]
    days = [when() for _ in range(max(3, samples // 10))]
    day = [_timed(functools.partial(reader.diff, d - dt.timedelta(days=1), d)) for d in days]
    year_end = last - (last - first) * 0.001
    start = time.perf_counter()
    year = reader.diff(year_end - dt.timedelta(days=365), year_end)
    year_seconds = time.perf_counter() - start
    return {
        "point": known_now,
        "point_known_at": known_then,
        "dossier": dossier,
        "dossier_json": dossier_json,
        "dossiers": len(dossiers),
        "day": day,
        "year_changes": len(year.changes),
        "year_seconds": year_seconds,
    }


def engine_stream(url: str) -> Result:
    """The whole state near the end of history, streamed page by page."""
    store = _store(url)
    first, last, _, _ = _bounds(store)
    as_of = last - (last - first) * 0.001
    before = peak_mb()
    start = time.perf_counter()
    count = sum(1 for _ in Reader(store).items(as_of))
    seconds = time.perf_counter() - start
    return {"items": count, "rate": count / seconds, "grew_mb": peak_mb() - before}


def engine_stream_json(url: str) -> Result:
    """The whole state near the end of history as JSON, streamed in the pieces the
    database writes."""
    store = _store(url)
    first, last, _, _ = _bounds(store)
    as_of = last - (last - first) * 0.001
    before = peak_mb()
    start = time.perf_counter()
    written = sum(len(piece) for piece in Reader(store).document(as_of))
    seconds = time.perf_counter() - start
    return {"bytes": written, "seconds": seconds, "grew_mb": peak_mb() - before}


def _document(reader: Reader, as_of: dt.datetime, where: Filter) -> str:
    return "".join(reader.document(as_of, where=where))


def engine_disk(url: str) -> Result:
    """Bytes of the version and link tables (indexes included) and of the events table."""
    engine = create_engine(url)
    ours = [v.table.name for v in VERSIONS.values()] + [state_events.name, state_items.name]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sizes = dict(
                conn.execute(
                    sa.text(
                        "SELECT m.tbl_name, sum(s.pgsize) FROM dbstat s "
                        "JOIN sqlite_schema m ON m.name = s.name GROUP BY m.tbl_name"
                    )
                ).all()
            )
        else:
            sizes = {
                name: conn.execute(sa.text(f"SELECT pg_total_relation_size('{name}')")).scalar()
                for name in [*ours, "events"]
            }
    return {"read_models": sum(sizes.get(n) or 0 for n in ours), "events": sizes["events"]}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def reference(name: str, url: str, path: str) -> Result:
    run = (
        references.eventsourcing_reference if name == "eventsourcing" else references.raw_reference
    )
    figures = run(url, batches(Path(path)), singles(Path(path)))
    return {
        "import": figures.batch_import,
        "single": figures.single_append,
        "read": figures.read,
        "replay": figures.replay,
    }


# -- the table ----------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def _ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def _percentile(seconds: list[float], share: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _p50_p99(seconds: list[float]) -> str:
    return f"p50 {_ms(_percentile(seconds, 0.5))}, p99 {_ms(_percentile(seconds, 0.99))}"


def _ratio(ours: float, theirs: float | None) -> str:
    return "-" if not theirs else f"{ours / theirs:.2f}x"


def _faster(fold: float, query: float) -> str:
    ratio = fold / query
    shown = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2f}"
    return f"{shown}x faster than the full fold"


def report(backend: str, events: int, found: dict[str, Result]) -> None:
    ours, es, raw = found["engine"], found["eventsourcing"], found["raw"]
    fold = ours["fold"]["seconds"]
    queries = ours["queries"]
    print(f"\n## {backend}: {events:,} events\n")
    print("| figure | engine | eventsourcing | raw driver | engine/eventsourcing | engine/raw |")
    print("|---|---|---|---|---|---|")
    lines = [
        ("batch import", ours["import"]["rate"], es["import"], raw["import"]),
        ("single append, one commit each", ours["single"]["rate"], es["single"], raw["single"]),
        ("read every event", ours["read"]["rate"], es["read"], raw["read"]),
    ]
    for name, mine, theirs, floor in lines:
        print(
            f"| {name} | {_rate(mine)} | {_rate(theirs)} | {_rate(floor)} "
            f"| {_ratio(mine, theirs)} | {_ratio(mine, floor)} |"
        )
    point, then = queries["point"], queries["point_known_at"]
    dossier, day, stream = queries["dossier"], queries["day"], ours["stream"]
    json_stream = ours["stream_json"]
    year = queries["year_changes"] / queries["year_seconds"]
    read_side = [
        ("full fold of the pure projection (reference)", f"{fold:,.1f} s", ""),
        ("projector rebuild", _rate(ours["rebuild"]["rate"]), ""),
        ("projector catch-up of appended batches", _rate(ours["catch_up"]["rate"]), ""),
        ("point query, known now", _p50_p99(point), _faster(fold, _percentile(point, 0.5))),
        (
            "point query, known at a past time",
            _p50_p99(then),
            f"known-at/now p50 {_percentile(then, 0.5) / _percentile(point, 0.5):.2f}",
        ),
        (
            f"one dossier's whole state (of {queries['dossiers']})",
            _p50_p99(dossier),
            _faster(fold, _percentile(dossier, 0.5)),
        ),
        (
            f"one dossier as JSON, written by the database (of {queries['dossiers']})",
            _p50_p99(queries["dossier_json"]),
            _faster(fold, _percentile(queries["dossier_json"], 0.5)),
        ),
        (
            f"whole state streamed, {stream['items']:,} items",
            f"{_rate(stream['rate'])} items",
            f"memory grew {stream['grew_mb']:,.0f} MB",
        ),
        (
            f"every dossier as JSON, streamed, {json_stream['bytes'] / 1e6:,.0f} MB",
            f"{_rate(stream['items'] / json_stream['seconds'])} items",
            f"memory grew {json_stream['grew_mb']:,.0f} MB",
        ),
        ("diff over a day", _p50_p99(day), _faster(2 * fold, _percentile(day, 0.5))),
        (
            f"diff over a year, {queries['year_changes']:,} changes",
            f"{_rate(year)} changes",
            _faster(2 * fold, queries["year_seconds"]),
        ),
    ]
    for name, figure, ratio in read_side:
        print(f"| {name} | {figure} | | | | {ratio} |")
    disk = ours["disk"]
    print(
        f"| disk: version and link tables / events | {disk['read_models'] / 1e6:,.0f} MB / "
        f"{disk['events'] / 1e6:,.0f} MB | | | | {disk['read_models'] / disk['events']:.2f}x |"
    )
    print(
        f"| peak RSS: import / rebuild / full fold / stream | {ours['import']['rss_mb']:,.0f} MB / "
        f"{ours['rebuild']['rss_mb']:,.0f} MB / {ours['fold']['rss_mb']:,.0f} MB / "
        f"{stream['rss_mb']:,.0f} MB | {es['rss_mb']:,.0f} MB (whole run) "
        f"| {raw['rss_mb']:,.0f} MB (whole run) | | |"
    )
    sys.stdout.flush()


def run_backend(url: str, path: Path, args: argparse.Namespace) -> dict[str, Result]:
    name = str(path)
    tail = max(TAIL_BATCH, args.events // 20)
    ours: Result = {
        "import": in_child(engine_import, url, name, tail),
        "single": in_child(engine_single, url, name),
        "read": in_child(engine_read, url, SAMPLE),
        "rebuild": in_child(engine_rebuild, url),
        "catch_up": in_child(engine_catch_up, url, name, tail),
        "fold": in_child(engine_fold, url),
        "queries": in_child(engine_queries, url, args.samples),
        "stream": in_child(engine_stream, url),
        "stream_json": in_child(engine_stream_json, url),
        "disk": in_child(engine_disk, url),
    }
    return {
        "engine": ours,
        "eventsourcing": in_child(reference, "eventsourcing", url, name),
        "raw": in_child(reference, "raw", url, name),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 events: that it runs")
    parser.add_argument("--single", type=int, default=2_000, help="one-commit appends")
    parser.add_argument(
        "--samples", type=int, default=200, help="point queries, and in proportion others"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--pg", default=os.environ.get("TIMELINE_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.events, args.single, args.samples = 20_000, 200, 40
    with tempfile.TemporaryDirectory(prefix="timeline-bench-") as scratch:
        # The SQLite databases of a million events take about 2 GB: gone at the end.
        folder = Path(scratch)
        path = folder / "history.jsonl"
        started = time.perf_counter()
        with collector_paused():  # a third faster, and untimed
            generate(path, args.events, args.seed, args.single)
        print(f"generated {args.events:,} events in {time.perf_counter() - started:,.0f} s")
        urls = {"sqlite": f"sqlite:///{folder / 'engine.db'}", "postgresql": args.pg}
        for backend in args.backend or ("sqlite", "postgresql"):
            began = time.perf_counter()
            report(backend, args.events, run_backend(urls[backend], path, args))
            print(f"\n({backend} took {time.perf_counter() - began:,.0f} s)")


if __name__ == "__main__":
    main()
