"""The engine's facade: what the CLI and Python callers use.

It turns user dates into cutoffs (projections take only instants and never
read a clock) and is the only place that wires the store to the projections.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs

from events import DossierDeclared, Envelope, InvalidEvent, Occurred
from projections import Diff, State, diff, project
from timeline import dossier as dossier_files
from timeline import snapshots
from timeline.errors import DossierError, DuplicateEvent
from timeline.store import EventStore


def _located(files: Sequence[dossier_files.DossierFile], err: DuplicateEvent) -> DossierError:
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
    """What an import did, per dossier: events appended and already present."""

    files: int
    appended: dict[str, int]
    unchanged: dict[str, int]

    @property
    def total_appended(self) -> int:
        return sum(self.appended.values())


class Timeline:
    """Import, log, state and diff over one event store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str | None = None) -> Timeline:
        return cls(EventStore.open(url))

    def import_files(self, paths: Sequence[Path]) -> ImportReport:
        """Validate every file, then append them all in one transaction, or nothing."""
        files = [dossier_files.read_file(path) for path in paths]
        dossier_files.check_references(files, self.store.find)
        batches: dict[str, list[Envelope]] = {}
        for dossier_file in files:
            batch = batches.setdefault(dossier_file.dossier, [])
            batch.append(dossier_file.declared)
            batch.extend(dossier_file.envelopes)
        try:
            stored = self.store.append_batches(batches)
        except DuplicateEvent as err:
            raise _located(files, err) from err
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
        return ImportReport(files=len(files), appended=appended, unchanged=unchanged)

    def log(
        self,
        *,
        dossier: str | None = None,
        actor: str | None = None,
        types: Iterable[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        known_at: str | dt.datetime | None = None,
    ) -> list[Envelope]:
        """The chronological feed (valid time, then key), declarations left out."""
        selected = self.store.read_all(
            dossier=dossier,
            types=list(types) if types else None,
            occurred_from=Occurred.parse(start).start if start else None,
            occurred_to=cutoff(end) if end else None,
            recorded_before=cutoff(known_at) if known_at else None,
        )
        feed = [
            e
            for e in selected
            if not isinstance(e.event, DossierDeclared)
            and (actor is None or actor in e.event.named_actors())
        ]
        return sorted(feed, key=lambda e: (e.occurred.start, e.occurred.end, e.key))

    def _events(self, dossier: str | None, known_at: dt.datetime | None) -> Iterator[Envelope]:
        return self.store.read_all(dossier=dossier, recorded_before=known_at)

    def state(
        self,
        as_of: str | dt.datetime,
        *,
        known_at: str | dt.datetime | None = None,
        dossier: str | None = None,
    ) -> State:
        """Everyone's position as of a valid time, as the store knew it at `known_at`.

        Across all dossiers and as known now, it resumes from the nearest
        snapshot the projector left (`timeline project`); otherwise it folds
        every event, which gives the same state, only slower.
        """
        if known_at is None and dossier is None:
            return snapshots.resume(self.store, cutoff(as_of))
        known = cutoff(known_at) if known_at is not None else None
        return project(self._events(dossier, known), as_of=cutoff(as_of), known_at=known)

    def diff(
        self,
        start: str | dt.datetime,
        end: str | dt.datetime,
        *,
        known_at: str | dt.datetime | None = None,
        dossier: str | None = None,
    ) -> Diff:
        """What changed between two valid times, each change with its events.

        Across all dossiers and as known now, the fold resumes once from a
        snapshot (see `state`) and runs on from one date to the other, reading
        the events up to the position stored when the diff began. Otherwise
        both fold the events, read once.
        """
        if known_at is None and dossier is None:
            moments = [cutoff(start), cutoff(end)]
            before, after = snapshots.resume_at(self.store, moments, through=self.store.head())
            return diff(before, after)
        known = cutoff(known_at) if known_at is not None else None
        events = list(self._events(dossier, known))
        before = project(events, as_of=cutoff(start), known_at=known)
        after = project(events, as_of=cutoff(end), known_at=known)
        return diff(before, after)
