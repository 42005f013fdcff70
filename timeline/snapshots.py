"""Folds paused at valid-time cutoffs, so a long history is not refolded from its start.

A snapshot holds the fold of every fact that starts before its `cutoff`, as
of every event up to the projector's checkpoint. The projector keeps that
true: in the transaction that moves its checkpoint past a late event or a
correction, it deletes every snapshot that event makes stale. Events past
the checkpoint are checked at read time: `resume` only trusts a snapshot that
every event after the checkpoint leaves alone.

Snapshots are pickles of `projections.Fold`, tagged with a fingerprint of the
projection code: after an upgrade they are ignored (never unpickled into the
wrong classes) until the projector writes new ones. They are derived data,
kept in the engine's own database, never events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
from collections.abc import Iterable
from pathlib import Path

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import projections
from events import DossierDeclared, Envelope, EventCorrected, EventRetracted
from projections import Fold, State, advance, freeze, settle
from timeline.schema import checkpoints, snapshots
from timeline.schema import events as events_table
from timeline.store import EventStore

END_OF_TIME = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
BEGINNING = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
PROJECTOR = "read-models"
FIXES = (EventCorrected.type, EventRetracted.type, DossierDeclared.type)
FINGERPRINT = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(Path(projections.__file__).parent.glob("*.py")))
).hexdigest()


@attrs.frozen
class Snapshot:
    cutoff: dt.datetime
    position: int
    fold: bytes

    def thaw(self) -> Fold:
        accumulator: Fold = pickle.loads(self.fold)  # our own table, fingerprinted
        return accumulator


def save(conn: Connection, cutoff: dt.datetime, position: int, accumulator: Fold) -> None:
    conn.execute(
        snapshots.insert().values(
            cutoff=cutoff,
            position=position,
            fingerprint=FINGERPRINT,
            fold=pickle.dumps(accumulator, protocol=pickle.HIGHEST_PROTOCOL),
            created=dt.datetime.now(dt.UTC),
        )
    )


def drop_after(conn: Connection, moment: dt.datetime) -> None:
    """Forget snapshots that a fact starting at `moment` makes stale."""
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


def checkpoint(conn: Connection) -> int:
    found = conn.execute(
        sa.select(checkpoints.c.position).where(checkpoints.c.name == PROJECTOR)
    ).scalar()
    return int(found or 0)


def untouched_before(conn: Connection, after: int) -> dt.datetime:
    """The earliest valid time that events past position `after` may change.

    A correction, retraction or declaration may change anything: then no
    snapshot can be trusted and the answer is the beginning of time.
    """
    fixes = conn.execute(
        sa.select(sa.func.count())
        .select_from(events_table)
        .where(events_table.c.position > after, events_table.c.type.in_(FIXES))
    ).scalar()
    if fixes:
        return BEGINNING
    earliest = conn.execute(
        sa.select(sa.func.min(events_table.c.occurred_start)).where(events_table.c.position > after)
    ).scalar()
    if earliest is None:
        return END_OF_TIME
    moment: dt.datetime = earliest
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def facts_from(
    store: EventStore, cutoff: dt.datetime, as_of: dt.datetime, *, through: int | None = None
) -> tuple[list[Envelope], dict[str, str]]:
    """The settled facts starting in ``[cutoff, as_of)``, and the item categories.

    Corrections, retractions and declarations apply whenever they occurred,
    and a correction may move a fact across the cutoff, so all of them and
    their targets are read too; the facts are then filtered by their
    corrected start. Everything else is read from the valid-time index.
    """
    fixes = list(store.read_started(None, None, through=through, types=FIXES))
    wanted: dict[str, set[str]] = {}
    for fix in fixes:
        for reference in fix.event.references().values():
            wanted.setdefault(fix.dossier, set()).add(reference)
    related: dict[object, Envelope] = {e.id: e for e in fixes}
    for dossier, references in wanted.items():
        for envelope in store.find(dossier, references).values():
            if through is None or (envelope.position or 0) <= through:
                related[envelope.id] = envelope
    window = store.read_started(cutoff, as_of, through=through)
    record = settle(_unique(related.values(), window), known_at=None)
    facts = [f for f in record.facts if cutoff <= f.occurred.start < as_of]
    return facts, dict(record.categories)


def _unique(first: Iterable[Envelope], second: Iterable[Envelope]) -> list[Envelope]:
    seen: dict[object, Envelope] = {e.id: e for e in first}
    for envelope in second:
        seen.setdefault(envelope.id, envelope)
    return list(seen.values())


def resume(store: EventStore, as_of: dt.datetime) -> State:
    """The state as of `as_of`, known now, from the nearest trustworthy snapshot."""
    with store.engine.connect() as conn:
        trusted_until = untouched_before(conn, checkpoint(conn))
        snapshot = latest(conn, min(as_of, trusted_until))
    accumulator = snapshot.thaw() if snapshot else Fold()
    facts, categories = facts_from(store, snapshot.cutoff if snapshot else BEGINNING, as_of)
    advance(accumulator, facts)
    return freeze(accumulator, categories, as_of=as_of, known_at=None)
