"""`project`: the pure fold of a dossier's events into its state.

One handler per event type (`functools.singledispatch`), each changing a
private, mutable accumulator; the accumulator is frozen into a `State` once
at the end. Appending to lists while folding and building tuples once keeps
a million events linear, where rebuilding frozen items on every event would
copy ever-growing tuples of event keys. Nothing here reads a clock, a
database or a logger: the caller supplies every input, including "now".
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from events import (
    CoalitionFormed,
    DeliveryReported,
    Envelope,
    Event,
    Occurred,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    Quantity,
    RequestDecided,
    RequestFiled,
    Stance,
)
from projections.record import SortKey, fold_order, settle
from projections.state import (
    OPEN,
    UNCATEGORISED,
    Coalition,
    ConditionStatus,
    FormedCoalition,
    Pledge,
    Position,
    Precedent,
    Pressure,
    Request,
    State,
    Total,
)

# Accumulators: private, mutable, one per state item, frozen at the end.
# Without slots, so that pickling a fold (a snapshot) takes the fast path of
# plain instance dictionaries.


@attrs.define(slots=False)
class _Position:
    actor: str
    issue: str
    stance: Stance
    since: Occurred
    # Fold step of the event that last changed the stance: orders coalitions.
    since_step: int
    conditions: list[ConditionStatus]
    events: list[str]


@attrs.define(slots=False)
class _Amount:
    """A running sum of what sources said, with the reports that said no number."""

    quantity: Quantity | None = None
    unknown: list[str] = attrs.Factory(list)

    def add(self, key: str, quantity: Quantity | None, total: Quantity | None) -> None:
        if total is not None:
            # The donor's own running total replaces our sum and settles
            # the earlier reports that gave no number.
            self.quantity, self.unknown = total, []
        elif quantity is not None:
            self.quantity = quantity if self.quantity is None else self.quantity + quantity
        else:
            self.unknown.append(key)


@attrs.define(slots=False)
class _Pledge:
    donor: str
    recipient: str
    item: str
    updated: Occurred
    issue: str | None = None
    pledged: _Amount = attrs.Factory(_Amount)
    delivered: _Amount = attrs.Factory(_Amount)
    first_announced: Occurred | None = None
    events: list[str] = attrs.Factory(list)
    # (fold step, key) of each pledge.announced, for the category totals.
    announcements: list[tuple[int, str]] = attrs.Factory(list)


@attrs.define(slots=False)
class _Request:
    dossier: str
    request: str
    requester: str
    addressee: str
    issue: str
    ask: str
    item: str | None
    quantity: Quantity | None
    filed: Occurred
    status: str = OPEN
    decided: Occurred | None = None
    decided_by: str | None = None
    events: list[str] = attrs.Factory(list)


@attrs.define(slots=False)
class _Precedent:
    actor: str
    issue: str
    threshold: str
    by: str
    occurred: Occurred
    events: list[str]


@attrs.define(slots=False)
class _Pressure:
    actor: str
    target: str
    issue: str
    first: Occurred
    last: Occurred
    events: list[str] = attrs.Factory(list)


@attrs.define(slots=False)
class _Decision:
    key: str
    occurred: Occurred
    status: str
    by: str
    step: int


@attrs.define(slots=False)
class Fold:
    """Everything a fold has seen so far, keyed as the state will be.

    Picklable, so the engine can keep a fold paused at a valid-time cutoff
    (a snapshot) and resume it later with the facts that follow.
    """

    positions: dict[tuple[str, str], _Position] = attrs.Factory(dict)
    pledges: dict[tuple[str, str, str], _Pledge] = attrs.Factory(dict)
    requests: dict[tuple[str, str], _Request] = attrs.Factory(dict)
    # A decision may name its request by id: (dossier, id) -> (dossier, key).
    request_ids: dict[tuple[str, str], tuple[str, str]] = attrs.Factory(dict)
    precedents: dict[tuple[str, str], _Precedent] = attrs.Factory(dict)
    pressure: dict[tuple[str, str, str], _Pressure] = attrs.Factory(dict)
    formed: dict[str, list[FormedCoalition]] = attrs.Factory(dict)
    # Per issue, in fold order: the events by which actors joined (became
    # committed) or left, and coalitions formed. An issue once here keeps
    # its coalition item, so moving forward in time never removes one.
    coalition_events: dict[str, list[str]] = attrs.Factory(dict)
    # The first pledge by each donor, and by each (donor, item): conditions
    # stated later are met by these at once.
    first_pledge: dict[str, str] = attrs.Factory(dict)
    first_pledge_of: dict[tuple[str, str], str] = attrs.Factory(dict)
    # Positions with an unmet condition, by the actor they wait for.
    waiting: dict[str, dict[tuple[str, str], None]] = attrs.Factory(dict)
    # Decisions folded before their request was filed (dated earlier than
    # the filing), applied when it is.
    early_decisions: dict[tuple[str, str], list[_Decision]] = attrs.Factory(dict)
    # How many events have been folded: orders items merged from several
    # accumulators (totals, coalition members) in fold order.
    step: int = 0
    # The fold order of the last fact folded: a fact that sorts after it may
    # be folded on; one that sorts before it needs a fold from earlier.
    last: SortKey | None = None


@functools.singledispatch
def _apply(event: Event, envelope: Envelope, fold: Fold) -> None:
    """Statements, consultations and threats stay in the log: the state ignores them."""


def _set_stance(
    fold: Fold, actor: str, issue: str, stance: Stance, envelope: Envelope
) -> _Position:
    """Record `stance`; `since` moves only when the stance actually changes.

    Becoming committed, or ceasing to be, is also a coalition event.
    """
    position = fold.positions.get((actor, issue))
    was_committed = position is not None and position.stance == Stance.COMMITTED
    if was_committed != (stance == Stance.COMMITTED):
        fold.coalition_events.setdefault(issue, []).append(envelope.key)
    if position is None:
        position = _Position(
            actor=actor,
            issue=issue,
            stance=stance,
            since=envelope.occurred,
            since_step=fold.step,
            conditions=[],
            events=[],
        )
        fold.positions[(actor, issue)] = position
    elif position.stance != stance:
        position.stance, position.since = stance, envelope.occurred
        position.since_step = fold.step
    position.events.append(envelope.key)
    return position


@_apply.register
def _position_stated(event: PositionStated, envelope: Envelope, fold: Fold) -> None:
    """Set the stance and its condition, met at once by any earlier matching pledge."""
    position = _set_stance(fold, event.actor, event.issue, event.stance, envelope)
    # A new statement replaces the conditions of the last one.
    position.conditions = []
    condition = event.condition
    if condition is None:
        return
    if condition.item is None:
        met_by = fold.first_pledge.get(condition.actor)
    else:
        met_by = fold.first_pledge_of.get((condition.actor, condition.item))
    position.conditions.append(
        ConditionStatus(
            actor=condition.actor,
            does=condition.does,
            item=condition.item,
            met=met_by is not None,
            met_by=met_by,
        )
    )
    if met_by is None:
        fold.waiting.setdefault(condition.actor, {})[(event.actor, event.issue)] = None


def _meet_conditions(fold: Fold, event: PledgeAnnounced, key: str) -> None:
    """Mark met every waiting condition this pledge fulfils, on any issue."""
    waiting = fold.waiting.get(event.donor)
    if not waiting:
        return
    for position_key in list(waiting):
        position = fold.positions[position_key]
        touched, still_waiting = False, False
        for index, condition in enumerate(position.conditions):
            if condition.met or condition.actor != event.donor:
                continue
            if condition.item is None or condition.item == event.item:
                position.conditions[index] = attrs.evolve(condition, met=True, met_by=key)
                touched = True
            else:
                still_waiting = True
        if touched and position.events[-1] != key:
            position.events.append(key)
        if not still_waiting:
            del waiting[position_key]


def _pledge_item(fold: Fold, donor: str, recipient: str, item: str, occurred: Occurred) -> _Pledge:
    """The item pledges and deliveries of one donor, recipient and item share."""
    pledge = fold.pledges.get((donor, recipient, item))
    if pledge is None:
        pledge = _Pledge(donor=donor, recipient=recipient, item=item, updated=occurred)
        fold.pledges[(donor, recipient, item)] = pledge
    pledge.updated = occurred
    return pledge


@_apply.register
def _pledge_announced(event: PledgeAnnounced, envelope: Envelope, fold: Fold) -> None:
    """Add to the item, commit the donor on the issue, meet conditions waiting for it."""
    key = envelope.key
    pledge = _pledge_item(fold, event.donor, event.recipient, event.item, envelope.occurred)
    pledge.issue = event.issue
    if pledge.first_announced is None:
        pledge.first_announced = envelope.occurred
    pledge.pledged.add(key, event.quantity, event.total)
    pledge.events.append(key)
    pledge.announcements.append((fold.step, key))
    fold.first_pledge.setdefault(event.donor, key)
    fold.first_pledge_of.setdefault((event.donor, event.item), key)
    _set_stance(fold, event.donor, event.issue, Stance.COMMITTED, envelope)
    _meet_conditions(fold, event, key)


@_apply.register
def _delivery_reported(event: DeliveryReported, envelope: Envelope, fold: Fold) -> None:
    """Add to what was delivered; a delivery commits nobody (it names no issue)."""
    pledge = _pledge_item(fold, event.donor, event.recipient, event.item, envelope.occurred)
    pledge.delivered.add(envelope.key, event.quantity, event.total)
    pledge.events.append(envelope.key)


def _decide(request: _Request, decision: _Decision) -> None:
    """The latest decision folded is the request's status."""
    request.status = decision.status
    request.decided = decision.occurred
    request.decided_by = decision.by
    request.events.append(decision.key)


