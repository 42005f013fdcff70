"""The pure fold: a dossier's settled facts into versions of its state items.

Facts fold in fold order (valid start, end, key). Facts with one valid start
form a *group*: no `as_of` can tell them apart, so each item touched in a
group gets one new version, starting at that start, whose causes are the
events that touched it there. Items keep their content from one version to
the next; each section module says how one fact changes one item.

Two sections are derived from others once per group: coalitions from the
membership of positions (`projections.coalitions`), totals from what the
pledges of each category add up to (`projections.totals`).

This fold is the oracle the indexed read side is tested against. Nothing
here reads a clock, a database or a logger: the caller supplies every
input, including "now".
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from events import (
    CoalitionFormed,
    DeliveryReported,
    Envelope,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    RequestDecided,
    RequestFiled,
)
from projections import coalitions, formed, pledges, positions, precedents, pressure, requests
from projections import totals as totals_
from projections.pledges import Contribution, Pledge
from projections.positions import FirstPledge, Pledged, Position
from projections.record import UNCATEGORISED, Record, fold_order, settle
from projections.refs import Ref, Resolver, by_name
from projections.state import EVERYTHING, Context, Filter, Item, Key, State, finish

FOLDED_TYPES: frozenset[str] = frozenset(
    cls.type
    for cls in (
        PositionStated,
        PledgeAnnounced,
        DeliveryReported,
        RequestFiled,
        RequestDecided,
        PrecedentSet,
        PressureApplied,
        CoalitionFormed,
    )
)
"""The event types the fold reads; the others (statements, threats...) stay in the log.

