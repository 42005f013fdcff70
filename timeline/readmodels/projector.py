"""The projector: keeps the version tables equal to the pure fold of every event.

It reads events after its checkpoint in pages and, per page, writes the
versions and links that changed and its new checkpoint in one transaction:
killed anywhere, it resumes from the last committed page, and every event
takes effect exactly once.

Events recorded together (one `recorded` time) are applied together, as
one *group*, so "as known at K" sees every group before K and none after.
A group touches a known set of items from some valid time on: the items
its facts fold into (from each fact's start), the items a correction or
retraction changes (before and after the fix), and the items derived from
those. Each touched item is refolded alone, from its version in force just
before that time (`projections.fold.refold`); its versions from there on
are compared with what was stored, and only the rows that changed are
closed (``recorded_to``) and replaced. A fact appended at the end of an
item's history (the usual case) costs its head row and two new ones; a
late fact or a correction costs the item's versions after it.

The order within a group follows what derives from what:

1. pledges, requests, precedents, pressure and formed coalitions fold
   their own facts;
2. positions, which also read the first pledge of each donor (kept in
   memory, `FirstPledges`) for their conditions; each version says whether
   it moved its actor into or out of the issue's coalition, which is read
   from the positions (`timeline.readmodels.coalitions`) and has no
   versions of its own;
3. totals, patched with what the refolded pledges add at each time
   (`projections.totals.patches`), or derived afresh for a dossier whose
   declarations changed its categories.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events import DossierDeclared, Envelope, RequestDecided, RequestFiled
from projections import totals as totals_
from projections.fold import ItemId, refold, touched
from projections.pledges import Pledge
from projections.positions import Pledged
from projections.record import FIXES, UNCATEGORISED, fold_order
from projections.refs import Ref, uuid_int
from timeline.readmodels import catalogue, versions
from timeline.readmodels.records import Change, Records
from timeline.readmodels.tables import (
    DECLARED,
    VERSIONS,
    checkpoints,
    dossier_publishers,
    dossier_types,
    item_names,
    key_text,
    pending_references,
    state_events,
    state_items,
)
from timeline.readmodels.versions import Chain, Link, Rewrite, Row
from timeline.store import EventStore, faults, rows
from timeline.store.database import WRITE
from timeline.store.memory import collector_paused
from timeline.store.schema import events as events_table
from timeline.store.schema import metadata

PROJECTOR = "read-models"
ANALYZE_AFTER = 50_000
"""Events applied in one catch-up after which the planners' statistics are refreshed: an
ANALYZE samples each table (about a second at a million events), which projecting
that many events outweighs."""
Progress = Callable[[int, int], None]
OWN_SECTIONS = ("pledges", "requests", "precedents", "pressure", "formed")
"""Sections whose items fold their own facts and nothing else (positions also read pledges)."""
ID_TABLES = (
    *(v.table.name for v in VERSIONS.values()),
    state_items.name,
    state_events.name,
    *(t.name for t in DECLARED.values()),
)
TABLES = {table.name: table for table in metadata.sorted_tables}


log = logging.getLogger("timeline.projector")


def checkpoint(conn: Connection, *, lock: bool = False) -> int:
    """The position the read models reflect; `lock` holds the row to the transaction's end."""
    query = sa.select(checkpoints.c.position).where(checkpoints.c.name == PROJECTOR)
    found = conn.execute(query.with_for_update() if lock else query).scalar()
    return int(found or 0)


def settled(conn: Connection) -> dt.datetime | None:
    """The transaction time up to which the read models are final (None: nothing yet).

    Every event up to the checkpoint is projected, and events after it are recorded
    no earlier than the one at it (recorded times never decrease with position), so
    an answer as known at any time up to this one can never change.
    """
    at = sa.select(checkpoints.c.position).where(checkpoints.c.name == PROJECTOR)
    query = sa.select(events_table.c.recorded).where(
        events_table.c.position == at.scalar_subquery()
    )
    found = conn.execute(query).scalar()
    return None if found is None else rows.aware(found)


def recorded_groups(page: Sequence[Envelope]) -> Iterable[list[Envelope]]:
    """Consecutive events recorded at one time: what "known at" cannot tell apart."""
    for _, group in itertools.groupby(page, key=lambda e: e.recorded):
        yield list(group)


