"""The projector: keeps the read-model tables equal to the projection of all events.

Starting from nothing (checkpoint 0: a new database or a rebuild), it folds
every event in one streaming pass in valid-time order, outside any write
transaction, saving a snapshot every `keep_every` facts on the way; then one
short transaction writes the read models and the checkpoint, unless another
projector got there first. Killed during the pass, it starts the pass again;
appends are never held up by it.

After that it reads events after its checkpoint in pages and, for each page,
writes the read-model rows that changed, the snapshots it took and its new
checkpoint in one transaction. A process killed anywhere leaves the tables as
of the last committed page, and a restart resumes from there: every event
takes effect exactly once.

Late facts and corrections. Events folded in fold order (valid time, then
key) can be folded onto the running fold. A page that holds a fact sorting
before the last one folded, a correction, a retraction or a fact some earlier
correction names cannot: it changes the past from some valid time `t` on.
The projector then resumes from the latest snapshot at or before `t` and
refolds only the facts from there, deletes the snapshots after `t` in the
same transaction (they are stale), and writes only the rows whose content
changed. A late event of last month costs a month of history, not all of it;
only a changed declaration (item categories) refolds from the beginning.
Events of types the fold ignores (statements, consultations, threats), and
fixes of them, change nothing and refold nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events import DossierDeclared, Envelope, EventRetracted
from projections import (
    FOLDED_TYPES,
    Fold,
    State,
    advance,
    fold_order,
    freeze,
    item_to_json,
    project,
    settle,
)
from timeline import snapshots
from timeline.database import WRITE
from timeline.memory import collector_paused
from timeline.schema import READ_MODELS, checkpoints
from timeline.schema import events as events_table
from timeline.schema import snapshots as snapshot_table
from timeline.store import EventStore

Row = dict[str, Any]
Rows = dict[str, dict[tuple[Any, ...], Row]]
Progress = Callable[[int, int], None]
Save = Callable[[dt.datetime, Fold], None]


def _rows(state: State) -> Rows:
    """The read-model rows of a state: its JSON items, by table and primary key."""
    rows: Rows = {}
    for section, table in READ_MODELS.items():
        keys = [c.name for c in table.primary_key.columns]
        columns = [c.name for c in table.columns]
        rows[section] = {}
        for item in state.section(section):
            document = item_to_json(item)
            row = {name: document.get(name) for name in columns}
            rows[section][tuple(row[k] for k in keys)] = row
    return rows


class Projector:
    """Catches the read models up with the store, page by page."""

    def __init__(
        self,
        store: EventStore,
        *,
        page_size: int = 20_000,
        snapshot_every: int = 20_000,
        keep_every: int = 50_000,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.store = store
        self.page_size = page_size
        self.snapshot_every = snapshot_every
        self.keep_every = max(keep_every, snapshot_every)
        self._fold: Fold | None = None
        self._categories: Mapping[str, str] = {}
        self._rows: Rows = {}
        self._context = snapshots.Context()
        self._last_snapshot_step = 0
        self._progress: Progress | None = None
        # The facts a first pass will fold (about: fixes change it a little).
        self._first_pass_steps: int | None = None
        self.position = 0

    # -- state kept between pages ---------------------------------------------

    def _load(self, conn: Connection) -> None:
        """Pick up where the last committed page left off."""
        self.position = snapshots.checkpoint(conn)
        self._rows = {}
        for section, table in READ_MODELS.items():
            keys = [c.name for c in table.primary_key.columns]
            self._rows[section] = {
                tuple(row[k] for k in keys): dict(row)
                for row in conn.execute(sa.select(table)).mappings()
            }
        self._context = snapshots.full_context(self.store, through=self.position)
        if self.position == 0:
            self._fold, self._categories = Fold(), {}  # nothing folded yet: the first pass will
            return
        self._fold, self._categories = self._refold_from(conn, snapshots.END_OF_TIME, None)

    def _refold_from(
        self, conn: Connection, moment: dt.datetime, save: Save | None
    ) -> tuple[Fold, Mapping[str, str]]:
        """Fold everything up to `self.position` from the last snapshot at or before `moment`.

        The facts stream from the store: memory holds the fold, never the history.
        """
        snapshot = snapshots.latest(conn, moment, through=self.position)
        accumulator = snapshot.thaw()[0] if snapshot else Fold()
        start = snapshot.cutoff if snapshot else snapshots.BEGINNING
        facts, categories = snapshots.stream_facts(
            self.store,
            self._context.envelopes.values(),
            start,
            snapshots.END_OF_TIME,
            through=self.position,
        )
        self._last_snapshot_step = accumulator.step
        self._advance(accumulator, facts, save)
        return accumulator, categories

    def _advance(self, accumulator: Fold, facts: Iterable[Envelope], save: Save | None) -> None:
        """Fold facts, leaving a snapshot every `snapshot_every` steps at a clean cutoff.

        In a first pass only the snapshots thinning would keep are taken (see
        `_kept_after_first_pass`): each costs a copy of the state.
        """
        for fact in facts:
            due = accumulator.step - self._last_snapshot_step >= self.snapshot_every
            if self._first_pass_steps is not None:
                due = self._kept_after_first_pass(accumulator.step, due)
            if (
                save is not None
                and due
                and accumulator.last is not None
                and accumulator.last[0] < fact.occurred.start
            ):
                save(fact.occurred.start, accumulator)
                self._last_snapshot_step = accumulator.step
                if self._progress is not None:
                    self._progress(min(accumulator.step, self.position), self.position)
            advance(accumulator, (fact,))

    def _kept_after_first_pass(self, step: int, due: bool) -> bool:
        """Whether a snapshot at fold `step` of a first pass would survive thinning.

        One per `keep_every` steps does, and so do the newest few, every
        `snapshot_every` steps near the end: as-of queries on recent dates
        then fold at most that many steps.
        """
        assert self._first_pass_steps is not None  # only asked during a first pass
        bucket = step // self.keep_every > self._last_snapshot_step // self.keep_every
        near_end = self._first_pass_steps - snapshots.KEEP_LATEST * self.snapshot_every
        return bucket or (due and step >= near_end)

    # -- one page --------------------------------------------------------------

    def _affected_from(self, page: list[Envelope], fold: Fold) -> dt.datetime | None:
        """The earliest valid time the page changes in the past, or None if it only adds."""
        moments = []
        for envelope in page:
            if self._only_categories(envelope) or not self._folded(envelope):
                continue
            if isinstance(envelope.event, snapshots.TIMELESS):
                if self._reaches_fold(envelope):
                    moments.append(self._context.reach(envelope))
            elif (fold.last is not None and fold_order(envelope) < fold.last) or (
                self._context.names(envelope)
            ):
                moments.append(envelope.occurred.start)
        return min(moments, default=None)

    @staticmethod
    def _folded(envelope: Envelope) -> bool:
        """Whether the fold reads it: a statement, late or not, changes no state."""
        return envelope.type in FOLDED_TYPES or isinstance(envelope.event, snapshots.TIMELESS)

    def _reaches_fold(self, fix: Envelope) -> bool:
        """Whether a fix names anything the fold reads (or something unknown, to be safe)."""
        for reference in fix.event.references().values():
            target = self._context.target(fix, reference)
            if target is None or self._folded(target):
                return True
        return False

    def _only_categories(self, envelope: Envelope) -> bool:
        """A declaration, or a retraction of one, changes item categories and nothing else.

        Categories apply when the state is frozen, not while folding, so such
        events need no refold: a new dossier costs nothing in an old one.
        """
        event = envelope.event
        if isinstance(event, DossierDeclared):
            return True
        if isinstance(event, EventRetracted):
            target = self._context.target(envelope, event.retracts)
            return target is not None and isinstance(target.event, DossierDeclared)
        return False

    def _apply_page(self, conn: Connection, page: list[Envelope], *, caught_up: bool) -> int:
        assert self._fold is not None
        self._context.add(self.store, (e for e in page if isinstance(e.event, snapshots.TIMELESS)))
        affected = self._affected_from(page, self._fold)
        self.position = page[-1].position or self.position
        if affected is None:
            facts = sorted((e for e in page if e.type in FOLDED_TYPES), key=fold_order)
            if facts:
                # A fact starting exactly where a snapshot was cut (the page-end
                # snapshot is cut just after the last start) may sort after it.
                snapshots.drop_after(conn, facts[0].occurred.start)
                self._advance(self._fold, facts, functools.partial(self._save, conn))
            if any(self._only_categories(e) for e in page):
                self._categories = settle(
                    self._context.envelopes.values(), known_at=None
                ).categories
        else:
            snapshots.drop_after(conn, affected)
            save = functools.partial(self._save, conn)
            self._fold, self._categories = self._refold_from(conn, affected, save)
        self._finish(conn, caught_up=caught_up)
        return len(page)

    def _finish(self, conn: Connection, *, caught_up: bool) -> None:
        """Snapshot the head if caught up, then write the rows that changed and the checkpoint."""
        assert self._fold is not None
        if caught_up and self._fold.last is not None:
            # Every fact known is folded: a snapshot just after the latest one
            # serves "as of now" queries without folding anything. Only once
            # caught up: a snapshot costs a copy of the whole state.
            self._save(conn, self._fold.last[0] + dt.timedelta(microseconds=1), self._fold)
        state = freeze(self._fold, self._categories, as_of=snapshots.END_OF_TIME, known_at=None)
        self._write(conn, _rows(state))

    def _save(self, conn: Connection, cutoff: dt.datetime, accumulator: Fold) -> None:
        snapshots.save(
            conn, cutoff, self.position, accumulator, self._context, keep_every=self.keep_every
        )
        self._last_snapshot_step = accumulator.step

    def _write(self, conn: Connection, rows: Rows) -> None:
        """Write the rows that changed, and the checkpoint, on the page's transaction."""
        for section, table in READ_MODELS.items():
            old, new = self._rows.get(section, {}), rows[section]
            keys = list(table.primary_key.columns)
            changed = [row for k, row in new.items() if old.get(k) != row]
            # Rows that went, and old versions of rows that changed: one
            # executemany, not a statement per row.
            stale = [k for k in old if old[k] != new.get(k)]
            if stale:
                conn.execute(
                    table.delete().where(*(c == sa.bindparam(f"key_{c.name}") for c in keys)),
                    [{f"key_{c.name}": v for c, v in zip(keys, k, strict=True)} for k in stale],
                )
            if changed:
                conn.execute(table.insert(), changed)
        conn.execute(checkpoints.delete().where(checkpoints.c.name == snapshots.PROJECTOR))
        conn.execute(
            checkpoints.insert().values(
                name=snapshots.PROJECTOR, position=self.position, updated=dt.datetime.now(dt.UTC)
            )
        )
        self._rows = rows

    # -- the public operations -------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply every event committed so far; returns how many were applied."""
        with collector_paused():
            return self._catch_up(progress)

    def _catch_up(self, progress: Progress | None) -> int:
        with self.store.engine.connect() as conn:
            if self._fold is None:
                self._load(conn)
        head = self.store.head()
        applied = 0
        if self.position == 0 and head > 0:
            # From nothing, one streaming fold in valid-time order beats pages
            # by position, which would refold the past for every late fact.
            applied = self._first_pass(head, progress)
        while True:
            # Positions have no gaps: this reads one page, and nothing ahead of it.
            through = self.position + self.page_size
            page = list(self.store.read_all(after=self.position, through=through))
            if not page:
                return applied
            caught_up = (page[-1].position or 0) >= self.store.head()
            applied += self._commit(
                functools.partial(self._apply_page, page=page, caught_up=caught_up)
            )
            if progress is not None:
                progress(self.position, max(head, self.position))

    def _commit(self, work: Callable[[Connection], int]) -> int:
        """Run `work` on one write transaction that still holds the checkpoint we expect.

        Returns what `work` returns, or 0 when another projector had moved
        the checkpoint: then our state is reloaded from its work instead.
        """
        expected = self.position
        try:
            with self.store.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                if snapshots.checkpoint(conn, lock=True) != expected:
                    raise _Moved
                return work(conn)
        except (_Moved, sa.exc.IntegrityError):
            with self.store.engine.connect() as conn:
                self._load(conn)
            return 0
        except BaseException:
            self._fold = None  # memory is ahead of the database: reload next time
            raise

    def _first_pass(self, head: int, progress: Progress | None) -> int:
        """Fold every event through `head` in one streaming pass, then write it all at once.

        The fold runs outside any write transaction: on SQLite one would hold
        up every append for as long as the pass takes. Its snapshots commit
        on their own as it goes, and count only once the checkpoint reaches
        their position; the final transaction drops any other pass's.
        """
        self.position = head
        self._context = snapshots.full_context(self.store, through=head)
        self._progress, self._first_pass_steps = progress, self._folded_through(head)
        try:
            with self.store.engine.connect() as conn:
                fold, categories = self._refold_from(conn, snapshots.BEGINNING, self._save_apart)
        except BaseException:
            self._fold = None
            raise
        finally:
            self._progress, self._first_pass_steps = None, None
            self.position = 0

        def write(conn: Connection) -> int:
            self.position, self._fold, self._categories = head, fold, categories
            conn.execute(snapshot_table.delete().where(snapshot_table.c.position != head))
            self._finish(conn, caught_up=True)
            return head

        return self._commit(write)

    def _folded_through(self, head: int) -> int:
        """About how many facts a fold through `head` takes: those of a type it
        reads, less one for each retraction (corrections change no count)."""
        query = sa.select(
            sa.func.count().filter(events_table.c.type.in_(FOLDED_TYPES)),
            sa.func.count().filter(events_table.c.type == EventRetracted.type),
        ).where(events_table.c.position <= head)
        with self.store.engine.connect() as conn:
            folded, retracted = conn.execute(query).one()
        return int(folded or 0) - int(retracted or 0)

    def _save_apart(self, cutoff: dt.datetime, accumulator: Fold) -> None:
        """A snapshot in a transaction of its own."""
        with self.store.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            self._save(conn, cutoff, accumulator)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop the read models, snapshots and checkpoint, then catch up from position 0."""
        with self.store.engine.begin() as conn:
            for table in READ_MODELS.values():
                conn.execute(table.delete())
            conn.execute(snapshot_table.delete())
            conn.execute(checkpoints.delete().where(checkpoints.c.name == snapshots.PROJECTOR))
        self._fold = None
        return self.catch_up(progress)

    def follow(
        self,
        *,
        poll: float = 1.0,
        stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> None:
        """Catch up, then apply new events as they commit until `stop()` is true."""
        with self.store.waiter(poll) as waiter:  # listening before catching up misses nothing
            self.catch_up(progress)
            while not stop():
                waiter.wait()
                self.catch_up(progress)


class _Moved(Exception):
    """The checkpoint is not where this projector left it."""


def read_models(store: EventStore) -> Mapping[str, list[Row]]:
    """The read-model tables as they are, each sorted by primary key."""
    with store.engine.connect() as conn:
        return {
            section: [
                dict(row)
                for row in conn.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for section, table in READ_MODELS.items()
        }


def expected_read_models(store: EventStore) -> Mapping[str, list[Row]]:
    """What the read models must hold: the pure projection of every event, as rows."""
    rows = _rows(project(store.read_all(), as_of=snapshots.END_OF_TIME))
    return {section: [rows[section][k] for k in sorted(rows[section])] for section in READ_MODELS}
