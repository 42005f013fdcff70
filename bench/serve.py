"""The HTTP API under load: latency and throughput of `timeline serve` on a large history.

Against a real server process (the installed `timeline serve`, as a user runs
it) on a database of a synthetic history, it measures for 1, 8 and 32
concurrent clients, each sending its next request when the last is answered:

* point queries: one actor's position on one issue, at a random date;
* everything naming one actor on one issue (every section), at a random date;
* diffs over a random day;
* one dossier's whole state at a random date;

then the live feed: subscribers on `/api/stream` while another thread appends
events at a steady rate, and the delay from the start of each append to each
subscriber receiving the event (it includes the append's own commit).

Client and server share the machine, so the figures are those of both.
They are printed, never asserted.

    .venv/bin/pip install -e '.[test]'
    .venv/bin/python bench/serve.py --db sqlite:////tmp/bench-1m.db      # builds it once
    .venv/bin/python bench/serve.py --db postgresql://postgres@127.0.0.1/test --events 20000

A database that already holds events is used as it is (the read models are
brought up to date first), so a large one is built only once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import httpx_sse
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parents[1]))  # the synthetic history is test-only code
from events import DossierDeclared, Envelope, EventCorrected, EventRetracted
from tests import synthetic
from tests.serving import serving
from timeline.readmodels.projector import Projector
from timeline.readmodels.tables import state_items
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine
from timeline.store.memory import collector_paused
from timeline.store.schema import events as table

CLIENTS = (1, 8, 32)
BATCH = 10_000


def prepare(url: str, events: int) -> EventStore:
    """The database at `url` with a history in it and its read models up to date."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    store = EventStore(engine)
    if store.head() == 0:
        began = time.perf_counter()
        with collector_paused():
            history = synthetic.history(events, seed=1, dossiers=4)
        for batch in synthetic.batches(history, BATCH):
            store.append_batches(batch)
        print(f"  imported {events:,} events in {time.perf_counter() - began:,.0f} s", flush=True)
    began = time.perf_counter()
    applied = Projector(store).catch_up()
    print(f"  projected {applied:,} events in {time.perf_counter() - began:,.0f} s", flush=True)
    return store


def questions(store: EventStore, seed: int) -> dict[str, Callable[[], str]]:
    """Each kind of question, as a function giving the next request's path."""
    rng = random.Random(seed)
    with store.engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(table.c.occurred_start), sa.func.max(table.c.occurred_start))
        ).one()
        keys = [
            (dossier, *json.loads(key))
            for dossier, key in conn.execute(
                sa.select(state_items.c.dossier, state_items.c.key).where(
                    state_items.c.section == "positions"
                )
            )
        ]
    first, last = (
        v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v) for v in (first, last)
    )
    dossiers = sorted({k[0] for k in keys})

    def day() -> dt.date:
        return (first + (last - first) * rng.random()).date()

    def point() -> str:
        dossier, actor, issue = rng.choice(keys)
        asked = f"as_of={day()}&dossier={dossier}&actor={actor}&issue={issue}"
        return f"/api/state?{asked}&section=positions"

    def actor_issue() -> str:
        dossier, actor, issue = rng.choice(keys)
        return f"/api/state?as_of={day()}&dossier={dossier}&actor={actor}&issue={issue}"

    def whole() -> str:
        return f"/api/state?as_of={day()}&dossier={rng.choice(dossiers)}"

    def diff() -> str:
        to = day()
        return f"/api/diff?from={to - dt.timedelta(days=1)}&to={to}"

    return {
        "point: a position": point,
        "an actor on an issue, every section": actor_issue,
        "day diff": diff,
        "a dossier's whole state": whole,
    }