A stream feeding a fold may leave the rest out: the state is the same."""

ItemId = tuple[str, Key]
"""An item named by its section and key."""


def groups(facts: Iterable[Envelope]) -> Iterator[tuple[dt.datetime, list[Envelope]]]:
    """Facts given in fold order, by valid start."""
    for start, group in itertools.groupby(facts, key=lambda e: e.occurred.start):
        yield start, list(group)


def touched(fact: Envelope, filing: Callable[[str], str | None]) -> list[ItemId]:
    """The items `fact` folds into; `filing(reference)` is the key of the request a
    decision names, or None when it names none."""
    d, event = fact.dossier, fact.event
    match event:
        case PositionStated():
            return [("positions", (d, event.actor, event.issue))]
        case PledgeAnnounced():
            return [
                ("pledges", (d, event.donor, event.recipient, event.item)),
                ("positions", (d, event.donor, event.issue)),
            ]
        case DeliveryReported():
            return [("pledges", (d, event.donor, event.recipient, event.item))]
        case RequestFiled():
            return [("requests", (d, fact.key))]
        case RequestDecided():
            key = filing(event.request)
            return [] if key is None else [("requests", (d, key))]
        case PrecedentSet():
            return [("precedents", (d, event.actor, event.issue))]
        case PressureApplied():
            return [
                ("pressure", (d, actor, event.target, event.issue))
                for actor in dict.fromkeys(event.actors)
            ]
        case CoalitionFormed():
            return [("formed", (d, fact.key))]
    return []


def apply(item_id: ItemId, previous: Any, fact: Envelope, first: FirstPledge) -> Any:
    """The item after `fact` folds into it; None for a decision whose request is not
    filed yet (it applies when the request is)."""
    section, key = item_id
    event = fact.event
    match section:
        case "positions":
            if isinstance(event, PositionStated):
                return positions.stated(previous, fact, first)
            return positions.pledged(previous, fact)
        case "pledges":
            if isinstance(event, PledgeAnnounced):
                return pledges.announced(previous, fact)
            return pledges.delivered(previous, fact)
        case "requests":
            if isinstance(event, RequestFiled):
                return requests.filed(fact)
            return None if previous is None else requests.decided(previous, fact)
        case "precedents":
            return precedents.set_by(fact)
        case "pressure":
            _, actor, target, issue = key
            return pressure.applied(previous, fact, actor, target, issue)
        case "formed":
            return formed.formed(fact)
    raise ValueError(f"no section {section!r}")


@attrs.frozen(kw_only=True)
class Step:
    """One version of one item: from `start`, made by `facts` folding into it and by
    the `effects` of other items (a pledge meeting its condition)."""

    start: dt.datetime
    item: Any
    facts: tuple[Ref, ...]
    effects: tuple[Ref, ...]


def refold(
    item_id: ItemId, previous: Any, facts: Iterable[Envelope], first: FirstPledge
) -> list[Step]:
    """The versions of one item after `previous`, from its `facts` (in fold order).

    `first` must give the first matching pledge over all of the dossier's
    facts (the pure fold gives the first so far, which decides the same).
    This is how the projector refolds one item; `DossierFold` gives the
    same versions for every item at once.
    """
    steps: dict[dt.datetime, tuple[Any, list[Ref], list[Ref]]] = {}
    current, pending = previous, []

    def record(start: dt.datetime, ref: Ref, effect: bool) -> None:
        _, found_facts, found_effects = steps.get(start, (None, [], []))
        (found_effects if effect else found_facts).append(ref)
        steps[start] = (current, found_facts, found_effects)

    def meet_before(order: Any) -> None:
        nonlocal current
        while (wanted := positions.waits_for(current)) is not None:
            pledge = first(*wanted)
            if pledge is None or (order is not None and pledge.order >= order):
                return
            current = positions.met(current, pledge.ref)
            record(pledge.start, pledge.ref, True)

    is_position = item_id[0] == "positions"
    for fact in facts:
        if is_position:
            meet_before(positions.order(fact))
        found = apply(item_id, current, fact, first)
        if found is None:
            pending.append(fact)
            continue
        current = found
        record(fact.occurred.start, Ref.of(fact), False)
        if isinstance(fact.event, RequestFiled):
            for decision in sorted(pending, key=fold_order):
                current = requests.decided(current, decision)
                record(fact.occurred.start, Ref.of(decision), False)
            pending = []
    if is_position:
        meet_before(None)
    return [
        Step(
            start=start,
            item=attrs.evolve(
                item, events=tuple(sorted({*found_facts, *found_effects}, key=by_name))
            ),
            facts=tuple(sorted(set(found_facts))),
            effects=tuple(sorted(set(found_effects) - set(found_facts))),
        )
        for start, (item, found_facts, found_effects) in sorted(steps.items())
    ]


class DossierFold:
    """Folds one dossier's record, group by group, keeping each item's current version.

    With `keep_versions`, every version of every item is kept too, with the
    valid time it starts at (`versions`).
    """

    def __init__(self, record: Record, *, keep_versions: bool = False) -> None:
        self.record = record
        self.dossier = record.dossier
        self.current: dict[ItemId, Any] = {}
        self.versions: dict[ItemId, list[tuple[dt.datetime, Any]]] | None = (
            {} if keep_versions else None
        )
        self._first: dict[tuple[str, str | None], Pledged] = {}
        self._waiting: dict[str, dict[Key, None]] = {}
        self._pending: dict[ItemId, list[Envelope]] = {}
        filings: Resolver[Envelope] = Resolver((e, e) for e in record.everything)
        self._filing = lambda reference: _filing_key(filings(self.dossier, reference))

    def run(self, until: dt.datetime | None = None) -> None:
        """Fold every fact starting before `until` (all of them when None)."""
        facts: Iterable[Envelope] = self.record.facts
        if until is not None:
            facts = itertools.takewhile(lambda e: e.occurred.start < until, facts)
        for start, group in groups(facts):
            self.fold_group(start, group)

    # -- one group -------------------------------------------------------------

    def fold_group(self, start: dt.datetime, facts: list[Envelope]) -> None:
        group = _Group()
        for fact in facts:
            for item_id in touched(fact, self._filing):
                self._fold(group, item_id, fact)
            if isinstance(fact.event, PledgeAnnounced):
                self._pledged(group, fact)
        self._regroup_coalitions(group)
        self._move_totals(group)
        for item_id, refs in group.causes.items():
            item = attrs.evolve(self.current[item_id], events=tuple(sorted(set(refs))))
            self.current[item_id] = item
            if self.versions is not None:
                self.versions.setdefault(item_id, []).append((start, item))

    def _fold(self, group: _Group, item_id: ItemId, fact: Envelope) -> None:
        found = apply(item_id, self.current.get(item_id), fact, self._first_pledge)
        if found is None:
            self._pending.setdefault(item_id, []).append(fact)
            return
        self._touch(group, item_id, found, Ref.of(fact))
        for decision in sorted(self._pending.pop(item_id, []), key=fold_order):
            decided = requests.decided(self.current[item_id], decision)
            self._touch(group, item_id, decided, Ref.of(decision))
        if (
            wanted := positions.waits_for(found if item_id[0] == "positions" else None)
        ) is not None:
            self._waiting.setdefault(wanted[0], {})[item_id[1]] = None

    def _touch(self, group: _Group, item_id: ItemId, item: Any, cause: Ref) -> None:
        section = item_id[0]
        if section == "positions" and item_id not in group.members:
            before = self.current.get(item_id)
            group.members[item_id] = None if before is None else before.membership()
        if section == "pledges" and item_id not in group.contributions:
            before = self.current.get(item_id)
            group.contributions[item_id] = (
                totals_.NOTHING if before is None else before.contribution()
            )
        self.current[item_id] = item
        group.causes.setdefault(item_id, []).append(cause)

    def _first_pledge(self, donor: str, item: str | None) -> Pledged | None:
        return self._first.get((donor, item))

    def _pledged(self, group: _Group, fact: Envelope) -> None:
        """Remember the donor's first pledges, and meet the conditions waiting for them."""
        event = fact.event
        assert isinstance(event, PledgeAnnounced)
        pledged = Pledged.of(fact)
        self._first.setdefault((event.donor, None), pledged)
        self._first.setdefault((event.donor, event.item), pledged)
        waiting = self._waiting.get(event.donor)
        if not waiting:
            return
        for key in list(waiting):
            item_id = ("positions", key)
            position: Position = self.current[item_id]
            wanted = positions.waits_for(position)
            if wanted is None or wanted[0] != event.donor:
                del waiting[key]  # a later statement replaced the condition
            elif wanted[1] in (None, event.item):
                self._touch(group, item_id, positions.met(position, pledged.ref), pledged.ref)
                del waiting[key]

    # -- derived sections -------------------------------------------------------

    def _regroup_coalitions(self, group: _Group) -> None:
        moves: dict[str, list[coalitions.Move]] = {}
        for item_id, before in group.members.items():
            position: Position = self.current[item_id]
            if position.membership() != before:
                moves.setdefault(position.issue, []).append(
                    coalitions.moved(coalitions.Stand.of(position))
                )
        for issue, issue_moves in moves.items():
            item_id = ("coalitions", (self.dossier, issue))
            previous = self.current.get(item_id)
            self.current[item_id] = coalitions.regrouped(previous, self.dossier, issue, issue_moves)
            group.causes[item_id] = [move.by for move in issue_moves]

    def _move_totals(self, group: _Group) -> None:
        deltas: dict[str, tuple[Contribution, list[Ref]]] = {}
        for item_id, before in group.contributions.items():
            pledge: Pledge = self.current[item_id]
            after = pledge.contribution()
            if after == before:
                continue
            category = self.record.categories.get(pledge.item, UNCATEGORISED)
            delta, refs = deltas.get(category, (totals_.NOTHING, []))
            deltas[category] = (
                totals_.add(delta, totals_.delta(before, after)),
                refs + group.causes[item_id],
            )
        for category, (delta, refs) in deltas.items():
            item_id = ("totals", (self.dossier, category))
            self.current[item_id] = totals_.moved(
                self.current.get(item_id), self.dossier, category, delta
            )
            group.causes[item_id] = refs


