"""Coalitions: per issue, the actors committed, in the order they joined.

Derived from positions, and kept as its own versioned section so that "who
was committed on 20 January" is one row, and the coalition's growth one
item's history. An actor joins when its position becomes committed and
leaves when it states a lower stance; it rejoins (and moves to the end)
when another event commits it anew. Membership is read once per valid
time, after every fact of that time: `Position.membership` before and
after. The order is that of the events that made each member committed,
in fold order, so it never depends on when the store learned the facts.
The item exists from the first time anyone joined, even if all leave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import ClassVar

import attrs

from projections.items import causes, key
from projections.positions import Position
from projections.refs import Ref

JoinOrder = tuple[dt.datetime, dt.datetime, str]
"""Where the event that committed a member falls in fold order: valid start, end, key."""


@attrs.frozen(kw_only=True)
class Coalition:
    """Who is committed on `issue`, in the order they joined, and by which events."""

    section: ClassVar[str] = "coalitions"

    dossier: str = key()
    issue: str = key()
    committed: tuple[str, ...]
    joined_by: tuple[Ref, ...]
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str]:
        return (self.dossier, self.issue)

    def certain_from(self) -> None:
        return None


@attrs.frozen
class Move:
    """An actor whose membership changed at one valid time: `joined` by the event `by`
    (its fold order `order`), or left when `joined` is false."""

    actor: str
    joined: bool
    by: Ref
    order: JoinOrder


def regrouped(
    previous: Coalition | None, dossier: str, issue: str, moves: Sequence[Move]
) -> Coalition:
    """The coalition after the moves of one valid time: leavers and rejoiners out,
    joiners appended in the fold order of the events that committed them."""
    moved = {move.actor for move in moves}
    members = members_of(previous)
    kept = [(actor, by) for actor, by in members.items() if actor not in moved]
    joined = [
        (m.actor, m.by) for m in sorted((m for m in moves if m.joined), key=lambda m: m.order)
    ]
    return Coalition(
        dossier=dossier,
        issue=issue,
        committed=tuple(actor for actor, _ in (*kept, *joined)),
        joined_by=tuple(by for _, by in (*kept, *joined)),
    )


def members_of(coalition: Coalition | None) -> dict[str, Ref]:
    """Each member, in order, with the event by which it joined."""
    if coalition is None:
        return {}
    return dict(zip(coalition.committed, coalition.joined_by, strict=True))


@attrs.frozen
class Stand:
    """Where one version of a position leaves its actor in the coalition of its issue:
    the event by which it is committed (`member`, None when it is not), the event that
    set its stance, and that event's place in fold order."""

    actor: str
    member: Ref | None
    by: Ref
    order: JoinOrder

    @classmethod
    def of(cls, position: Position) -> Stand:
        since = position.since
        return cls(
            actor=position.actor,
            member=position.membership(),
            by=position.since_event,
            order=(since.start, since.end, position.since_event.key),
        )


def moved(stand: Stand) -> Move:
    """How an actor whose membership just changed moves in its issue's coalition."""
    return Move(actor=stand.actor, joined=stand.member is not None, by=stand.by, order=stand.order)


def kinds(before: Coalition | None, after: Coalition) -> list[str]:
    """Who joined or left, headline first."""
    had = set() if before is None else set(before.committed)
    found = []
    if set(after.committed) - had:
        found.append("coalition joined")
    if had - set(after.committed):
        found.append("coalition left")
    return found or ["coalition changed"]
