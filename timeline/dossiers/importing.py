"""Importing dossier files of any size: read, checked and appended a batch at a time, in
one transaction, so that memory holds one batch and the import is still all or nothing.

Each file's header is resolved against the dossier's stored and earlier
headers first (`files.declare_header`); then each batch of events is checked
(codes, references, corrections) and appended to the transaction, where the
next batches' references find it. A reference to an event that comes later in
the import is held until the end and resolved then. A key used twice meets the
store's unique index: with other content it is an error, with the same it is
"already present", as on a re-import.

A JSON Lines file of `PARALLEL_FROM` bytes or more, on a machine with cores
to spare, is decoded by worker processes (`timeline.dossiers.decoding`):
this process then checks each batch's keys, appends its rows as the workers
encoded them, and checks its references against the store, the batch
included. The events, the errors and the lines they name are those of the
one-process path; a batch that meets a stored event takes that path.
"""

from __future__ import annotations

import collections
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import attrs

from events import DossierDeclared, Envelope
from timeline.dossiers import decoding, files
from timeline.errors import DossierError, DuplicateEvent
from timeline.store.event_store import Appending, EventStore

log = logging.getLogger("timeline.import")

BATCH = 5_000
"""Events checked and appended at a time."""

PARALLEL_FROM = 16 * 2**20
"""JSON Lines files from this size (bytes) are decoded by worker processes."""

Progress = Callable[[str, int], None]
"""Told the file being read and the events read so far."""


@attrs.frozen(kw_only=True)
class Report:
    """Per dossier: events appended, events already stored, and what headers changed."""

    appended: dict[str, int]
    unchanged: dict[str, int]
    declared: dict[str, tuple[str, ...]]


@attrs.frozen(kw_only=True)
class _Held:
    """A reference not found when its event was checked: resolved at the end."""

    envelope: Envelope
    field: str
    ref: str
    fail: files.Fail