@_apply.register
def _request_filed(event: RequestFiled, envelope: Envelope, fold: Fold) -> None:
    """Open the request under its key, then apply decisions dated before the filing."""
    request = _Request(
        dossier=envelope.dossier,
        request=envelope.key,
        requester=event.requester,
        addressee=event.addressee,
        issue=event.issue,
        ask=str(event.ask),
        item=event.item,
        quantity=event.quantity,
        filed=envelope.occurred,
        events=[envelope.key],
    )
    key = (envelope.dossier, envelope.key)
    fold.requests[key] = request
    fold.request_ids[(envelope.dossier, str(envelope.id))] = key
    early = fold.early_decisions.pop(key, []) + fold.early_decisions.pop(
        (envelope.dossier, str(envelope.id)), []
    )
    for decision in sorted(early, key=lambda d: d.step):
        _decide(request, decision)


@_apply.register
def _request_decided(event: RequestDecided, envelope: Envelope, fold: Fold) -> None:
    """Decide the request, or keep the decision until a request dated later is filed."""
    decision = _Decision(
        key=envelope.key,
        occurred=envelope.occurred,
        status=str(event.decision),
        by=event.by,
        step=fold.step,
    )
    named = (envelope.dossier, event.request)
    request = fold.requests.get(fold.request_ids.get(named, named))
    if request is None:
        fold.early_decisions.setdefault(named, []).append(decision)
    else:
        _decide(request, decision)