async def load(base: str, path: Callable[[], str], clients: int, seconds: float) -> list[float]:
    """`clients` loops asking until `seconds` pass; each answer's latency in seconds."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=600) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                answer = await client.get(path())
                latencies.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    raise SystemExit(f"{answer.status_code} from {answer.url}: {answer.text}")

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def live_events(dossier: str, count: int) -> list[Envelope]:
    """Facts for a dossier of their own, appended while subscribers listen."""
    return [
        Envelope.new(dossier=dossier, key=e.key, occurred=e.occurred, event=e.event)
        for e in synthetic.history(count * 2, seed=2)
        if not isinstance(e.event, DossierDeclared | EventCorrected | EventRetracted)
    ][:count]


async def feed(
    base: str, store: EventStore, subscribers: int, rate: int, seconds: float
) -> list[float]:
    """Delays from the start of each append to its arrival at each subscriber."""
    per_batch, pause = max(1, rate // 10), 0.1
    dossier = f"bench-live-{time.time_ns()}"  # a new one each run: keys would collide
    events = live_events(dossier, int(rate * seconds))
    after = store.head()
    started: dict[int, float] = {}
    received: list[dict[int, float]] = [{} for _ in range(subscribers)]
    ready = asyncio.Event()
    connected = 0

    def append() -> None:
        for i in range(0, len(events), per_batch):
            start = time.time()
            for stored in store.append(dossier, events[i : i + per_batch]):
                assert stored.position is not None
                started[stored.position] = start
            time.sleep(pause)

    async def subscribe(seen: dict[int, float]) -> None:
        nonlocal connected
        async with (
            httpx.AsyncClient(base_url=base, timeout=None) as client,
            httpx_sse.aconnect_sse(client, "GET", f"/api/stream?after={after}") as source,
        ):
            connected += 1
            if connected == subscribers:
                ready.set()
            async for message in source.aiter_sse():
                if message.event == "appended":
                    seen[int(message.id)] = time.time()
                    if len(seen) == len(events):
                        return

    tasks = [asyncio.create_task(subscribe(seen)) for seen in received]
    await asyncio.wait_for(ready.wait(), 60)
    await asyncio.to_thread(append)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return [seen[p] - started[p] for seen in received for p in started]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite:///bench-serve.db", help="database URL")
    parser.add_argument("--events", type=int, default=1_000_000, help="history size, if built")
    parser.add_argument("--seconds", type=float, default=10.0, help="per question and level")
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100, help="live events appended a second")
    parser.add_argument("--feed-only", action="store_true", help="measure the live feed only")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--only", default="", help="the questions whose name holds this")
    args = parser.parse_args()

    store = prepare(args.db, args.events)
    asks = questions(store, seed=7)
    backend = store.engine.dialect.name
    print(f"\n{store.head():,} events, {backend}, {args.workers} server process(es)\n")
    print("| question | clients | requests | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    with serving(args.db, token=None, options=["--workers", str(args.workers)]) as server:
        chosen = {} if args.feed_only else {n: p for n, p in asks.items() if args.only in n}
        for name, path in chosen.items():
            for clients in CLIENTS:
                began = time.perf_counter()
                latencies = asyncio.run(load(server.url, path, clients, args.seconds))
                elapsed = time.perf_counter() - began
                print(
                    f"| {name} | {clients} | {len(latencies):,} | {len(latencies) / elapsed:,.1f} "
                    f"| {statistics.median(latencies) * 1000:,.1f} "
                    f"| {percentile(latencies, 0.99) * 1000:,.1f} |",
                    flush=True,
                )
        delays = asyncio.run(feed(server.url, store, args.subscribers, args.rate, args.seconds))
    print(
        f"\nlive feed: {args.subscribers} subscribers, {args.rate} events/s appended for "
        f"{args.seconds:.0f} s: {len(delays):,} deliveries, delay p50 "
        f"{statistics.median(delays) * 1000:,.0f} ms, "
        f"p99 {percentile(delays, 0.99) * 1000:,.0f} ms, max {max(delays) * 1000:,.0f} ms"
    )


if __name__ == "__main__":
    main()
