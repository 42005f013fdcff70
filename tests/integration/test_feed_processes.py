"""The live feed under load: a real server, fifty subscribers, another process appending."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import httpx_sse
import pytest

from tests.serving import serving
from timeline.interfaces.cli import main

SUBSCRIBERS = 50
EVENTS = 5_000
BATCH = 100
DROPS_AFTER = 1_000
"""Subscriber 0 hangs up after this many events and reconnects with `Last-Event-ID`."""

APPEND = """
import sys
from tests import synthetic
from timeline.store import EventStore

store = EventStore.open(sys.argv[1])
history = synthetic.history(int(sys.argv[2]), seed=5, dossiers=2)
for batch in synthetic.batches(history, int(sys.argv[3])):
    store.append_batches(batch)
print(store.head())
"""


class Subscriber:
    """One client of `/api/stream`: every position it received, in order."""

    def __init__(self, base: str, *, drops: bool = False) -> None:
        self.base, self.drops = base, drops
        self.positions: list[int] = []
        self.projected = 0
        self.connected = asyncio.Event()
        self.reconnected = False

    async def run(self, client: httpx.AsyncClient, target: asyncio.Future[int]) -> None:
        headers: dict[str, str] = {}
        while not self._done(target):
            url = f"{self.base}/api/stream?after=0"
            async with httpx_sse.aconnect_sse(client, "GET", url, headers=headers) as source:
                assert source.response.status_code == 200
                self.connected.set()
                async for message in source.aiter_sse():
                    if message.event == "appended":
                        position = int(message.id)
                        assert json.loads(message.data)["position"] == position
                        self.positions.append(position)
                    elif message.event == "projected":
                        self.projected = json.loads(message.data)["position"]
                    if self.drops and len(self.positions) == DROPS_AFTER:
                        self.drops, self.reconnected = False, True
                        headers = {"Last-Event-ID": message.id}
                        break
                    if self._done(target):
                        return

    def _done(self, target: asyncio.Future[int]) -> bool:
        if not target.done():
            return False
        head = target.result()
        return bool(self.positions) and self.positions[-1] >= head and self.projected >= head


async def _run(base: str, url: str) -> tuple[int, list[Subscriber]]:
    subscribers = [Subscriber(base, drops=i == 0) for i in range(SUBSCRIBERS)]
    target: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    limits = httpx.Limits(max_connections=SUBSCRIBERS + 5)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120), limits=limits) as client:
        tasks = [asyncio.create_task(s.run(client, target)) for s in subscribers]
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in subscribers)), 60)
        appender = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            APPEND,
            url,
            str(EVENTS),
            str(BATCH),
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        out, _ = await asyncio.wait_for(appender.communicate(), 300)
        assert appender.returncode == 0
        target.set_result(int(out))
        await asyncio.wait_for(asyncio.gather(*tasks), 300)
    return int(out), subscribers


@pytest.mark.slow
def test_every_subscriber_gets_every_event_once_in_order(fresh_url: str) -> None:
    """Fifty subscribers connected while another process appends 5,000 events in batches:
    each receives positions 1..head exactly once, in order, then hears that the read
    models reached the head; the one that hung up mid-stream and came back with its
    `Last-Event-ID` misses nothing and repeats nothing."""
    assert main(["init", "--db", fresh_url]) == 0
    with serving(fresh_url) as server:
        head, subscribers = asyncio.run(_run(server.url, fresh_url))
    assert head >= EVENTS
    expected = list(range(1, head + 1))
    for subscriber in subscribers:
        assert subscriber.positions == expected
        assert subscriber.projected == head
    assert subscribers[0].reconnected