class Import:
    """One import into one transaction (`EventStore.appending`)."""

    def __init__(
        self,
        session: Appending,
        batch: int = BATCH,
        *,
        workers: int | None = None,
        parallel_from: int = PARALLEL_FROM,
    ) -> None:
        self.session, self.batch = session, batch
        self._pool = decoding.Pool(decoding.workers() if workers is None else workers)
        self._parallel_from = parallel_from
        self._codes: dict[str, files.Codes] = {}
        self._held: list[_Held] = []
        self._appended: collections.Counter[str] = collections.Counter()
        self._unchanged: collections.Counter[str] = collections.Counter()
        self._declared: dict[str, list[str]] = {}
        self.stored = 0
        """Events appended so far, declarations included."""

    def run(self, paths: Sequence[Path], progress: Progress | None = None) -> Report:
        """Import every file, then resolve what was held; raises at the first error."""
        try:
            for path in paths:
                with files.opened(path) as found:
                    self._file(found, progress)
        finally:
            self._pool.close()
        self._resolve_held()
        dossiers = list(self._codes)  # every dossier a file named, in order
        return Report(
            appended={d: self._appended[d] for d in dossiers},
            unchanged={d: self._unchanged[d] for d in dossiers},
            declared={d: tuple(news) for d, news in self._declared.items() if news},
        )

    def _file(self, found: files.Opened, progress: Progress | None) -> None:
        codes = self._codes.get(found.dossier)
        if codes is None:
            codes = self._codes[found.dossier] = files.Codes()
            for stored in self.session.declarations(found.dossier):
                assert isinstance(stored.event, DossierDeclared)
                codes.declare(stored.event)
        declaration, news = files.declare_header(found, codes, stored=True)
        if declaration is not None:
            self.stored += len(self.session.append({found.dossier: [declaration]}))
            self._declared.setdefault(found.dossier, []).extend(news)
        known, read = codes.known(), 0
        if self._decoded_elsewhere(found):
            assert isinstance(found.records, files.JSONLines)
            dialect = self.session.conn.dialect.name
            lines = found.records.lines
            for batch in self._pool.batches(found, lines, known, dialect, self.batch):
                self._append_decoded(found, batch, known)
                read += len(batch.decoded)
                if progress is not None:
                    progress(found.path, read)
        else:
            for chunk in _batched(found.envelopes(), self.batch):
                self._append(found, chunk, known)
                read += len(chunk)
                if progress is not None:
                    progress(found.path, read)
        log.info("read %s: %d events, checked", found.path, read)

    def _decoded_elsewhere(self, found: files.Opened) -> bool:
        """Whether worker processes decode the file: a JSON Lines file of at least
        `parallel_from` bytes, on a machine with cores to spare."""
        if not self._pool.size or not isinstance(found.records, files.JSONLines):
            return False
        try:
            return Path(found.path).stat().st_size >= self._parallel_from
        except OSError:  # standard input
            return False

    def _append_decoded(
        self, found: files.Opened, batch: decoding.Batch, known: files.Known
    ) -> None:
        """A batch decoded by the workers: its keys checked, its rows appended, then its
        references checked against what they name (the batch itself included)."""
        if batch.error is not None:  # as the serial path, before the batch's own checks
            raise batch.error
        if batch.decoded:
            EventStore.check_name("dossier", found.dossier, batch.decoded[0].key)
        lines: dict[str, int] = {}
        for decoded in batch.decoded:
            if decoded.key in lines:
                duplicate = f"duplicate key, first used on line {lines[decoded.key]}"
                raise DossierError(
                    found.path, decoded.line, duplicate, key=decoded.key, field="key"
                )
            lines[decoded.key] = decoded.line
            EventStore.check_name("key", decoded.key, decoded.key)
        appended = self.session.append_facts(found.dossier, [d.fact for d in batch.decoded])
        if appended is None:  # an event already stored: the envelopes sort out which
            self._append(found, [self._again(found, d, batch) for d in batch.decoded], known)
            return
        self.stored += appended
        self._appended[found.dossier] += appended
        referring = [self._again(found, d, batch) for d in batch.decoded if d.refers]
        wanted = {ref for envelope, _ in referring for ref in envelope.event.references().values()}
        stored = self.session.find(found.dossier, wanted)
        for envelope, record in referring:
            fail = files.failing_at(found.path, envelope, record)
            for field, ref in envelope.event.references().items():
                target = stored.get(ref)
                if target is None:
                    self._held.append(_Held(envelope=envelope, field=field, ref=ref, fail=fail))
                else:
                    files.check_target(envelope, field, ref, target, known, fail)

    @staticmethod
    def _again(
        found: files.Opened, decoded: decoding.Decoded, batch: decoding.Batch
    ) -> tuple[Envelope, files.Record]:
        """An event a worker decoded, decoded again here from its line."""
        record = files.record_of(found.path, decoded.line, batch.lines[decoded.line])
        return files.envelope_of(found.context, found.dossier, record), record

    def _append(
        self,
        found: files.Opened,
        chunk: list[tuple[Envelope, files.Record]],
        known: files.Known,
    ) -> None:
        names: dict[str, Envelope] = {}
        lines: dict[str, int] = {}
        for envelope, record in chunk:
            if envelope.key in lines:
                duplicate = f"duplicate key, first used on line {lines[envelope.key]}"
                raise DossierError(
                    found.path, record.line, duplicate, key=envelope.key, field="key"
                )
            lines[envelope.key] = record.line
            names[envelope.key] = names[str(envelope.id)] = envelope
        wanted = {ref for e, _ in chunk for ref in e.event.references().values()} - set(names)
        stored = self.session.find(found.dossier, wanted)
        for envelope, record in chunk:
            fail = files.failing_at(found.path, envelope, record)
            files.check_codes(known, envelope.event, fail)
            for field, ref in envelope.event.references().items():
                target = names.get(ref) or stored.get(ref)
                if target is None:
                    self._held.append(_Held(envelope=envelope, field=field, ref=ref, fail=fail))
                else:
                    files.check_target(envelope, field, ref, target, known, fail)
        try:
            appended = self.session.append({found.dossier: [e for e, _ in chunk]})
        except DuplicateEvent as err:
            raise _located(found.path, chunk, err) from err
        self.stored += len(appended)
        self._appended[found.dossier] += len(appended)
        self._unchanged[found.dossier] += len(chunk) - len(appended)
        if len(appended) < len(chunk):
            self._refuse_repeats(found, chunk, {e.id for e in appended})

    def _refuse_repeats(
        self,
        found: files.Opened,
        chunk: list[tuple[Envelope, files.Record]],
        appended: set[uuid.UUID],
    ) -> None:
        """Events the store already held are "already present", unless this import
        appended them: then a key was used twice."""
        kept = [(e, record) for e, record in chunk if e.id not in appended]
        held = self.session.find(found.dossier, [e.key for e, _ in kept])
        for envelope, record in kept:
            stored = held.get(envelope.key)
            if stored is not None and (stored.position or 0) > self.session.start:
                duplicate = "duplicate key, used earlier in this import"
                raise DossierError(
                    found.path, record.line, duplicate, key=envelope.key, field="key"
                )

    def _resolve_held(self) -> None:
        by_dossier: dict[str, list[_Held]] = {}
        for held in self._held:
            by_dossier.setdefault(held.envelope.dossier, []).append(held)
        for dossier, waiting in by_dossier.items():
            found = self.session.find(dossier, {held.ref for held in waiting})
            known = self._codes[dossier].known()
            for held in waiting:
                target = found.get(held.ref)
                files.check_target(held.envelope, held.field, held.ref, target, known, held.fail)


def _located(
    path: str, chunk: Iterable[tuple[Envelope, files.Record]], err: DuplicateEvent
) -> DossierError:
    """The store's refusal of a key, pointed at the line of the event it refused."""
    line = next((record.line for e, record in chunk if e.key == err.key), None)
    return DossierError(path, line, str(err), key=err.key, field="key")


def _batched(
    pairs: Iterator[tuple[Envelope, files.Record]], size: int
) -> Iterator[list[tuple[Envelope, files.Record]]]:
    while chunk := list(itertools.islice(pairs, size)):
        yield chunk
