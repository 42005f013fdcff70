"""The benchmark: the engine beside the `eventsourcing` library and the raw driver.

One run measures, on SQLite (a file, WAL) and on PostgreSQL, with the same
synthetic events for every system:

* batch import (events/s) and single-event appends, one commit each;
* reading the first 200,000 events back, and a full replay through the
  projections;
* the decode-and-fold ceiling: the engine's own decode and fold over rows
  already in memory, so "replay / ceiling" is what the database and the
  streaming cost on top of pure Python;
* the projector catching up from nothing (read models and snapshots);
* `state(as_of)` at points spread over the history, from snapshots and by
  folding every event, and `diff` over a day, a month and a year;
* peak memory (RSS) of the import and of the replay.

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
import itertools
import multiprocessing
import os
import resource
import statistics
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
from projections import FOLDED_TYPES, project
from timeline import migrate, rows, snapshots, synthetic
from timeline.database import create_engine
from timeline.engine import Timeline
from timeline.memory import collector_paused
from timeline.projector import Projector
from timeline.schema import events as table
from timeline.store import EventStore

sys.path.insert(0, str(Path(__file__).parent))
import references

BATCH = 10_000
SAMPLE = references.SAMPLE
"""Events read back, and decoded and folded in memory (the ceiling): rates, not totals."""
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


def engine_import(url: str, path: str) -> Result:
    engine = create_engine(url)
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    store = EventStore(engine)
    seconds, count = 0.0, 0
    for batch_rows in batches(Path(path)):
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


def engine_replay(url: str) -> Result:
    """Every event through the projections, streamed in valid-time order."""
    store = _store(url)
    count = store.head()
    start = time.perf_counter()
    snapshots.resume(store, snapshots.END_OF_TIME, use_snapshots=False)
    return {"rate": count / (time.perf_counter() - start)}


def engine_ceiling(url: str, sample: int) -> Result:
    """The replay's decode, settle and fold, over raw rows already in memory.

    As the replay does: rows without their citations, and only those of a
    type the fold reads (or a fix or declaration) are decoded, with the
    cycle collector paused; the rate counts every row.
    """
    wanted = FOLDED_TYPES | set(snapshots.TIMELESS_TYPES)
    engine = create_engine(url)
    with engine.connect() as conn:
        query = rows.select(sources=False).order_by(table.c.position).limit(sample)
        raw = conn.execute(query).all()
        dialect = conn.dialect.name
    start = time.perf_counter()
    with collector_paused():  # as the replay runs (`snapshots.resume_at`)
        decode = rows.decoder(dialect)
        folded = [decode(row) for row in raw if row[rows.TYPE] in wanted]
        project(folded, as_of=snapshots.END_OF_TIME)
    return {"rate": len(raw) / (time.perf_counter() - start)}


def engine_project(url: str, events: int) -> Result:
    store = _store(url)
    start = time.perf_counter()
    # The defaults at a million events, in proportion for smaller runs.
    projector = Projector(store, snapshot_every=events // 50, keep_every=events // 20)
    applied = projector.rebuild()
    return {"rate": applied / (time.perf_counter() - start)}


def engine_queries(url: str, points: int, fold_every: int) -> Result:
    """`state(as_of)` from snapshots and by a full fold, and `diff` latencies."""
    store = _store(url)
    with store.engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(table.c.occurred_start), sa.func.max(table.c.occurred_start))
        ).one()
    span = last - first
    # The last point is 99.9% of the way: "near the end", not past every fact.
    moments = [first + span * (i + 1) / points * 0.999 for i in range(points)]
    with_snapshots = [_timed(lambda m=m: snapshots.resume(store, m)) for m in moments]
    folded_at = moments[fold_every - 1 :: fold_every]
    if moments[-1] not in folded_at:
        folded_at.append(moments[-1])
    full = [_timed(lambda m=m: snapshots.resume(store, m, use_snapshots=False)) for m in folded_at]
    timeline = Timeline(store)
    end = moments[-1]
    diffs = {
        name: _timed(lambda d=delta: timeline.diff(end - d, end))
        for name, delta in (
            ("day", dt.timedelta(days=1)),
            ("month", dt.timedelta(days=30)),
            ("year", dt.timedelta(days=365)),
        )
    }
    with store.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM snapshots")).scalar()
    return {
        "snapshots": with_snapshots,
        "full": full,
        "full_points": len(folded_at),
        "diffs": diffs,
        "kept": kept,
    }


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


def _spread(seconds: list[float]) -> str:
    return (
        f"median {_ms(statistics.median(seconds))}, worst {_ms(max(seconds))}, "
        f"near the end {_ms(seconds[-1])}"
    )


def _ratio(ours: float, theirs: float | None) -> str:
    return "-" if not theirs else f"{ours / theirs:.2f}x"


def report(backend: str, events: int, found: dict[str, Result]) -> None:
    ours, es, raw = found["engine"], found["eventsourcing"], found["raw"]
    print(f"\n## {backend}: {events:,} events\n")
    print("| figure | engine | eventsourcing | raw driver | engine/eventsourcing | engine/raw |")
    print("|---|---|---|---|---|---|")
    lines = [
        ("batch import", ours["import"]["rate"], es["import"], raw["import"]),
        ("single append, one commit each", ours["single"]["rate"], es["single"], raw["single"]),
        ("read every event", ours["read"]["rate"], es["read"], raw["read"]),
        ("full replay through projections", ours["replay"]["rate"], es["replay"], raw["replay"]),
    ]
    for name, mine, theirs, floor in lines:
        print(
            f"| {name} | {_rate(mine)} | {_rate(theirs)} | {_rate(floor)} "
            f"| {_ratio(mine, theirs)} | {_ratio(mine, floor)} |"
        )
    ceiling = ours["ceiling"]["rate"]
    print(
        f"| decode-and-fold ceiling (rows in memory) | {_rate(ceiling)} | | | | "
        f"replay/ceiling {ours['replay']['rate'] / ceiling:.2f} |"
    )
    print(f"| projector catch-up from nothing | {_rate(ours['project']['rate'])} | | | | |")
    queries = ours["queries"]
    snaps, full = queries["snapshots"], queries["full"]
    print(f"| state(as_of) with snapshots, {len(snaps)} points | {_spread(snaps)} | | | | |")
    print(
        f"| state(as_of) full fold, {queries['full_points']} of those points "
        f"| {_spread(full)} | | | | |"
    )
    print(f"| snapshot speed-up near the end | {full[-1] / snaps[-1]:,.0f}x | | | | |")
    for name, seconds in queries["diffs"].items():
        print(f"| diff over a {name} | {_ms(seconds)} | | | | |")
    print(
        f"| peak RSS: import / replay | {ours['import']['rss_mb']:,.0f} MB / "
        f"{ours['replay']['rss_mb']:,.0f} MB | {es['rss_mb']:,.0f} MB (whole run) "
        f"| {raw['rss_mb']:,.0f} MB (whole run) | | |"
    )
    print(f"| snapshots kept | {queries['kept']} | | | | |")
    sys.stdout.flush()


def run_backend(url: str, path: Path, args: argparse.Namespace) -> dict[str, Result]:
    name = str(path)
    ours: Result = {
        "import": in_child(engine_import, url, name),
        "single": in_child(engine_single, url, name),
        "read": in_child(engine_read, url, SAMPLE),
        "replay": in_child(engine_replay, url),
        "ceiling": in_child(engine_ceiling, url, SAMPLE),
        "project": in_child(engine_project, url, max(args.events, 1_000)),
        "queries": in_child(engine_queries, url, args.points, args.fold_every),
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
    parser.add_argument("--points", type=int, default=20, help="as-of points")
    parser.add_argument("--fold-every", type=int, default=10, help="full fold at every Nth point")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--pg", default=os.environ.get("TIMELINE_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.events, args.single = 20_000, 200
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