class FirstPledges:
    """The first pledge in fold order of each pledge item, and of each donor (of an item).

    Conditions are met by the first matching pledge over all of a dossier's
    facts; the positions' refolds ask for it, and a change of it refolds
    the positions that wait for that donor. Pledges are held by donor, then
    item, then recipient, so that the first of an item looks at its
    recipients only, and the first of any item at each item's first: a
    donor with thousands of pledge items costs no more than one with few.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, dict[str, Pledged]]] = {}
        self._cache: dict[tuple[str, str, str | None], Pledged | None] = {}

    def first(self, dossier: str, donor: str, item: str | None) -> Pledged | None:
        key = (dossier, donor, item)
        if key not in self._cache:
            codes = self._items.get((dossier, donor), {})
            candidates: Iterable[Pledged | None] = (
                (self.first(dossier, donor, code) for code in codes)
                if item is None
                else codes.get(item, {}).values()
            )
            found = [p for p in candidates if p is not None]
            self._cache[key] = min(found, key=lambda p: p.order, default=None)
        return self._cache[key]

    def load(self, dossier: str, donor: str, recipient: str, item: str, first: Pledged) -> None:
        """Hold a pledge item's first pledge, as read back from the tables."""
        self._items.setdefault((dossier, donor), {}).setdefault(item, {})[recipient] = first
        for code in (item, None):
            self._cache.pop((dossier, donor, code), None)

    def _any_after(
        self,
        dossier: str,
        donor: str,
        was: Pledged | None,
        now: Pledged | None,
        first: Pledged | None,
    ) -> Pledged | None:
        """The donor's first pledge of any item once one item's first went from `was` to
        `now`, `first` being the one before: worked out from every item only when that
        item held it and now comes later (a donor pledges dozens of items)."""
        if first is not None and first == was and (now is None or now.order > first.order):
            self._cache.pop((dossier, donor, None), None)
            return self.first(dossier, donor, None)
        if now is not None and (first is None or now.order < first.order):
            return now
        return first

    def set(
        self, dossier: str, donor: str, recipient: str, item: str, first: Pledged | None
    ) -> list[tuple[str | None, dt.datetime]]:
        """Record a pledge item's first pledge; returns the conditions' keys whose first
        changed (an item, or None for any item) with the earliest time it matters."""
        before = {code: self.first(dossier, donor, code) for code in (item, None)}
        codes = self._items.setdefault((dossier, donor), {})
        if first is None:
            recipients = codes.get(item, {})
            recipients.pop(recipient, None)
            if not recipients:
                codes.pop(item, None)
        else:
            codes.setdefault(item, {})[recipient] = first
        self._cache.pop((dossier, donor, item), None)
        self._cache[(dossier, donor, None)] = self._any_after(
            dossier, donor, before[item], self.first(dossier, donor, item), before[None]
        )
        changed = []
        for code, was in before.items():
            now = self.first(dossier, donor, code)
            if now != was:
                starts = [p.start for p in (was, now) if p is not None]
                changed.append((code, min(starts)))
        return changed


@attrs.define
class _Touch:
    """How a group touches one item: from when, which facts it adds or changes, which go."""

    start: dt.datetime
    added: dict[int, Envelope] = attrs.Factory(dict)
    removed: set[int] = attrs.Factory(set)


@attrs.define
class _Memory:
    """What the projector holds between pages; reloaded whenever it is in doubt."""

    records: Records
    first: FirstPledges
    ids: dict[str, int]
    items: dict[ItemId, int] = attrs.Factory(dict)
    pending: dict[str, list[Envelope]] = attrs.Factory(dict)


