"""The live feed: every appended event, once, to every subscriber, as Server-Sent Events.

One thread reads what the store appends (woken by PostgreSQL's NOTIFY, or
polling SQLite) and keeps the latest messages in memory, already encoded;
subscribers on the event loop take what follows the last position they
sent. A subscriber further behind than memory reaches (a client resuming
from an old `Last-Event-ID`) reads those events from the store first, a
page at a time. Positions have no gaps and commit in order (see
`timeline.store.event_store`), so "everything after the last position
sent" never skips or repeats an event, however a subscriber joins.

Each event is an SSE message `appended` whose `id` is its position and
whose data is the envelope as JSON (the shape of `timeline log --raw
--format json`). A message `projected` (no `id`, so it never moves a
client's `Last-Event-ID`) says the read models reflect every event up to
a position; it follows the events it covers.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable

import anyio
import orjson

from events import Envelope
from events.codec import envelope_to_dict
from timeline.readmodels.projector import checkpoint
from timeline.store import EventStore, faults

log = logging.getLogger("timeline.feed")
PING = b": ping\n\n"
PING_EVERY = 15.0
"""Seconds of silence before a comment line keeps proxies from closing the stream."""
PAGE = 1_000


def appended(envelope: Envelope) -> bytes:
    """One event as an SSE message."""
    data = orjson.dumps(envelope_to_dict(envelope))
    return b"id: %d\nevent: appended\ndata: %s\n\n" % (envelope.position or 0, data)


def projected(position: int) -> bytes:
    return b'event: projected\ndata: {"position": %d}\n\n' % position


class Feed:
    """What the store appends, read by one thread and kept for the subscribers."""

    def __init__(self, store: EventStore, *, keep: int = 20_000, poll: float = 0.1) -> None:
        self.store, self.keep, self.poll = store, keep, poll
        self.messages: collections.deque[bytes] = collections.deque()
        self.first = 1
        """The position of `messages[0]`."""
        self.head = 0
        """The last position published to the subscribers."""
        self.projected = 0
        self._tick = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the reading thread ---------------------------------------------------------

    def start(self) -> None:
        """Begin at the store's head, on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self.head = self.store.head()
        self.first = self.head + 1
        self._thread = threading.Thread(target=self._run, name="timeline-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        read = self.head

        def run(connected: Callable[[], None]) -> None:
            nonlocal read
            with self.store.waiter(self.poll) as waiter:
                while not self._stop.is_set():
                    page = list(self.store.read_all(after=read, through=read + PAGE))
                    connected()
                    if page:
                        read = page[-1].position or read
                    with self.store.engine.connect() as conn:
                        done = min(checkpoint(conn), read)
                    if page or done != self.projected:
                        self._publish([appended(e) for e in page], done)
                    if len(page) < PAGE:
                        waiter.wait()

        # Subscribers wait meanwhile, and get everything after their last position.
        faults.reconnecting(run, self._stop.is_set, log, "the live feed")

    def _publish(self, messages: list[bytes], done: int) -> None:
        """Hand a page to the event loop, which alone changes what subscribers read."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._published, messages, done)

    def _published(self, messages: list[bytes], done: int) -> None:
        self.messages.extend(messages)
        self.head += len(messages)
        while len(self.messages) > self.keep:
            self.messages.popleft()
            self.first += 1
        self.projected = done
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    # -- the subscribers --------------------------------------------------------------

    async def subscribe(self, after: int) -> AsyncIterator[bytes]:
        """Every event after position `after`, then each one as it is appended, with
        the read models' progress; a comment now and then when nothing happens."""
        told = 0
        while True:
            tick = self._tick
            chunk: list[bytes] = []
            if after + 1 < self.first:
                page = await anyio.to_thread.run_sync(self._read, after)
                chunk = [appended(e) for e in page]
                if page:
                    after = page[-1].position or after
            elif after < self.head:
                chunk = list(_since(self.messages, after + 1 - self.first))
                after = self.head
            if self.projected > told and self.projected <= after:
                told = self.projected
                chunk.append(projected(told))
            if chunk:
                yield b"".join(chunk)
                continue
            try:
                await asyncio.wait_for(tick.wait(), PING_EVERY)
            except TimeoutError:
                yield PING

    def _read(self, after: int) -> list[Envelope]:
        """Events older than memory holds, from the store: a page after `after`."""
        return list(self.store.read_all(after=after, through=min(after + PAGE, self.first - 1)))


def _since(messages: collections.deque[bytes], start: int) -> Iterable[bytes]:
    return itertools.islice(messages, max(0, start), None)