@_apply.register
def _precedent_set(event: PrecedentSet, envelope: Envelope, fold: Fold) -> None:
    """The latest precedent an actor set on an issue gives its threshold and basis."""
    precedent = fold.precedents.get((event.actor, event.issue))
    if precedent is None:
        precedent = _Precedent(
            actor=event.actor,
            issue=event.issue,
            threshold=event.threshold,
            by=event.by,
            occurred=envelope.occurred,
            events=[],
        )
        fold.precedents[(event.actor, event.issue)] = precedent
    else:
        precedent.threshold, precedent.by = event.threshold, event.by
        precedent.occurred = envelope.occurred
    precedent.events.append(envelope.key)


@_apply.register
def _pressure_applied(event: PressureApplied, envelope: Envelope, fold: Fold) -> None:
    """Count the pressure once per pressing actor; positions read it when frozen."""
    for actor in dict.fromkeys(event.actors):
        key = (actor, event.target, event.issue)
        pressure = fold.pressure.get(key)
        if pressure is None:
            pressure = _Pressure(
                actor=actor,
                target=event.target,
                issue=event.issue,
                first=envelope.occurred,
                last=envelope.occurred,
            )
            fold.pressure[key] = pressure
        pressure.last = envelope.occurred
        pressure.events.append(envelope.key)


@_apply.register
def _coalition_formed(event: CoalitionFormed, envelope: Envelope, fold: Fold) -> None:
    """List the declared coalition on its issue; membership stays a matter of stances."""
    formed = FormedCoalition(
        coalition=event.coalition,
        members=event.members,
        leads=event.leads,
        occurred=envelope.occurred,
        key=envelope.key,
    )
    fold.formed.setdefault(event.issue, []).append(formed)
    fold.coalition_events.setdefault(event.issue, []).append(envelope.key)


def _freeze(fold: Fold, categories: Mapping[str, str], as_of: dt.datetime) -> dict[str, Any]:
    """The accumulator as frozen state sections, by section name."""
    pressed_by: dict[tuple[str, str], set[str]] = {}
    for actor, target, issue in fold.pressure:
        pressed_by.setdefault((target, issue), set()).add(actor)
    return {
        "positions": [
            Position(
                actor=p.actor,
                issue=p.issue,
                stance=p.stance,
                since=p.since,
                certain=p.since.ended_by(as_of),
                conditions=tuple(p.conditions),
                events=tuple(p.events),
                pressed_by=tuple(sorted(pressed_by.get(key, ()))),
            )
            for key, p in fold.positions.items()
        ],
        "pledges": [
            Pledge(
                donor=p.donor,
                recipient=p.recipient,
                item=p.item,
                issue=p.issue,
                category=categories.get(p.item, UNCATEGORISED),
                quantity=p.pledged.quantity,
                unknown=tuple(p.pledged.unknown),
                delivered=p.delivered.quantity,
                delivered_unknown=tuple(p.delivered.unknown),
                first_announced=p.first_announced,
                updated=p.updated,
                certain=p.updated.ended_by(as_of),
                events=tuple(p.events),
            )
            for p in fold.pledges.values()
        ],
        "totals": _totals(fold, categories),
        "requests": [
            Request(
                dossier=r.dossier,
                request=r.request,
                requester=r.requester,
                addressee=r.addressee,
                issue=r.issue,
                ask=r.ask,
                item=r.item,
                quantity=r.quantity,
                filed=r.filed,
                status=r.status,
                decided=r.decided,
                decided_by=r.decided_by,
                certain=(r.decided or r.filed).ended_by(as_of),
                events=tuple(r.events),
            )
            for r in fold.requests.values()
        ],
        "precedents": [
            Precedent(
                actor=p.actor,
                issue=p.issue,
                threshold=p.threshold,
                by=p.by,
                occurred=p.occurred,
                certain=p.occurred.ended_by(as_of),
                events=tuple(p.events),
            )
            for p in fold.precedents.values()
        ],
        "pressure": [
            Pressure(
                actor=p.actor,
                target=p.target,
                issue=p.issue,
                count=len(p.events),
                first=p.first,
                last=p.last,
                certain=p.last.ended_by(as_of),
                events=tuple(p.events),
            )
            for p in fold.pressure.values()
        ],
        "coalitions": _coalitions(fold),
    }