class Projector:
    """Catches the version tables up with the store, page by page."""

    def __init__(self, store: EventStore, *, page_size: int = 20_000) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.store = store
        self.page_size = page_size
        self.position = 0
        self._memory: _Memory | None = None
        # What it holds in memory follows its pages: one thread at a time (a
        # server's follower and the reads that catch up share one projector).
        self._lock = threading.RLock()

    # -- the public operations -------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply every event committed so far; returns how many were applied.

        After many (`ANALYZE_AFTER`), PostgreSQL's statistics of the tables are
        brought up to date, as after a rebuild.
        """
        with self._lock, collector_paused():
            applied = self._catch_up(progress)
        if applied:
            log.info(
                "applied %d events; the read models are at position %d", applied, self.position
            )
        if applied >= ANALYZE_AFTER:
            self._analyze()
        return applied

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empty the read models and the checkpoint, then catch up from position 0.

        The tables are derived data: this is the one operation that deletes rows.
        """
        with self._lock:
            with self.store.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                for table in _read_model_tables():
                    conn.execute(table.delete())
                conn.execute(checkpoints.delete().where(checkpoints.c.name == PROJECTOR))
            self._memory = None
            applied = self.catch_up(progress)
            if applied < ANALYZE_AFTER:  # emptied tables have stale statistics too
                self._analyze()
            return applied

    def _analyze(self) -> None:
        """Statistics for the planners on the tables just filled (and on PostgreSQL the
        pages marked visible, for index-only scans). Without them
        PostgreSQL (autovacuum off, or not yet round) hashes whole version tables where
        it should probe an index (a dossier's state took 15 s instead of 1.2 s), or
        reads a whole partial index to find one item's versions (40 ms, not 1); SQLite
        reads a dossier's every pressure from the covering index of `pressed_by` where a
        diff wants a day of it from the index on valid time (110 ms, not 10). SQLite
        samples a thousand rows of each index (``analysis_limit``), under a second at a
        million events."""
        tables = _read_model_tables()
        if self.store.engine.dialect.name == "postgresql":
            # VACUUM too: until a page is marked all-visible, PostgreSQL reads the
            # table beside a covering index, and its planner would rather hash the
            # whole table (a dossier's coalitions: 107 ms, then 12 ms).
            names = ", ".join(table.name for table in tables)
            with self.store.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    f"VACUUM (ANALYZE) {names}"
                )
            return
        with self.store.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {table.name}")

    def follow(
        self,
        *,
        poll: float = 1.0,
        stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
        caught_up: Callable[[], None] = lambda: None,
    ) -> None:
        """Catch up (then call `caught_up`), then apply new events as they commit until
        `stop()` is true.

        A lost connection (a restarted server, a terminated session, a lock
        held too long) is logged and tried again after a pause that doubles
        up to `faults.RETRY_MOST` seconds: nothing is half-applied, since each page
        commits with its checkpoint, so following resumes where it was.
        """

        def run(connected: Callable[[], None]) -> None:
            def advanced(position: int, head: int) -> None:
                connected()  # a page committed: the next loss starts from a short pause
                if progress is not None:
                    progress(position, head)

            with self.store.waiter(poll) as waiter:  # listening first misses nothing
                self.catch_up(advanced)
                connected()
                caught_up()
                while not stop():
                    waiter.wait()
                    self.catch_up(advanced)

        faults.reconnecting(run, stop, log, "the projector")

    # -- pages -----------------------------------------------------------------

    def _catch_up(self, progress: Progress | None) -> int:
        if self._memory is None:
            with self.store.engine.connect() as conn:
                self._load(conn)
        head = self.store.head()
        applied = 0
        while True:
            # Positions have no gaps: this reads one page, and nothing ahead of it.
            through = self.position + self.page_size
            page = list(self.store.read_all(after=self.position, through=through, sources=False))
            if not page:
                return applied
            applied += self._commit(functools.partial(self._apply_page, page=page))
            if progress is not None:
                progress(self.position, max(head, self.position))

    def _commit(self, work: Callable[[Connection], int]) -> int:
        """Run `work` on one write transaction that still holds the checkpoint we expect.

        Returns what `work` returns, or 0 when another projector had moved
        the checkpoint: then what we hold is reloaded from its work instead.
        A conflicting row (two projectors starting together, with no
        checkpoint yet to lock) is such a case only if the checkpoint moved;
        otherwise the error is this projector's own and is raised, since
        trying the page again would fail the same way for ever.
        """
        expected = self.position
        try:
            with self.store.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                if checkpoint(conn, lock=True) != expected:
                    raise _Moved
                return work(conn)
        except (_Moved, sa.exc.IntegrityError) as err:
            with self.store.engine.connect() as conn:
                self._load(conn)
            if isinstance(err, sa.exc.IntegrityError) and self.position == expected:
                raise
            return 0
        except BaseException:
            self._memory = None  # memory may be ahead of the database: reload next time
            raise

    def _apply_page(self, conn: Connection, page: list[Envelope]) -> int:
        for group in recorded_groups(page):
            _Group(self, conn, group).apply()
        catalogue.tally(conn, page)
        self.position = page[-1].position or self.position
        conn.execute(checkpoints.delete().where(checkpoints.c.name == PROJECTOR))
        conn.execute(
            checkpoints.insert().values(
                name=PROJECTOR, position=self.position, updated=dt.datetime.now(dt.UTC)
            )
        )
        return len(page)

    # -- memory ------------------------------------------------------------------

    def _load(self, conn: Connection) -> None:
        """Pick up where the last committed page left off."""
        self.position = checkpoint(conn)
        ids = {
            name: int(conn.execute(sa.select(sa.func.max(TABLES[name].c.id))).scalar() or 0)
            for name in ID_TABLES
        }
        memory = _Memory(records=Records(), first=FirstPledges(), ids=ids)
        kinds = [cls.type for cls in (*FIXES, DossierDeclared)]
        held = list(self.store.read_all(types=kinds, through=self.position))
        for dossier, found in itertools.groupby(
            sorted(held, key=lambda e: (e.dossier, e.position or 0)), key=lambda e: e.dossier
        ):
            memory.records.of(dossier).add(found, self._finder(self.position))
        pledges = VERSIONS["pledges"]
        t = pledges.table
        query = sa.select(
            t.c.dossier,
            t.c.donor,
            t.c.recipient,
            t.c.item,
            t.c.first_event,
            t.c.first_announced_start,
            t.c.first_announced_end,
        ).where(t.c.recorded_to.is_(None), t.c.valid_to.is_(None), t.c.first_event.is_not(None))
        for d, donor, recipient, item, key, start, end in conn.execute(query):
            memory.first.load(d, donor, recipient, item, Pledged((start, end, key), Ref(d, key)))
        waiting = [p for (p,) in conn.execute(sa.select(pending_references.c.event))]
        for envelope in self.store.at(waiting).values():
            memory.pending.setdefault(envelope.dossier, []).append(envelope)
        self._memory = memory

    def _finder(self, through: int) -> Callable[[str, Iterable[str]], Mapping[str, Envelope]]:
        """Lookups by key or id among the events up to `through`."""
        return lambda dossier, names: self.store.find(dossier, names, through=through)


