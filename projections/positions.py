"""Positions: where an actor stands on an issue, since when, and on what condition.

A `position.stated` sets the stance and its condition; a `pledge.announced`
makes its donor `committed` on the pledge's issue. A condition ("only if the
US sends Abrams") is met by the first matching pledge in fold order,
whenever it was made: if that pledge comes before the statement, the
statement is met at once; if after, the position changes again when the
pledge comes, and the pledge is among the causes of that version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ClassVar

import attrs

from events import Does, Envelope, Occurred, PledgeAnnounced, PositionStated, Stance
from projections.items import causes, derived, key
from projections.refs import Ref


@attrs.frozen(kw_only=True)
class ConditionStatus:
    """A condition a position hangs on, and whether (and by which pledge) it was met."""

    actor: str
    does: Does
    item: str | None
    met: bool
    met_by: Ref | None


@attrs.frozen(kw_only=True)
class Position:
    """Where `actor` stands on `issue` in one dossier.

    `since` is the valid time of the event that last *changed* the stance
    (`since_event`); a restatement keeps it, so "since when" answers the
    analyst's question. `pressed_by` (derived) names every actor that
    pressed this one on this issue up to the time asked for.
    """

    section: ClassVar[str] = "positions"

    dossier: str = key()
    actor: str = key()
    issue: str = key()
    stance: Stance
    since: Occurred
    since_event: Ref
    condition: ConditionStatus | None
    certain: bool = derived(False)
    pressed_by: tuple[str, ...] = derived(())
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dossier, self.actor, self.issue)

    def certain_from(self) -> dt.datetime:
        return self.since.end

    def membership(self) -> Ref | None:
        """The event by which the actor is committed (joined the coalition), if it is."""
        return self.since_event if self.stance == Stance.COMMITTED else None


Order = tuple[dt.datetime, dt.datetime, str]
"""Where an event falls in its dossier's fold order: valid start, end, key."""


def order(envelope: Envelope) -> Order:
    occurred = envelope.occurred
    return (occurred.start, occurred.end, envelope.key)


@attrs.frozen
class Pledged:
    """A pledge as conditions see it: where it falls in fold order, and which it is."""

    order: Order
    ref: Ref

    @property
    def start(self) -> dt.datetime:
        return self.order[0]

    @classmethod
    def of(cls, envelope: Envelope) -> Pledged:
        return cls(order(envelope), Ref.of(envelope))


FirstPledge = Callable[[str, str | None], Pledged | None]
"""The first pledge in fold order by a donor (of an item, or of any item when None)."""


def _set_stance(
    previous: Position | None, fact: Envelope, actor: str, issue: str, stance: Stance
) -> Position:
    if previous is None:
        return Position(
            dossier=fact.dossier,
            actor=actor,
            issue=issue,
            stance=stance,
            since=fact.occurred,
            since_event=Ref.of(fact),
            condition=None,
        )
    if previous.stance == stance:
        return previous
    return attrs.evolve(previous, stance=stance, since=fact.occurred, since_event=Ref.of(fact))


def stated(previous: Position | None, fact: Envelope, first: FirstPledge) -> Position:
    """Set the stance and the condition; a new statement replaces the last one's condition."""
    event = fact.event
    assert isinstance(event, PositionStated)
    position = _set_stance(previous, fact, event.actor, event.issue, event.stance)
    condition = None
    if event.condition is not None:
        pledge = first(event.condition.actor, event.condition.item)
        met = pledge is not None and pledge.order < order(fact)
        condition = ConditionStatus(
            actor=event.condition.actor,
            does=event.condition.does,
            item=event.condition.item,
            met=met,
            met_by=pledge.ref if met and pledge is not None else None,
        )
    return attrs.evolve(position, condition=condition)


def pledged(previous: Position | None, fact: Envelope) -> Position:
    """A pledge commits its donor on the pledge's issue."""
    event = fact.event
    assert isinstance(event, PledgeAnnounced)
    return _set_stance(previous, fact, event.donor, event.issue, Stance.COMMITTED)


def waits_for(position: Position | None) -> tuple[str, str | None] | None:
    """The (donor, item) an unmet condition waits for, if any."""
    if position is None or position.condition is None or position.condition.met:
        return None
    return (position.condition.actor, position.condition.item)


def met(position: Position, pledge: Ref) -> Position:
    """The condition met by `pledge`, which came after the statement."""
    assert position.condition is not None  # only waiting positions are met
    return attrs.evolve(
        position, condition=attrs.evolve(position.condition, met=True, met_by=pledge)
    )


def kinds(before: Position | None, after: Position) -> list[str]:
    """What happened to a position, headline first."""
    found = []
    if before is None:
        found.append("position taken")
    elif before.stance != after.stance:
        found.append("stance changed")
    was_met = before is not None and before.condition is not None and before.condition.met
    if after.condition is not None and after.condition.met and not was_met:
        found.append("condition met")
    if before is None:
        return found
    if _wanted(before) != _wanted(after):
        found.append("condition changed")
    if before.pressed_by != after.pressed_by:
        found.append("pressed")
    if before.since_event == after.since_event and before.certain != after.certain:
        found.append("certainty changed")
    if not found:
        found.append("position restated" if before.events != after.events else "position changed")
    return found


def _wanted(position: Position) -> tuple[str, str, str | None] | None:
    condition = position.condition
    return None if condition is None else (condition.actor, str(condition.does), condition.item)
