"""Pressure: how often and when one actor pressed another on an issue.

One item per pressing actor, so "who pressed Berlin, how often, last when"
is a lookup rather than a scan of the log; positions read it for their
`pressed_by`.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs

from events import Envelope, Occurred
from projections.items import causes, derived, key
from projections.refs import Ref


@attrs.frozen(kw_only=True)
class Pressure:
    """`actor` pressed `target` on `issue` `count` times, from `first` to `last`."""

    section: ClassVar[str] = "pressure"

    dossier: str = key()
    actor: str = key()
    target: str = key()
    issue: str = key()
    count: int
    first: Occurred
    last: Occurred
    certain: bool = derived(False)
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.dossier, self.actor, self.target, self.issue)

    def certain_from(self) -> dt.datetime:
        return self.last.end


def applied(
    previous: Pressure | None, fact: Envelope, actor: str, target: str, issue: str
) -> Pressure:
    """One more time `actor` pressed, by `fact`."""
    if previous is None:
        return Pressure(
            dossier=fact.dossier,
            actor=actor,
            target=target,
            issue=issue,
            count=1,
            first=fact.occurred,
            last=fact.occurred,
        )
    return attrs.evolve(previous, count=previous.count + 1, last=fact.occurred)


def kinds(before: Pressure | None, after: Pressure) -> list[str]:
    if before is None or after.count > before.count:
        return ["pressure applied"]
    if before.last == after.last and before.certain != after.certain:
        return ["certainty changed"]
    return ["pressure changed"]
