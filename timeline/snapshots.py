"""Folds paused at valid-time cutoffs, so a long history is not refolded from its start.

A snapshot holds the fold of every fact that starts before its `cutoff`, as
of every event up to its `position`. The projector keeps snapshots true up
to its checkpoint: in the transaction that moves the checkpoint past a late
fact or a correction, it deletes the snapshots that event makes stale.
Events past the checkpoint are checked at read time: `resume` only trusts a
snapshot that every event after the checkpoint leaves alone.

Corrections, retractions and declarations apply whatever the valid time, so
folding on from a cutoff needs those that still reach past it, and their
targets. Each snapshot carries them (its `Context`), so resuming reads only
the facts after the cutoff and the fixes recorded since the snapshot.

Snapshots are pickles tagged with a fingerprint of the projection code:
after an upgrade they are ignored, never unpickled into changed classes,
until the projector writes new ones. They are derived data in the engine's
own tables, never events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import pickle
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import events
import projections
from events import DossierDeclared, Envelope, EventCorrected, EventRetracted, Occurred
from projections import FOLDED_TYPES, Fold, State, advance, fold_order, freeze, settle
from projections.record import uuid_int
from timeline.memory import collector_paused
from timeline.schema import checkpoints, snapshots
from timeline.schema import events as events_table
from timeline.store import EventStore

END_OF_TIME = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
BEGINNING = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
PROJECTOR = "read-models"
KEEP_LATEST = 4
"""Snapshots kept however close together: the newest, for late facts and recent as-of."""
FIX_CLASSES = (EventCorrected, EventRetracted)
# Events that apply at every valid time: fixes, and declarations (categories).
TIMELESS = (*FIX_CLASSES, DossierDeclared)
TIMELESS_TYPES = tuple(cls.type for cls in TIMELESS)
# Pickles hold classes of `events` and `projections` and the shape saved here.
FINGERPRINT = hashlib.sha256(
    b"".join(
        path.read_bytes()
        for folder in (Path(events.__file__).parent, Path(projections.__file__).parent)
        for path in sorted(folder.glob("*.py"))
    )
    + Path(__file__).read_bytes()
).hexdigest()


_Name = tuple[str, str] | int
"""What a reference may stand for: a (dossier, key), or an id as an integer."""


def _names(dossier: str, reference: str) -> list[_Name]:
    """Every event `reference`, made in `dossier`, may name."""
    number = uuid_int(reference)
    return [(dossier, reference)] if number is None else [(dossier, reference), number]


class Context:
    """Every correction, retraction and declaration, with the events they name.

    Fixes are a small share of a history; holding them lets a fold start at
    any cutoff and still apply every fix that reaches past it.
    """

    def __init__(self, envelopes: Iterable[Envelope] = ()) -> None:
        self.envelopes: dict[uuid.UUID, Envelope] = {}
        self._keys: dict[tuple[str, str], Envelope] = {}
        self._ids: dict[int, Envelope] = {}
        # Corrections by every name their reference may stand for: a fix of
        # an event must also reach wherever a correction has moved that event.
        self._corrections: dict[_Name, list[Envelope]] = {}
        # `latest_reach` by fix, for as long as no event joins: every snapshot
        # of a first pass asks it of every fix.
        self._latest_reach: dict[uuid.UUID, dt.datetime] = {}
        for envelope in envelopes:
            self._keep(envelope)

    def _keep(self, envelope: Envelope) -> None:
        self._latest_reach.clear()  # a new fix or target may move any reach
        self.envelopes[envelope.id] = envelope
        self._keys[(envelope.dossier, envelope.key)] = envelope
        self._ids[envelope.id.int] = envelope
        if isinstance(envelope.event, EventCorrected):
            for name in _names(envelope.dossier, envelope.event.corrects):
                self._corrections.setdefault(name, []).append(envelope)

    def _moved_to(self, target: Envelope) -> list[dt.datetime]:
        """Every valid start a correction may give `target`."""
        starts = []
        for name in ((target.dossier, target.key), target.id.int):
            for correction in self._corrections.get(name, ()):
                assert isinstance(correction.event, EventCorrected)  # indexed only if so
                moved = correction.event.new_values().get("occurred")
                if moved is not None:
                    starts.append(Occurred.parse(str(moved)).start)
        return starts

    def add(self, store: EventStore, fixes: Iterable[Envelope]) -> None:
        """Hold `fixes` and, read from the store, the events they name.

        A reference names an event by key in the fix's own dossier, else by
        id in any dossier, in any spelling of the id: as the pure projection
        resolves it. One query per dossier, and one for ids found nowhere else.
        """
        wanted: dict[str, set[str]] = {}
        for fix in fixes:
            self._keep(fix)
            for reference in fix.event.references().values():
                if (fix.dossier, reference) not in self._keys:
                    wanted.setdefault(fix.dossier, set()).add(reference)
        elsewhere = []
        for dossier, references in wanted.items():
            found = store.find(dossier, references)
            for reference in references:
                if reference in found:
                    self._keep(found[reference])
                elif (number := uuid_int(reference)) is not None and number not in self._ids:
                    elsewhere.append(uuid.UUID(int=number))
        for envelope in store.find_ids(elsewhere).values():
            self._keep(envelope)

    def target(self, fix: Envelope, reference: str) -> Envelope | None:
        """The held event `reference` names: by key in the fix's dossier, else by id."""
        found = self._keys.get((fix.dossier, reference))
        if found is None and (number := uuid_int(reference)) is not None:
            found = self._ids.get(number)
        return found

    def names(self, envelope: Envelope) -> bool:
        """Whether some fix held here names `envelope`."""
        return envelope.id in self.envelopes and not isinstance(envelope.event, TIMELESS)

    def _touched(self, fix: Envelope) -> list[dt.datetime] | None:
        """Every valid start a fix touches: its targets' old and new starts, and
        those the fixes it names touch in turn, however long (or circular) the
        chain. None when it names a declaration: categories hold at every time."""
        starts: list[dt.datetime] = []
        pending, seen = [fix], set()
        while pending:
            current = pending.pop()
            if current.id in seen:
                continue
            seen.add(current.id)
            if isinstance(current.event, DossierDeclared):
                return None
            for reference in current.event.references().values():
                target = self.target(current, reference)
                if target is None:
                    continue
                if isinstance(target.event, DossierDeclared):
                    return None
                starts.append(target.occurred.start)
                starts.extend(self._moved_to(target))
                if isinstance(target.event, FIX_CLASSES):
                    pending.append(target)
            if isinstance(current.event, EventCorrected):
                moved = current.event.new_values().get("occurred")
                if moved is not None:
                    starts.append(Occurred.parse(str(moved)).start)
        return starts

    def reach(self, fix: Envelope) -> dt.datetime:
        """The earliest valid time a fix changes."""
        starts = self._touched(fix)
        return BEGINNING if starts is None else min(starts, default=END_OF_TIME)

    def latest_reach(self, fix: Envelope) -> dt.datetime:
        """The latest valid time a fix touches: where it still matters to a fold."""
        known = self._latest_reach.get(fix.id)
        if known is None:
            starts = self._touched(fix)
            known = END_OF_TIME if starts is None else max(starts, default=BEGINNING)
            self._latest_reach[fix.id] = known
        return known

    def beyond(self, cutoff: dt.datetime) -> list[Envelope]:
        """What a fold resumed at `cutoff` still needs: fixes that reach past it,
        their targets, and every declaration."""
        kept: dict[uuid.UUID, Envelope] = {}
        for envelope in self.envelopes.values():
            event = envelope.event
            if isinstance(event, DossierDeclared) or (
                isinstance(event, FIX_CLASSES) and self.latest_reach(envelope) >= cutoff
            ):
                kept[envelope.id] = envelope
                pending = [envelope]
                while pending:
                    current = pending.pop()
                    for reference in current.event.references().values():
                        target = self.target(current, reference)
                        if target is not None and target.id not in kept:
                            kept[target.id] = target
                            pending.append(target)
        return list(kept.values())


