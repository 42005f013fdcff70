"""Benchmark of the read-model side: projector catch-up, state(as_of) with and without snapshots.

Prints figures, never asserts them: machines are shared and noisy.

    .venv/bin/python bench/readmodels.py --events 1000000            # SQLite file, WAL
    .venv/bin/python bench/readmodels.py --events 1000000 --db postgresql://postgres@127.0.0.1/test

The database is emptied first (downgrade to base, then upgrade).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from events import DossierDeclared
from projections import project
from timeline import migrate, snapshots, synthetic
from timeline.database import create_engine
from timeline.projector import Projector
from timeline.schema import events as table
from timeline.store import EventStore

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--points", type=int, default=20, help="as-of points with snapshots")
    parser.add_argument("--fold-points", type=int, default=3, help="as-of points folding all")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="timeline-bench-")
    url = args.db or f"sqlite:///{Path(folder) / 'bench.db'}"
    engine = create_engine(url)
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    store = EventStore(engine)
    print(f"database: {engine.url.render_as_string(hide_password=True)}")

    def load() -> None:
        for batch in synthetic.batches(synthetic.history(args.events, seed=args.seed), 10_000):
            store.append_batches(batch)

    _, seconds = timed(load)
    total = store.head()
    print(
        f"append (batches of 10,000): {total:,} events in {seconds:.1f} s "
        f"= {total / seconds:,.0f} events/s"
    )

    projector = Projector(store)
    _, seconds = timed(projector.catch_up)
    print(
        f"projector catch-up: {total:,} events in {seconds:.1f} s "
        f"= {total / seconds:,.0f} events/s (peak RSS so far {peak_rss_mb():,.0f} MB)"
    )

    start, end = table.c.occurred_start, table.c.type != DossierDeclared.type
    with engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(start), sa.func.max(start)).where(end)
        ).one()
    span = last - first
    # The last point is 99.9% of the way: "near the end", not past every fact.
    points = [first + span * (i + 1) / args.points * 0.999 for i in range(args.points)]

    with_snapshots = []
    for as_of in points:
        _, seconds = timed(lambda as_of=as_of: snapshots.resume(store, as_of))
        with_snapshots.append(seconds)
    print(
        f"state(as_of) with snapshots, {args.points} points spread over the history: "
        f"median {statistics.median(with_snapshots) * 1000:,.0f} ms, "
        f"worst {max(with_snapshots) * 1000:,.0f} ms, "
        f"near the end {with_snapshots[-1] * 1000:,.0f} ms"
    )

    fold_points = points[-args.fold_points :]
    full = []
    for as_of in fold_points:
        _, seconds = timed(lambda as_of=as_of: project(store.read_all(), as_of=as_of))
        full.append(seconds)
    print(
        f"state(as_of) folding every event, {len(fold_points)} points at the end: "
        f"median {statistics.median(full) * 1000:,.0f} ms, worst {max(full) * 1000:,.0f} ms"
    )
    print(f"snapshot speed-up near the end: {full[-1] / with_snapshots[-1]:,.0f}x")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
