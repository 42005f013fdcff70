"""Precedents: the threshold an actor crossed on an issue, and the event that crossed it."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs

from events import Envelope, Occurred, PrecedentSet
from projections.items import causes, derived, key
from projections.refs import Ref


@attrs.frozen(kw_only=True)
class Precedent:
    """The latest precedent `actor` set on `issue`: its threshold and the event (`by`) behind it."""

    section: ClassVar[str] = "precedents"

    dossier: str = key()
    actor: str = key()
    issue: str = key()
    threshold: str
    by: Ref
    occurred: Occurred
    certain: bool = derived(False)
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dossier, self.actor, self.issue)

    def certain_from(self) -> dt.datetime:
        return self.occurred.end


def set_by(fact: Envelope) -> Precedent:
    """The precedent as `fact` sets it; a later one replaces an earlier one."""
    event = fact.event
    assert isinstance(event, PrecedentSet)
    return Precedent(
        dossier=fact.dossier,
        actor=event.actor,
        issue=event.issue,
        threshold=event.threshold,
        by=Ref(fact.dossier, event.by),
        occurred=fact.occurred,
    )


def kinds(before: Precedent | None, after: Precedent) -> list[str]:
    if before is None:
        return ["precedent set"]
    if before.occurred == after.occurred and before.certain != after.certain:
        return ["certainty changed"]
    return ["precedent changed"]
