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
import pickle
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import events
import projections
from events import DossierDeclared, Envelope, EventCorrected, EventRetracted, Occurred
from projections import Fold, State, advance, freeze, settle
from timeline.schema import checkpoints, snapshots
from timeline.schema import events as events_table
from timeline.store import EventStore

END_OF_TIME = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
BEGINNING = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
PROJECTOR = "read-models"
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


class Context:
    """Every correction, retraction and declaration, with the events they name.

    Fixes are a small share of a history; holding them lets a fold start at
    any cutoff and still apply every fix that reaches past it.
    """

    def __init__(self, envelopes: Iterable[Envelope] = ()) -> None:
        self.envelopes: dict[uuid.UUID, Envelope] = {}
        self._names: dict[tuple[str, str], Envelope] = {}
        for envelope in envelopes:
            self._keep(envelope)

    def _keep(self, envelope: Envelope) -> None:
        self.envelopes[envelope.id] = envelope
        self._names[(envelope.dossier, envelope.key)] = envelope
        self._names[(envelope.dossier, str(envelope.id))] = envelope

    def add(self, store: EventStore, fixes: Iterable[Envelope]) -> None:
        """Hold `fixes` and, read from the store in one query per dossier, their targets."""
        wanted: dict[str, set[str]] = {}
        for fix in fixes:
            self._keep(fix)
            for reference in fix.event.references().values():
                if (fix.dossier, reference) not in self._names:
                    wanted.setdefault(fix.dossier, set()).add(reference)
        for dossier, references in wanted.items():
            for found in store.find(dossier, references).values():
                self._keep(found)

    def target(self, fix: Envelope, reference: str) -> Envelope | None:
        return self._names.get((fix.dossier, reference))

    def names(self, envelope: Envelope) -> bool:
        """Whether some fix held here names `envelope`."""
        return envelope.id in self.envelopes and not isinstance(envelope.event, TIMELESS)

    def reach(self, fix: Envelope) -> dt.datetime:
        """The earliest valid time a fix changes: its targets' old and new starts."""
        reaches = [END_OF_TIME]
        pending, seen = [fix], set()
        while pending:
            current = pending.pop()
            if current.id in seen:
                continue
            seen.add(current.id)
            if isinstance(current.event, DossierDeclared):
                return BEGINNING
            for reference in current.event.references().values():
                target = self.target(current, reference)
                if target is None:
                    continue
                if isinstance(target.event, DossierDeclared):
                    return BEGINNING  # categories hold at every valid time
                reaches.append(target.occurred.start)
                if isinstance(target.event, FIX_CLASSES):
                    pending.append(target)
            if isinstance(current.event, EventCorrected):
                moved = current.event.new_values().get("occurred")
                if moved is not None:
                    reaches.append(Occurred.parse(str(moved)).start)
        return min(reaches)

    def latest_reach(self, fix: Envelope) -> dt.datetime:
        """The latest valid time a fix touches: where it still matters to a fold."""
        touched = [BEGINNING]
        for reference in fix.event.references().values():
            target = self.target(fix, reference)
            if target is not None and isinstance(target.event, DossierDeclared):
                return END_OF_TIME  # categories hold at every valid time
            if target is not None:
                touched.append(target.occurred.start)
                if isinstance(target.event, FIX_CLASSES):
                    touched.append(self.latest_reach(target))
        if isinstance(fix.event, EventCorrected):
            moved = fix.event.new_values().get("occurred")
            if moved is not None:
                touched.append(Occurred.parse(str(moved)).start)
        return max(touched)

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
    keep_latest: int = 4,
) -> None:
    """Store a snapshot and thin out older ones.

    The newest few stay, for late facts and recent as-of queries; beyond
    them the latest of every `keep_every` steps, so snapshots stay a bounded
    share of the database however long the history grows.
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
    conn.execute(
        snapshots.delete().where(snapshots.c.step % keep_every != 0, snapshots.c.id.not_in(newest))
    )


def drop_after(conn: Connection, moment: dt.datetime) -> None:
    """Forget snapshots that a change starting at `moment` makes stale."""
    conn.execute(snapshots.delete().where(snapshots.c.cutoff > moment))


def latest(conn: Connection, before: dt.datetime) -> Snapshot | None:
    """The snapshot with the latest cutoff at or before `before`, of this code's folds."""
    row = conn.execute(
        sa.select(snapshots.c.cutoff, snapshots.c.position, snapshots.c.fold)
        .where(snapshots.c.cutoff <= before, snapshots.c.fingerprint == FINGERPRINT)
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


def facts_from(
    store: EventStore,
    context: Iterable[Envelope],
    cutoff: dt.datetime,
    as_of: dt.datetime,
    *,
    through: int | None = None,
) -> tuple[list[Envelope], Mapping[str, str]]:
    """The settled facts starting in ``[cutoff, as_of)``, and the item categories.

    `context` holds the fixes and declarations that reach past the cutoff,
    with their targets; a fix may move a fact across the cutoff, so facts
    are filtered by their corrected start.
    """
    held = {e.id: e for e in context if through is None or (e.position or 0) <= through}
    window = [e for e in store.read_started(cutoff, as_of, through=through) if e.id not in held]
    record = settle([*held.values(), *window], known_at=None)
    facts = [f for f in record.facts if cutoff <= f.occurred.start < as_of]
    return facts, record.categories


def full_context(store: EventStore, *, through: int | None = None) -> Context:
    """Every fix and declaration up to `through`, with their targets."""
    context = Context()
    context.add(store, store.read_started(None, None, through=through, types=TIMELESS_TYPES))
    return context


def resume(store: EventStore, as_of: dt.datetime) -> State:
    """The state as of `as_of`, known now, from the nearest trustworthy snapshot."""
    with store.engine.connect() as conn:
        trusted_until = untouched_before(conn, checkpoint(conn))
        snapshot = latest(conn, min(as_of, trusted_until))
    if snapshot is None:
        accumulator, start = Fold(), BEGINNING
        held = list(full_context(store).envelopes.values())
    else:
        accumulator, held = snapshot.thaw()
        start = snapshot.cutoff
        context = Context(held)
        context.add(
            store, store.read_started(None, None, after=snapshot.position, types=TIMELESS_TYPES)
        )
        held = list(context.envelopes.values())
    facts, categories = facts_from(store, held, start, as_of)
    advance(accumulator, facts)
    return freeze(accumulator, categories, as_of=as_of, known_at=None)