class _Moved(Exception):
    """The checkpoint is not where this projector left it."""


def _read_model_tables() -> list[sa.Table]:
    return [
        *(v.table for v in VERSIONS.values()),
        state_items,
        state_events,
        item_names,
        *DECLARED.values(),
        pending_references,
        dossier_types,
        dossier_publishers,
    ]


class _Group:
    """Applying one group of events (recorded together) on the page's transaction."""

    def __init__(self, projector: Projector, conn: Connection, events: list[Envelope]) -> None:
        assert projector._memory is not None  # loaded before any page
        self.store = projector.store
        self.memory = projector._memory
        self.conn = conn
        self.events = events
        self.through = events[-1].position or 0
        recorded = events[0].recorded
        assert recorded is not None  # stored events have one
        self.rewrite = Rewrite(recorded, self.memory.ids)
        self.find = projector._finder(self.through)
        self.touches: dict[ItemId, _Touch] = {}
        self.positions_of: dict[Ref, int] = {Ref.of(e): e.position or 0 for e in events}
        self._filings: dict[tuple[str, str], str | None] = {}
        self._categories_changed: set[str] = set()
        self._coalitions: set[tuple[str, str]] = set()
        """(dossier, issue) of the coalitions that committed positions may have made."""
        self._patches: dict[tuple[str, str], dict[dt.datetime, list[totals_.Patch]]] = {}
        self._first_changes: dict[tuple[str, str, str | None], dt.datetime] = {}
        self.facts: dict[int, tuple[Ref, Envelope | None]] = {}

    # -- what changed ------------------------------------------------------------

    def apply(self) -> None:
        changes, declarations = self._changes()
        self._resolve_filings(view for change in changes for view in change)
        self._declare(declarations)
        for old, new in changes:
            self._touch(old, new)
        for section in OWN_SECTIONS:
            self._refold_section(section)
        self._refold_section("positions")
        self._write()
        self._register_coalitions()
        self._refold_totals()
        self._write()

    def _changes(self) -> tuple[list[Change], list[Change]]:
        """The views that changed (facts, then declarations): new events, and earlier
        events whose fixes changed."""
        new_ids = {e.id.int for e in self.events}
        changes: list[Change] = []
        for dossier, group in itertools.groupby(self.events, key=lambda e: e.dossier):
            record = self.memory.records.of(dossier)
            events = list(group)
            before_categories = record.categories()
            earlier = record.resolve_pending(events, self.find) + record.add(events, self.find)
            changes += [c for c in earlier if _subject(c).id.int not in new_ids]
            views = (record.view(e) for e in events if not isinstance(e.event, FIXES))
            changes += [(None, view) for view in views if view is not None]
            changes += self._pending_decisions(dossier, events)
            if record.categories() != before_categories:
                self._categories_changed.add(dossier)
        facts = [c for c in changes if not _declaration(c)]
        return facts, [c for c in changes if _declaration(c)]

    def _pending_decisions(self, dossier: str, events: list[Envelope]) -> list[Change]:
        """Decisions that named no request yet, whose request has just been filed."""
        waiting = self.memory.pending.get(dossier)
        filings = [e for e in events if isinstance(e.event, RequestFiled)]
        if not waiting or not filings:
            return []
        names = {e.key for e in filings}
        numbers = {e.id.int for e in filings}
        found: list[Change] = []
        for decision in list(waiting):
            assert isinstance(decision.event, RequestDecided)
            ref = decision.event.request
            if ref in names or uuid_int(ref) in numbers:
                waiting.remove(decision)
                self._filings.pop((dossier, ref), None)
                self.conn.execute(
                    pending_references.delete().where(
                        pending_references.c.event == decision.position
                    )
                )
                view = self.memory.records.of(dossier).view(decision)
                found.append((None, view))
        return found

    def _resolve_filings(self, views: Iterable[Envelope | None]) -> None:
        """Look up, a dossier at a time, the requests the decisions among `views` name."""
        wanted: dict[str, set[str]] = {}
        for view in views:
            if view is not None and isinstance(view.event, RequestDecided):
                reference = view.event.request
                if (view.dossier, reference) not in self._filings:
                    wanted.setdefault(view.dossier, set()).add(reference)
        for dossier, references in wanted.items():
            found = self.find(dossier, references)
            for reference in references:
                filing = found.get(reference)
                is_filing = filing is not None and isinstance(filing.event, RequestFiled)
                self._filings[(dossier, reference)] = filing.key if is_filing else None  # type: ignore[union-attr]

    def _filing(self, dossier: str, reference: str) -> str | None:
        """The key of the request a decision in `dossier` names, or None."""
        key = (dossier, reference)
        if key not in self._filings:
            found = self.find(dossier, [reference]).get(reference)
            filing = found if found is not None and isinstance(found.event, RequestFiled) else None
            self._filings[key] = None if filing is None else filing.key
        return self._filings[key]

    def _touch(self, old: Envelope | None, new: Envelope | None) -> None:
        """Note the items a fact's change of view touches, and from when."""
        items_new: list[ItemId] = []
        if new is not None:
            items_new = touched(new, functools.partial(self._filing, new.dossier))
            if isinstance(new.event, RequestDecided) and not items_new:
                self._wait_for_request(new)
        items_old = (
            [] if old is None else touched(old, functools.partial(self._filing, old.dossier))
        )
        position = (new or old).position or 0  # type: ignore[union-attr]
        for item_id in items_old:
            assert old is not None
            touch = self._touching(item_id, old.occurred.start)
            if item_id not in items_new:
                touch.removed.add(position)
        for item_id in items_new:
            assert new is not None
            touch = self._touching(item_id, new.occurred.start)
            touch.added[position] = new
            touch.removed.discard(position)

    def _touching(self, item_id: ItemId, start: dt.datetime) -> _Touch:
        found = self.touches.get(item_id)
        if found is None:
            found = self.touches[item_id] = _Touch(start)
        found.start = min(found.start, start)
        return found

    def _wait_for_request(self, decision: Envelope) -> None:
        waiting = self.memory.pending.setdefault(decision.dossier, [])
        if all(d.position != decision.position for d in waiting):
            waiting.append(decision)
            assert isinstance(decision.event, RequestDecided)
            self.conn.execute(
                pending_references.insert().values(
                    event=decision.position,
                    dossier=decision.dossier,
                    reference=decision.event.request,
                )
            )

    # -- declarations -----------------------------------------------------------

    def _declare(self, declarations: list[Change]) -> None:
        """Declared names: rows of a declaration's old view closed, of its new one inserted."""
        for old, new in declarations:
            if old is not None:
                for table in DECLARED.values():
                    self.conn.execute(
                        table.update()
                        .where(table.c.event == old.position, table.c.recorded_to.is_(None))
                        .values(recorded_to=self.rewrite.recorded)
                    )
            if new is None:
                continue
            event = new.event
            assert isinstance(event, DossierDeclared)
            lists: dict[str, list[tuple[str, ...]]] = {
                "actors": list(event.actors),
                "items": list(event.items),
                "issues": list(event.issues),
            }
            for kind, entries in lists.items():
                for entry in entries:
                    self.rewrite.add(
                        DECLARED[kind],
                        dossier=new.dossier,
                        code=entry[0],
                        name=entry[1],
                        category=entry[2] if kind == "items" else None,
                        event=new.position,
                        declared=new.occurred.start,
                        recorded_from=self.rewrite.recorded,
                    )

    # -- refolding -----------------------------------------------------------------

    def _ids(self, item_ids: Iterable[ItemId]) -> dict[ItemId, int]:
        """The registry id of each item, registering the new ones.

        Held by item id, so that an item seen before costs no `key_text` (a JSON
        encoding: a twentieth of a catch-up when done for every touched item)."""
        memory = self.memory
        wanted = list(dict.fromkeys(item_ids))
        missing: dict[tuple[str, str], dict[str, ItemId]] = {}
        for item_id in wanted:
            if item_id not in memory.items:
                section, key = item_id
                missing.setdefault((section, key[0]), {})[key_text(key[1:])] = item_id
        t = state_items
        for (section, dossier), texts in missing.items():
            for chunk in _chunks(list(texts)):
                query = sa.select(t.c.id, t.c.key).where(
                    t.c.section == section, t.c.dossier == dossier, t.c.key.in_(chunk)
                )
                for found, text in self.conn.execute(query):
                    memory.items[texts[text]] = found
            for text, item_id in texts.items():
                if item_id not in memory.items:
                    new = self.rewrite.add(t, section=section, dossier=dossier, key=text)
                    memory.items[item_id] = new
        return {item_id: memory.items[item_id] for item_id in wanted}

    def _refold_section(self, section: str) -> None:
        wanted = {i: t for i, t in self.touches.items() if i[0] == section}
        if section == "positions":
            wanted |= self._waiting_positions(wanted)
        if not wanted:
            return
        table = VERSIONS[section]
        ids = self._ids(wanted)
        heads = versions.heads(self.conn, table, ids.values())
        plans: dict[ItemId, _Plan] = {}
        slow: dict[int, dt.datetime | None] = {}
        for item_id, touch in wanted.items():
            head = heads.get(ids[item_id])
            if (
                section != "requests"
                and not touch.removed
                and (head is None or head.valid_from < touch.start)
            ):
                # Only added to after its last version: that version is all it needs.
                plans[item_id] = _Plan(
                    region=[head] if head else [], previous=head, links=[], touch=touch
                )
            else:
                slow[ids[item_id]] = None if section == "requests" else touch.start
        if slow:
            regions = versions.chains_from(self.conn, table, slow)
            links = versions.links_of(self.conn, slow)
            for item_id, touch in wanted.items():
                item = ids[item_id]
                if item in slow:
                    plans[item_id] = _plan(regions[item], links[item], slow[item], touch)
        self._fetch_facts(plans.values())
        for item_id, plan in plans.items():
            self._refold_item(table, item_id, ids[item_id], plan)

    def _waiting_positions(self, wanted: Mapping[ItemId, _Touch]) -> dict[ItemId, _Touch]:
        """Positions whose condition waits for a donor whose first pledge just changed."""
        found: dict[ItemId, _Touch] = {}
        t = VERSIONS["positions"].table
        by_dossier: dict[str, dict[tuple[str, str | None], dt.datetime]] = {}
        for (dossier, donor, item), start in self._first_changes.items():
            by_dossier.setdefault(dossier, {})[(donor, item)] = start
        for dossier, changed in by_dossier.items():
            donors = sorted({donor for donor, _ in changed})
            earliest = min(changed.values())
            for chunk in _chunks(donors):
                query = sa.select(
                    t.c.actor, t.c.issue, t.c.condition_actor, t.c.condition_item, t.c.valid_to
                ).where(
                    t.c.dossier == dossier,
                    t.c.condition_actor.in_(chunk),
                    t.c.recorded_to.is_(None),
                    sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= earliest),
                )
                for actor, issue, donor, item, valid_to in self.conn.execute(query):
                    since = changed.get((donor, item))
                    if since is None or (valid_to is not None and valid_to < since):
                        continue
                    item_id = ("positions", (dossier, actor, issue))
                    touch = wanted.get(item_id) or found.get(item_id)
                    if touch is None:
                        found[item_id] = _Touch(since)
                    else:
                        touch.start = min(touch.start, since)
        return found

    def _fetch_facts(self, plans: Iterable[_Plan]) -> None:
        """The events the plans' links name, by position, as references and as the record
        now gives them (None: retracted): the group's own views, the rest from the store."""
        plans = list(plans)
        self.facts = {
            position: (Ref.of(view), view)
            for p in plans
            for position, view in p.touch.added.items()
        }
        wanted = {link.event for p in plans for link in p.links} - self.facts.keys()
        for position, stored in self.store.at(wanted, sources=False).items():
            self.facts[position] = (Ref.of(stored), self.memory.records.view(stored))
        for position, (ref, _) in self.facts.items():
            self.positions_of[ref] = position
        self._resolve_filings(view for _, view in self.facts.values())

    def _refold_item(self, table: Any, item_id: ItemId, item: int, plan: _Plan) -> None:
        section = item_id[0]
        touch = plan.touch
        facts: dict[int, Envelope] = dict(touch.added)
        for link in plan.links:
            if link.effect or link.event in touch.removed or link.event in facts:
                continue
            view = self.facts[link.event][1]
            if view is not None and item_id in touched(
                view, functools.partial(self._filing, view.dossier)
            ):
                facts[link.event] = view
        previous = plan.previous.item if plan.previous is not None else None
        first = functools.partial(self.memory.first.first, item_id[1][0])
        steps = refold(item_id, previous, sorted(facts.values(), key=fold_order), first)
        new: Chain = [(plan.previous.valid_from, previous)] if plan.previous is not None else []
        new += [(step.start, step.item) for step in steps]
        changed = self.rewrite.replace(table, item, plan.region, new, plan.previous)
        links = [(s.start, self._position(r), False) for s in steps for r in s.facts]
        links += [(s.start, self._position(r), True) for s in steps for r in s.effects]
        self.rewrite.relink(item, plan.links, links)
        if not changed:
            return
        if section == "pledges":
            self._pledge_changed(item_id, [(r.valid_from, r.item) for r in plan.region], new)
        if section == "positions" and any(step.item.membership() is not None for step in steps):
            dossier, _, issue = item_id[1]
            self._coalitions.add((dossier, issue))

    def _pledge_changed(self, item_id: ItemId, old: Chain, new: Chain) -> None:
        """A refolded pledge item: its first pledge for conditions, its total's patches."""
        dossier, donor, recipient, code = item_id[1]
        last: Pledge | None = new[-1][1] if new else None
        first = None
        if last is not None and last.first_event is not None and last.first_announced is not None:
            announced = last.first_announced
            first = Pledged(
                (announced.start, announced.end, last.first_event.key), last.first_event
            )
        for item, start in self.memory.first.set(dossier, donor, recipient, code, first):
            key = (dossier, donor, item)
            self._first_changes[key] = min(self._first_changes.get(key, start), start)
        if dossier in self._categories_changed:
            return
        category = self.memory.records.of(dossier).categories().get(code, UNCATEGORISED)
        found = self._patches.setdefault((dossier, category), {})
        for start, patch in totals_.patches(totals_.NOTHING, old, new).items():
            found.setdefault(start, []).append(patch)

    def _locate(self, refs: Iterable[Ref]) -> None:
        """Learn the positions of these events, a lookup per dossier: a total's versions
        after a late pledge name hundreds of events no other item of the group does."""
        missing: dict[str, set[str]] = {}
        for ref in refs:
            if ref not in self.positions_of:
                missing.setdefault(ref.dossier, set()).add(ref.key)
        for dossier, keys in missing.items():
            for key, envelope in self.find(dossier, sorted(keys)).items():
                self.positions_of[Ref(dossier, key)] = envelope.position or 0

    def _position(self, ref: Ref) -> int:
        """The position of the event `ref` names."""
        found = self.positions_of.get(ref)
        if found is None:
            envelope = self.find(ref.dossier, [ref.key]).get(ref.key)
            assert envelope is not None, f"no event {ref}"
            found = self.positions_of[ref] = envelope.position or 0
        return found

    # -- derived sections ------------------------------------------------------------

    def _register_coalitions(self) -> None:
        """Give an id to each coalition a committed position may have made: the item
        registry names every coalition that ever was, which `coalitions` reads from."""
        self._ids(("coalitions", key) for key in self._coalitions)

    def _refold_totals(self) -> None:
        table = VERSIONS["totals"]
        for dossier in self._categories_changed:
            self._patches.update(self._all_patches(dossier))
        if not self._patches:
            return
        ids = self._ids(("totals", key) for key in self._patches)
        for (dossier, category), changes in self._patches.items():
            item = ids[("totals", (dossier, category))]
            afresh = dossier in self._categories_changed
            if not changes and not afresh:
                continue
            start = None if afresh else min(changes)
            region = versions.chain_from(self.conn, table, item, start)
            previous = None
            if region and start is not None and region[0].valid_from < start:
                previous = region[0]
            links = versions.links_from(self.conn, item, start)
            old = [] if afresh else [(r.valid_from, r.item) for r in region if r is not previous]
            before = previous.item if previous is not None else None
            steps = totals_.patched(before, dossier, category, old, changes)
            new: Chain = [(previous.valid_from, before)] if previous is not None else []
            self.rewrite.replace(table, item, region, [*new, *steps], previous)
            self._locate({r for _, found in steps for r in found.events})
            fresh = [(s, self._position(r), True) for s, found in steps for r in found.events]
            self.rewrite.relink(item, links, fresh)

    def _all_patches(
        self, dossier: str
    ) -> dict[tuple[str, str], dict[dt.datetime, list[totals_.Patch]]]:
        """Every total of a dossier from nothing, from all its pledges' versions, after its
        categories changed; totals of categories no longer used get no versions."""
        table = VERSIONS["pledges"]
        t = table.table
        query = (
            sa.select(t.c.item_id, t.c.valid_from, *table.columns())
            .where(t.c.dossier == dossier, t.c.recorded_to.is_(None))
            .order_by(t.c.item_id, t.c.valid_from)
        )
        chains: dict[int, Chain] = {}
        for item, start, *values in self.conn.execute(query):
            chains.setdefault(item, []).append((start, table.item(values)))
        categories = self.memory.records.of(dossier).categories()
        found: dict[tuple[str, str], dict[dt.datetime, list[totals_.Patch]]] = {}
        for chain in chains.values():
            category = categories.get(chain[0][1].item, UNCATEGORISED)
            target = found.setdefault((dossier, category), {})
            for start, patch in totals_.patches(totals_.NOTHING, [], chain).items():
                target.setdefault(start, []).append(patch)
        t = state_items
        for (text,) in self.conn.execute(
            sa.select(t.c.key).where(t.c.section == "totals", t.c.dossier == dossier)
        ):
            found.setdefault((dossier, json.loads(text)[0]), {})
        return found

    def _write(self) -> None:
        self.rewrite.write(self.conn, TABLES)