def _filing_key(found: Envelope | None) -> str | None:
    """The key of a request filing, if `found` is one."""
    return found.key if found is not None and isinstance(found.event, RequestFiled) else None


@attrs.define
class _Group:
    """What one group has touched: causes per item, and positions' membership and
    pledges' contributions as they were before it."""

    causes: dict[ItemId, list[Ref]] = attrs.Factory(dict)
    members: dict[ItemId, Ref | None] = attrs.Factory(dict)
    contributions: dict[ItemId, Contribution] = attrs.Factory(dict)


# -- the state and the history ------------------------------------------------------


def _aware(name: str, value: dt.datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def project(
    envelopes: Iterable[Envelope],
    *,
    as_of: dt.datetime,
    known_at: dt.datetime | None = None,
    where: Filter = EVERYTHING,
) -> State:
    """The state as of `as_of` (valid time), as known at `known_at` (transaction time).

    Both cutoffs are exclusive and must be timezone-aware: "as of 20 January"
    is `Occurred.parse("2023-01-20").end`, midnight starting the 21st. An
    event counts when its valid time starts before `as_of`; the store knew it
    when it was recorded before `known_at` (None: everything given). The
    order of `envelopes` never matters: events fold by valid time, then key.
    """
    _aware("as_of", as_of)
    _aware("known_at", known_at)
    items: list[Item] = []
    for record in settle(envelopes, known_at=known_at):
        if where.dossier not in (None, record.dossier):
            continue
        fold = DossierFold(record)
        fold.run(until=as_of)
        items.extend(_finished(fold.current.values(), record.categories, as_of))
    return State.of(as_of=as_of, known_at=known_at, items=items).filtered(where)


def _finished(items: Iterable[Any], categories: Mapping[str, str], as_of: dt.datetime) -> list[Any]:
    """Items of one dossier, all current as of `as_of`, with their derived fields."""
    current = list(items)
    pressing: dict[tuple[str, str, str], list[str]] = {}
    for item in current:
        if item.section == "pressure":
            pressing.setdefault((item.dossier, item.target, item.issue), []).append(item.actor)
    context = Context(
        as_of=as_of,
        categories=lambda _: categories,
        pressing=lambda d, t, i: tuple(sorted(pressing.get((d, t, i), ()))),
    )
    return [finish(item, context) for item in current]


@attrs.frozen(kw_only=True)
class Version:
    """One version of an item: in force for `as_of` in ``(valid_from, valid_to]``.

    That is, from the first instant after `valid_from` up to and including
    `valid_to` as an exclusive cutoff; None is "still so". Its derived
    fields are as of the first instant it is in force.
    """

    valid_from: dt.datetime
    valid_to: dt.datetime | None
    item: Any


class History:
    """Every version of every item, as known at one transaction time (the oracle's view)."""

    def __init__(self, envelopes: Iterable[Envelope], *, known_at: dt.datetime | None) -> None:
        _aware("known_at", known_at)
        self.known_at = known_at
        self.chains: dict[ItemId, list[tuple[dt.datetime, Any]]] = {}
        self.categories: dict[str, Mapping[str, str]] = {}
        for record in settle(envelopes, known_at=known_at):
            fold = DossierFold(record, keep_versions=True)
            fold.run()
            assert fold.versions is not None
            self.chains.update(fold.versions)
            self.categories[record.dossier] = record.categories

    def item_at(self, item_id: ItemId, as_of: dt.datetime) -> Any:
        """The unfinished item in force as of `as_of`, or None."""
        found = None
        for start, item in self.chains.get(item_id, ()):
            if start >= as_of:
                break
            found = item
        return found

    def context(self, as_of: dt.datetime) -> Context:
        pressing: dict[tuple[str, str, str], list[str]] = {}
        for (section, key), chain in self.chains.items():
            if section == "pressure" and chain[0][0] < as_of:
                dossier, actor, target, issue = key
                pressing.setdefault((dossier, target, issue), []).append(actor)
        return Context(
            as_of=as_of,
            categories=lambda d: self.categories.get(d, {}),
            pressing=lambda d, t, i: tuple(sorted(pressing.get((d, t, i), ()))),
        )

    def state(self, as_of: dt.datetime, where: Filter = EVERYTHING) -> State:
        """The state as of `as_of`: the same as `project` with this history's `known_at`."""
        _aware("as_of", as_of)
        context = self.context(as_of)
        items = []
        for item_id in self.chains:
            found = self.item_at(item_id, as_of)
            if found is not None:
                items.append(finish(found, context))
        return State.of(as_of=as_of, known_at=self.known_at, items=items).filtered(where)

    def versions(self, section: str, key: Key) -> tuple[Version, ...]:
        """Every version of one item, oldest first."""
        chain = self.chains.get((section, key), [])
        found = []
        for index, (start, item) in enumerate(chain):
            end = chain[index + 1][0] if index + 1 < len(chain) else None
            first = start + dt.timedelta(microseconds=1)
            found.append(
                Version(valid_from=start, valid_to=end, item=finish(item, self.context(first)))
            )
        return tuple(found)

    def causes(self, item_id: ItemId, start: dt.datetime, end: dt.datetime) -> set[Ref]:
        """The causes of the versions of one item starting in ``[start, end)``."""
        return {
            ref
            for valid_from, item in self.chains.get(item_id, ())
            if start <= valid_from < end
            for ref in item.events
        }
