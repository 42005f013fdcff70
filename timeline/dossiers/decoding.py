"""Decoding a large JSON Lines dossier in other processes, while the import appends.

Reading an event from its line (parsing, validating, building the envelope,
checking its codes, encoding its row) costs an import more than the store
takes to append it; in one process that work and the append take turns.
Here worker processes decode a batch of lines each and send back what the
importing process needs of every event: its key, its line, whether it
names other events, and its row without its place in the store
(`rows.fact`), which the store numbers and appends as it is. Batches come
back in file order, a few ahead at most, so memory still holds a few
batches whatever the file's size, and the first error in the file is the
one reported. Events that make references are decoded again by the importer,
which checks them against their targets once the batch is stored.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future
from typing import NamedTuple

from timeline.dossiers import files
from timeline.errors import DossierError
from timeline.store import rows

WORKERS = 4
"""At most this many decoding processes (and never more than the machine's cores)."""


class Decoded(NamedTuple):
    """What the importer needs of one event a worker decoded."""

    key: str
    line: int
    refers: bool
    """Whether it names other events (the importer decodes it again to check them)."""
    fact: rows.Fact | str
    """Its row without its place: `rows.fact`, as COPY text on PostgreSQL."""


class Batch(NamedTuple):
    """A batch of lines decoded: the events before the first error, and that error."""

    decoded: list[Decoded]
    error: DossierError | None
    lines: dict[int, str]
    """The batch's lines by number, as read (for the events the importer decodes again)."""


class _Task(NamedTuple):
    name: str
    context: files._Context
    dossier: str
    known: files.Known
    dialect: str
    lines: list[tuple[int, str]]


def workers() -> int:
    """How many decoding processes this machine gives an import: none on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    found = min(WORKERS, cores or 1)
    return found if found > 1 else 0


class Pool:
    """Decoding processes, started when first asked for and stopped with `close`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def batches(
        self,
        found: files.Opened,
        lines: Iterator[tuple[int, str]],
        known: files.Known,
        dialect: str,
        size: int,
    ) -> Iterator[Batch]:
        """The events of `lines` decoded, a batch of `size` lines at a time, in order."""
        if self._executor is None:
            # Forked where the system can: a worker starts at once, with the modules it
            # needs, and never runs the importing program's main module again (a script
            # without a ``__main__`` guard). It never touches the database connection it
            # inherits, and ends without running finalizers.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            self._executor = concurrent.futures.ProcessPoolExecutor(self.size, context)
        pending: collections.deque[tuple[Future[_Decoded], list[tuple[int, str]]]]
        pending = collections.deque()
        unreadable: DossierError | None = None  # raised after the lines before it
        while unreadable is None:
            chunk: list[tuple[int, str]] = []
            try:
                chunk.extend(itertools.islice(lines, size))
            except DossierError as err:  # text that is not UTF-8
                unreadable = err
            if chunk:
                task = _Task(found.path, found.context, found.dossier, known, dialect, chunk)
                pending.append((self._executor.submit(_decode, task), chunk))
            if len(pending) > self.size:
                yield _batch(*pending.popleft())
            if len(chunk) < size:
                break
        while pending:
            yield _batch(*pending.popleft())
        if unreadable is not None:
            raise unreadable

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)


_Decoded = tuple[list[Decoded], DossierError | None]


def _batch(future: Future[_Decoded], lines: list[tuple[int, str]]) -> Batch:
    decoded, error = future.result()
    return Batch(decoded, error, dict(lines))


def _decode(task: _Task) -> _Decoded:
    """One batch of lines decoded, up to the first error (in a worker)."""
    decoded: list[Decoded] = []
    for number, text in task.lines:
        try:
            record = files.record_of(task.name, number, text)
            envelope = files.envelope_of(task.context, task.dossier, record)
            fail = files.failing_at(task.name, envelope, record)
            files.check_codes(task.known, envelope.event, fail)
        except DossierError as err:
            return decoded, err
        refers = bool(envelope.event.references())
        values = rows.fact(envelope, task.dialect)
        fact = rows.copy_text(values) if task.dialect == "postgresql" else values
        decoded.append(Decoded(envelope.key, number, refers, fact))
    return decoded, None
