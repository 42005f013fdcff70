"""The engine's facade: what the CLI and Python callers use.

It turns user dates into cutoffs (projections take only instants and never
read a clock) and is the only place that wires the store to the projections.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from events import DossierDeclared, Envelope, InvalidEvent, Occurred
from projections import SECTIONS, Diff, Filter, State, Version
from projections.record import SortKey
from timeline.errors import DossierError, DuplicateEvent, UnknownItem, UnknownName
from timeline.log import Corrections, Entry, feed
from timeline.readmodels import catalogue
from timeline.readmodels.projector import Projector, checkpoint
from timeline.readmodels.reader import Reader
from timeline.store import EventStore

if TYPE_CHECKING:
    from timeline.dossiers.files import DossierFile


def _located(files: Sequence[DossierFile], err: DuplicateEvent) -> DossierError:
    """The store's refusal, pointed at the file and line of the event it refused."""
    for dossier_file in files:
        if dossier_file.dossier == err.dossier and err.key in dossier_file.lines:
            return DossierError(
                dossier_file.path,
                dossier_file.line_of(err.key),
                str(err),
                key=err.key,
                field="key",
            )
    return DossierError(files[0].path if files else "", None, str(err), key=err.key)


def cutoff(when: str | dt.datetime) -> dt.datetime:
    """ "As of WHEN" as an exclusive instant: the end of the day, week, month...

    A datetime is taken as the instant itself, so what happened at it counts.
    """
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            raise InvalidEvent("", f"expected a timezone-aware datetime, got {when!r}")
        return Occurred.parse(when.isoformat()).end
    return Occurred.parse(when).end


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import did, per dossier: events appended and already present, and what
    the headers changed in the declarations."""

    files: int
    appended: dict[str, int]
    unchanged: dict[str, int]
    declared: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """What headers declared anew in stored dossiers: new codes, other names or categories."""

    @property
    def total_appended(self) -> int:
        return sum(self.appended.values())


log = logging.getLogger("timeline.import")


class Timeline:
    """Import, log, state, diff and history over one event store.

    With `catch_up` (the default) every read first brings the read models
    up to date; a server with a follower of its own turns it off.
    """

    def __init__(self, store: EventStore, *, catch_up: bool = True) -> None:
        self.store = store
        self.catch_up = catch_up
        self.projector = Projector(store)
        self.reader = Reader(store)
        self.corrections = Corrections(store)
        self._names: tuple[tuple[int, int], dict[str, set[str]]] | None = None
        """The names, and the store's head and the read models' position they are of."""

    @classmethod
    def open(cls, url: str | None = None) -> Timeline:
        return cls(EventStore.open(url))

    def import_files(
        self,
        paths: Sequence[Path],
        *,
        batch: int | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> ImportReport:
        """Validate and append every file in one transaction, or nothing, `batch` events
        at a time (see `timeline.dossiers.importing`): any size fits in memory.

        `Path("-")` is standard input. `progress` hears of each batch.
        """
        from timeline.dossiers import importing  # YAML and ISO codes: imports only

        with self.store.appending() as session:
            work = importing.Import(session, batch or importing.BATCH)
            done = work.run(paths, progress)
        log.info("appended %d new events in one transaction", work.stored)
        return ImportReport(
            files=len(paths),
            appended=done.appended,
            unchanged=done.unchanged,
            declared=done.declared,
        )

    def import_dossiers(self, files: Sequence[DossierFile]) -> ImportReport:
        """Check the references of dossiers already read, then append them all in one
        transaction, or nothing."""
        from timeline.dossiers.files import resolve

        resolution = resolve(files, self.store)
        batches: dict[str, list[Envelope]] = {}
        for dossier_file in files:
            batches.setdefault(dossier_file.dossier, [])
        for name, declarations in resolution.declarations.items():
            batches[name].extend(declarations)
        for dossier_file in files:
            batches[dossier_file.dossier].extend(dossier_file.envelopes)
        log.info("references resolve; appending %d events", sum(map(len, batches.values())))
        try:
            stored = self.store.append_batches(batches)
        except DuplicateEvent as err:
            raise _located(files, err) from err
        log.info("appended %d new events in one transaction", len(stored))
        # Declarations are bookkeeping: counts are of the files' own events.
        appended = dict.fromkeys(batches, 0)
        for envelope in stored:
            if not isinstance(envelope.event, DossierDeclared):
                appended[envelope.dossier] += 1
        unchanged = dict.fromkeys(batches, 0)
        for dossier_file in files:
            unchanged[dossier_file.dossier] += len(dossier_file.envelopes)
        for name in unchanged:
            unchanged[name] -= appended[name]
        declared = {name: tuple(news) for name, news in resolution.changes.items() if news}
        return ImportReport(
            files=len(files), appended=appended, unchanged=unchanged, declared=declared
        )

    def log(
        self,
        *,
        dossier: str | None = None,
        actor: str | None = None,
        types: Iterable[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        known_at: str | dt.datetime | None = None,
        raw: bool = False,
        retracted: bool = False,
        after: SortKey | None = None,
    ) -> Iterator[Entry]:
        """The chronological feed (valid time, then key): facts as corrected, or as recorded,
        lazily, from just after the entry whose `fold_order` is `after`.

        See `timeline.log`; an unknown dossier or actor is an `UnknownName` error.
        """
        self.where(dossier=dossier, actor=actor)
        return feed(
            self.store,
            dossier=dossier,
            actor=actor,
            types=list(types) if types else None,
            start=Occurred.parse(start).start if start else None,
            end=cutoff(end) if end else None,
            known_at=cutoff(known_at) if known_at else None,
            raw=raw,
            retracted=retracted,
            after=after,
            corrections=self.corrections,
        )

    # -- the read side ---------------------------------------------------------------

    def _fresh(self) -> tuple[int, int]:
        """Bring the read models up to date; the store's head and their position.

        Reads bring the read models up to date themselves (as `timeline
        project` does), so a state is never older than the store. A
        follower running beside them makes this a no-op.
        """
        head = self.store.head()
        with self.store.engine.connect() as conn:
            projected = checkpoint(conn)
        if self.catch_up and projected < head:
            self.projector.catch_up()
            with self.store.engine.connect() as conn:
                projected = checkpoint(conn)
        return head, projected

    def where(
        self,
        *,
        dossier: str | None = None,
        actor: str | None = None,
        issue: str | None = None,
        sections: Iterable[str] | None = None,
    ) -> Filter:
        """A filter of names the store knows; an unknown one is an `UnknownName` error."""
        known = dict(self.names())
        if actor is not None and actor not in known["actor"]:
            from timeline.dossiers.files import ISO_STATES  # states no item names yet

            known["actor"] = known["actor"] | ISO_STATES
        for kind, value in (("dossier", dossier), ("actor", actor), ("issue", issue)):
            if value is not None and value not in known[kind]:
                raise UnknownName(kind, value, known[kind])
        chosen = tuple(sections) if sections else tuple(SECTIONS)
        for section in chosen:
            if section not in SECTIONS:
                raise UnknownName("section", section, set(SECTIONS))
        return Filter(dossier=dossier, actor=actor, issue=issue, sections=chosen)

    def names(self) -> dict[str, set[str]]:
        """The dossiers the store holds, and the actors and issues they declared.

        Kept until an event is appended or projected: every filtered read checks
        its names, and reading them costs as much as a point query.
        """
        seen, cached = self._fresh(), self._names
        if cached is None or cached[0] != seen:
            cached = self._names = (seen, self.reader.names())
        return cached[1]

    def state(
        self,
        as_of: str | dt.datetime,
        *,
        known_at: str | dt.datetime | None = None,
        dossier: str | None = None,
        actor: str | None = None,
        issue: str | None = None,
        sections: Iterable[str] | None = None,
    ) -> State:
        """The state as of a valid time, as the store knew it at `known_at` (default: now),
        of the items the filters name."""
        where = self.where(dossier=dossier, actor=actor, issue=issue, sections=sections)
        known = cutoff(known_at) if known_at is not None else None
        return self.reader.state(cutoff(as_of), known_at=known, where=where)

    def state_document(
        self,
        as_of: str | dt.datetime,
        *,
        known_at: str | dt.datetime | None = None,
        dossier: str | None = None,
        actor: str | None = None,
        issue: str | None = None,
        sections: Iterable[str] | None = None,
    ) -> Iterator[str]:
        """`state` as its `timeline.state/2` JSON, in pieces of text, which the database
        writes: a dossier's whole state without an object per item."""
        where = self.where(dossier=dossier, actor=actor, issue=issue, sections=sections)
        known = cutoff(known_at) if known_at is not None else None
        return self.reader.document(cutoff(as_of), known_at=known, where=where)

    def diff(
        self,
        start: str | dt.datetime,
        end: str | dt.datetime,
        *,
        known_at: str | dt.datetime | None = None,
        from_known_at: str | dt.datetime | None = None,
        to_known_at: str | dt.datetime | None = None,
        dossier: str | None = None,
        actor: str | None = None,
        issue: str | None = None,
        sections: Iterable[str] | None = None,
    ) -> Diff:
        """What changed between two valid times, each change with the events behind it.

        `known_at` sets both sides' transaction time; `from_known_at` and
        `to_known_at` set each side's, so "what did the corrections since K
        change" is ``diff(t, t, from_known_at=K)``.
        """
        where = self.where(dossier=dossier, actor=actor, issue=issue, sections=sections)
        both = cutoff(known_at) if known_at is not None else None
        before = cutoff(from_known_at) if from_known_at is not None else both
        after = cutoff(to_known_at) if to_known_at is not None else both
        return self.reader.diff(
            cutoff(start), cutoff(end), from_known_at=before, to_known_at=after, where=where
        )

    def history(
        self,
        section: str,
        key: Sequence[str],
        *,
        dossier: str | None = None,
        known_at: str | dt.datetime | None = None,
    ) -> tuple[tuple[str, ...], tuple[Version, ...]]:
        """Every version of one item (its key without the dossier), oldest first.

        Without `dossier`, the item must be found in exactly one dossier.
        Returns the item's whole key and its versions.
        """
        self.where(dossier=dossier, sections=[section])
        found = self.reader.dossiers_of(section, tuple(key))
        if dossier is not None:
            found = [d for d in found if d == dossier]
        if len(found) != 1:
            raise UnknownItem(section, tuple(key), found)
        whole = (found[0], *key)
        known = cutoff(known_at) if known_at is not None else None
        return whole, self.reader.history(section, whole, known_at=known)

    def dossiers(self) -> list[catalogue.Summary]:
        """Every dossier the store holds, with its title and counts."""
        self._fresh()
        return catalogue.summaries(self.store)

    def dossier(self, name: str) -> catalogue.Dossier:
        """One dossier's declared names, sources and counts; an unknown one is an
        `UnknownName` error."""
        known = self.names()["dossier"]
        found = catalogue.dossier(self.store, name) if name in known else None
        if found is None:
            raise UnknownName("dossier", name, known)
        return found