@attrs.frozen
class _Plan:
    """What refolding one item starts from: the stored versions it replaces (`region`),
    the one in force before its first change (`previous`), and their links."""

    region: list[Row]
    previous: Row | None
    links: list[Link]
    touch: _Touch


def _plan(region: list[Row], links: list[Link], start: dt.datetime | None, touch: _Touch) -> _Plan:
    """An item changed within its history: its versions and links from `start` on (all of
    them when None), and the version in force before it."""
    previous = None
    if region and start is not None and region[0].valid_from < start:
        previous = region[0]
    return _Plan(region=region, previous=previous, links=links, touch=touch)


def _subject(change: Change) -> Envelope:
    """The event whose view a change is of."""
    envelope = change[0] or change[1]
    assert envelope is not None  # a change has a view on one side at least
    return envelope


def _declaration(change: Change) -> bool:
    return isinstance(_subject(change).event, DossierDeclared)


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def read_models(store: EventStore) -> dict[str, list[dict[str, Any]]]:
    """Every row of the version tables as they are, for tests: by table, sorted."""
    with store.engine.connect() as conn:
        return {
            v.table.name: [
                dict(r) for r in conn.execute(sa.select(v.table).order_by(v.table.c.id)).mappings()
            ]
            for v in VERSIONS.values()
        }
