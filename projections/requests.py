"""Requests: one per `request.filed`, open until a `request.decided` names it.

A decision names its request by key or id (`projections.refs`). The latest
decision in fold order is the request's status, and a decision dated before
its request (a source's date may be vaguer than another's) applies from the
moment the request exists.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs

from events import Envelope, Occurred, Quantity, RequestDecided, RequestFiled
from projections.items import causes, derived, key
from projections.refs import Ref

OPEN = "open"
"""The status of a request nobody has decided yet; otherwise the decision."""


@attrs.frozen(kw_only=True)
class Request:
    """A request and, once someone decided it, the decision (`decision` names it)."""

    section: ClassVar[str] = "requests"

    dossier: str = key()
    request: str = key()
    requester: str
    addressee: str
    issue: str
    ask: str
    item: str | None
    quantity: Quantity | None
    filed: Occurred
    status: str
    decided: Occurred | None
    decided_by: str | None
    decision: Ref | None
    certain: bool = derived(False)
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str]:
        return (self.dossier, self.request)

    def certain_from(self) -> dt.datetime:
        return (self.decided or self.filed).end


def filed(fact: Envelope) -> Request:
    event = fact.event
    assert isinstance(event, RequestFiled)
    return Request(
        dossier=fact.dossier,
        request=fact.key,
        requester=event.requester,
        addressee=event.addressee,
        issue=event.issue,
        ask=str(event.ask),
        item=event.item,
        quantity=event.quantity,
        filed=fact.occurred,
        status=OPEN,
        decided=None,
        decided_by=None,
        decision=None,
    )


def decided(request: Request, fact: Envelope) -> Request:
    event = fact.event
    assert isinstance(event, RequestDecided)
    return attrs.evolve(
        request,
        status=str(event.decision),
        decided=fact.occurred,
        decided_by=event.by,
        decision=Ref.of(fact),
    )


def kinds(before: Request | None, after: Request) -> list[str]:
    """What happened to a request, headline first."""
    found = []
    decision = (after.status, after.decided, after.decided_by)
    if after.status != OPEN and (
        before is None or (before.status, before.decided, before.decided_by) != decision
    ):
        found.append("request decided")
    if before is None:
        found.append("request filed")
    elif before.certain != after.certain and (before.filed, before.decided) == (
        after.filed,
        after.decided,
    ):
        found.append("certainty changed")
    return found or ["request changed"]
