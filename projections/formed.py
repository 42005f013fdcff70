"""Formed coalitions: one item per `coalition.formed`, as its members declared it."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs

from events import CoalitionFormed, Envelope, Occurred
from projections.items import causes, derived, key
from projections.refs import Ref


@attrs.frozen(kw_only=True)
class Formed:
    """A coalition (a declared actor code) formed on an issue by the event `event`."""

    section: ClassVar[str] = "formed"

    dossier: str = key()
    event: str = key()
    coalition: str
    issue: str
    members: tuple[str, ...]
    leads: tuple[str, ...]
    occurred: Occurred
    certain: bool = derived(False)
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str]:
        return (self.dossier, self.event)

    def certain_from(self) -> dt.datetime:
        return self.occurred.end


def formed(fact: Envelope) -> Formed:
    event = fact.event
    assert isinstance(event, CoalitionFormed)
    return Formed(
        dossier=fact.dossier,
        event=fact.key,
        coalition=event.coalition,
        issue=event.issue,
        members=event.members,
        leads=event.leads,
        occurred=fact.occurred,
    )


def kinds(before: Formed | None, after: Formed) -> list[str]:
    if before is None:
        return ["coalition formed"]
    if before.occurred == after.occurred and before.certain != after.certain:
        return ["certainty changed"]
    return ["formed coalition changed"]