def _totals(fold: Fold, categories: Mapping[str, str]) -> list[Total]:
    """Per item category: min and max pledged, and the pledges of unknown size.

    Items only ever reported delivered were never pledged and count nowhere.
    """
    by_category: dict[str, list[_Pledge]] = {}
    for pledge in fold.pledges.values():
        if pledge.first_announced is not None:
            by_category.setdefault(categories.get(pledge.item, UNCATEGORISED), []).append(pledge)
    totals = []
    for category, pledges in by_category.items():
        known = [p.pledged.quantity for p in pledges if p.pledged.quantity is not None]
        step = {key: step for p in pledges for step, key in p.announcements}
        unknown = sorted((key for p in pledges for key in p.pledged.unknown), key=step.__getitem__)
        totals.append(
            Total(
                category=category,
                low=sum(q.low for q in known),
                high=sum(q.high for q in known),
                unknown=tuple(unknown),
                pledges=len(pledges),
                events=tuple(sorted(step, key=step.__getitem__)),
            )
        )
    return totals


def _coalitions(fold: Fold) -> list[Coalition]:
    """Per issue: committed actors in the order they joined, and coalitions formed.

    An actor joined with the event that made its stance committed (its
    `since`), so the fold step of that event orders them: valid time, then key.
    """
    joined: dict[str, list[tuple[int, str]]] = {}
    for p in fold.positions.values():
        if p.stance == Stance.COMMITTED:
            joined.setdefault(p.issue, []).append((p.since_step, p.actor))
    return [
        Coalition(
            issue=issue,
            committed=tuple(actor for _, actor in sorted(joined.get(issue, []))),
            formed=tuple(fold.formed.get(issue, [])),
            events=tuple(events),
        )
        for issue, events in fold.coalition_events.items()
    ]


FOLDED_TYPES: frozenset[str] = frozenset(
    cls.type for cls in _apply.registry if cls is not Event and issubclass(cls, Event)
)
"""The event types the fold reads; the others (statements, threats...) stay in the log.

A stream feeding a fold may leave the rest out: the state is the same."""


def project(
    envelopes: Iterable[Envelope],
    *,
    as_of: dt.datetime,
    known_at: dt.datetime | None = None,
) -> State:
    """The state as of `as_of` (valid time), as known at `known_at` (transaction time).

    Both cutoffs are exclusive and must be timezone-aware: "as of 20 January"
    is `Occurred.parse("2023-01-20").end`, midnight starting the 21st. An
    event counts when its valid time starts before `as_of`; the store knew it
    when it was recorded before `known_at` (None: everything given). The
    order of `envelopes` never matters: events fold by valid time, then key.
    """
    for name, value in (("as_of", as_of), ("known_at", known_at)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    record = settle(envelopes, known_at=known_at)
    accumulator = Fold()
    # Facts are in fold order: every one after the first too late starts later.
    advance(accumulator, itertools.takewhile(lambda e: e.occurred.start < as_of, record.facts))
    return freeze(accumulator, record.categories, as_of=as_of, known_at=known_at)


def advance(accumulator: Fold, facts: Iterable[Envelope]) -> None:
    """Fold settled `facts`, given in fold order, into `accumulator`."""
    for envelope in facts:
        accumulator.step += 1
        _apply(envelope.event, envelope, accumulator)
        accumulator.last = fold_order(envelope)


def freeze(
    accumulator: Fold,
    categories: Mapping[str, str],
    *,
    as_of: dt.datetime,
    known_at: dt.datetime | None,
) -> State:
    """The frozen state of `accumulator`; it stays usable for further folding."""
    return State.of(as_of=as_of, known_at=known_at, **_freeze(accumulator, categories, as_of))