@attrs.frozen
class Snapshot:
    cutoff: dt.datetime
    position: int
    fold: bytes

    def thaw(self) -> tuple[Fold, list[Envelope]]:
        """The paused fold and the fixes it still needs."""
        thawed: tuple[Fold, list[Envelope]] = pickle.loads(self.fold)  # our table, fingerprinted
        return thawed


def save(
    conn: Connection,
    cutoff: dt.datetime,
    position: int,
    accumulator: Fold,
    context: Context,
    *,
    keep_every: int,
    keep_latest: int = KEEP_LATEST,
) -> None:
    """Store a snapshot and thin out older ones.

    The newest few stay, for late facts and recent as-of queries; beyond
    them the latest of every `keep_every` steps of fold (one per bucket of
    `step // keep_every`), so snapshots stay a bounded share of the
    database however long the history grows.
    """
    conn.execute(
        snapshots.insert().values(
            cutoff=cutoff,
            position=position,
            step=accumulator.step,
            fingerprint=FINGERPRINT,
            fold=pickle.dumps(
                (accumulator, context.beyond(cutoff)), protocol=pickle.HIGHEST_PROTOCOL
            ),
            created=dt.datetime.now(dt.UTC),
        )
    )
    newest = list(
        conn.scalars(
            sa.select(snapshots.c.id).order_by(snapshots.c.cutoff.desc()).limit(keep_latest)
        )
    )
    bucket_latest = sa.select(sa.func.max(snapshots.c.id)).group_by(snapshots.c.step // keep_every)
    conn.execute(
        snapshots.delete().where(
            snapshots.c.id.not_in(newest), snapshots.c.id.not_in(bucket_latest.scalar_subquery())
        )
    )


def drop_after(conn: Connection, moment: dt.datetime) -> None:
    """Forget snapshots that a change starting at `moment` makes stale."""
    conn.execute(snapshots.delete().where(snapshots.c.cutoff > moment))


def latest(
    conn: Connection, before: dt.datetime, *, through: int, min_step: int = 0
) -> Snapshot | None:
    """The snapshot with the latest cutoff at or before `before`, of this code's folds.

    Only snapshots at or before position `through` (the checkpoint) count:
    one a first pass saved before it committed may have been overtaken.
    `min_step` skips snapshots of shorter folds.
    """
    row = conn.execute(
        sa.select(snapshots.c.cutoff, snapshots.c.position, snapshots.c.fold)
        .where(
            snapshots.c.cutoff <= before,
            snapshots.c.position <= through,
            snapshots.c.fingerprint == FINGERPRINT,
            snapshots.c.step >= min_step,
        )
        .order_by(snapshots.c.cutoff.desc(), snapshots.c.id.desc())
        .limit(1)
    ).first()
    return Snapshot(row.cutoff, row.position, row.fold) if row else None


def checkpoint(conn: Connection, *, lock: bool = False) -> int:
    """The position the read models reflect; `lock` holds the row to the transaction's end."""
    query = sa.select(checkpoints.c.position).where(checkpoints.c.name == PROJECTOR)
    found = conn.execute(query.with_for_update() if lock else query).scalar()
    return int(found or 0)


def untouched_before(conn: Connection, after: int) -> dt.datetime:
    """The earliest valid time that events past position `after` may change.

    A correction, retraction or declaration may change anything: then no
    snapshot can be trusted and the answer is the beginning of time.
    """
    fixes = conn.execute(
        sa.select(sa.func.count())
        .select_from(events_table)
        .where(events_table.c.position > after, events_table.c.type.in_(TIMELESS_TYPES))
    ).scalar()
    if fixes:
        return BEGINNING
    earliest = conn.execute(
        sa.select(sa.func.min(events_table.c.occurred_start)).where(events_table.c.position > after)
    ).scalar()
    moment: dt.datetime | None = earliest
    return END_OF_TIME if moment is None else moment


def stream_facts(
    store: EventStore,
    context: Iterable[Envelope],
    cutoff: dt.datetime,
    as_of: dt.datetime,
    *,
    through: int | None = None,
) -> tuple[Iterator[Envelope], Mapping[str, str]]:
    """The settled facts starting in ``[cutoff, as_of)``, in fold order, and the categories.

    Streamed: however long the window, memory holds a page or two of it and the
    `context` (fixes and declarations, with the events they name). Those
    named events are settled once, here, and merged back in at their
    corrected valid time; the stream skips them, so a correction can move
    a fact across the cutoff either way.
    """
    held = {e.id: e for e in context if through is None or (e.position or 0) <= through}
    record = settle(held.values(), known_at=None)
    corrected = [f for f in record.facts if cutoff <= f.occurred.start < as_of]
    # Only what the fold reads, without citations: the state is the same.
    window = (
        e
        for e in store.read_started(
            cutoff, as_of, through=through, types=FOLDED_TYPES, sources=False
        )
        if e.id not in held
    )
    return _in_fold_order(window, corrected), record.categories


def _in_fold_order(by_start: Iterable[Envelope], others: Iterable[Envelope]) -> Iterator[Envelope]:
    """Envelopes given by valid start, and a few `others`, merged in full fold order.

    Only envelopes of one start need sorting, so the stream goes by in runs
    of one start, and each of the `others` joins the run of its start or
    goes before the next run. A heap merge would build and compare a sort
    key for every envelope of the stream.
    """
    pending = sorted(others, key=fold_order, reverse=True)  # the next one last
    run: list[Envelope] = []
    for envelope in by_start:
        start = envelope.occurred.start
        if run and start != run[0].occurred.start:
            yield from _sorted_run(run, pending)
            run = []
        while pending and pending[-1].occurred.start < start:
            yield pending.pop()
        run.append(envelope)
    if run:
        yield from _sorted_run(run, pending)
    yield from reversed(pending)


def _sorted_run(run: list[Envelope], pending: list[Envelope]) -> list[Envelope]:
    """A run of one start, with the pending others of that start, in fold order."""
    start = run[0].occurred.start
    while pending and pending[-1].occurred.start == start:
        run.append(pending.pop())
    return sorted(run, key=fold_order) if len(run) > 1 else run


def full_context(store: EventStore, *, through: int | None = None) -> Context:
    """Every fix and declaration up to `through`, with their targets."""
    context = Context()
    context.add(store, store.read_all(types=TIMELESS_TYPES, through=through))
    return context


def resume(
    store: EventStore,
    as_of: dt.datetime,
    *,
    use_snapshots: bool = True,
    through: int | None = None,
) -> State:
    """The state as of `as_of`, known now, from the nearest trustworthy snapshot.

    Without one (or with `use_snapshots` off) it folds from the first event,
    streaming, so memory holds the state and never the whole history.
    `through` leaves out events past that position: two states read with the
    same `through` see the same events, however many commit in between.
    """
    (state,) = resume_at(store, [as_of], use_snapshots=use_snapshots, through=through)
    return state


def resume_at(
    store: EventStore,
    moments: Sequence[dt.datetime],
    *,
    use_snapshots: bool = True,
    through: int | None = None,
) -> list[State]:
    """The states at several valid times, in the order given, from one snapshot.

    The fold resumes once, at the snapshot before the earliest moment, and
    runs on from one moment to the next, freezing a state at each: a diff
    over a month thaws one snapshot and folds one month, not two snapshots.
    """
    with collector_paused():
        found = _resume(store, sorted(set(moments)), use_snapshots=use_snapshots, through=through)
    return [found[moment] for moment in moments]


THAW_PER_STEP = 0.1
"""Thawing a snapshot costs about what folding a tenth of its steps does: a
fold runs on rather than thaw a snapshot less than a tenth ahead of it."""


def _resume(
    store: EventStore,
    moments: list[dt.datetime],
    *,
    use_snapshots: bool,
    through: int | None,
) -> dict[dt.datetime, State]:
    """The states at `moments` (ascending): each later one folds on from the one
    before, unless a snapshot well ahead of it is cheaper to thaw."""
    trusted, untouched = None, END_OF_TIME
    if use_snapshots:
        with store.engine.connect() as conn:
            reflected = checkpoint(conn)
            trusted = reflected if through is None else min(reflected, through)
            untouched = untouched_before(conn, reflected)
    accumulator, start, held = Fold(), BEGINNING, None
    states = {}
    for as_of in moments:
        snapshot = None
        if trusted is not None:
            # Once folding, a snapshot at step s is worth thawing if
            # s * (1 - THAW_PER_STEP) > the fold's step.
            min_step = 0 if held is None else math.ceil(accumulator.step / (1 - THAW_PER_STEP))
            with store.engine.connect() as conn:
                snapshot = latest(conn, min(as_of, untouched), through=trusted, min_step=min_step)
        if snapshot is not None and (held is None or snapshot.cutoff > start):
            accumulator, start, held = _thawed(store, snapshot, through)
        elif held is None:
            held = list(full_context(store, through=through).envelopes.values())
        facts, categories = stream_facts(store, held, start, as_of, through=through)
        advance(accumulator, facts)
        states[as_of] = freeze(accumulator, categories, as_of=as_of, known_at=None)
        start = as_of
    return states


def _thawed(
    store: EventStore, snapshot: Snapshot, through: int | None
) -> tuple[Fold, dt.datetime, list[Envelope]]:
    """A snapshot's fold, its cutoff, and the fixes it needs, those recorded since included."""
    accumulator, held = snapshot.thaw()
    context = Context(held)
    fixes = store.read_all(after=snapshot.position, types=TIMELESS_TYPES, through=through)
    context.add(store, fixes)
    return accumulator, snapshot.cutoff, list(context.envelopes.values())
