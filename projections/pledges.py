"""Pledges: what a donor pledged and delivered of one item to one recipient.

Quantities stay honest: `quantity` sums only the numbers sources gave and
`unknown` lists the pledges that gave none; a stated running `total`
replaces the sum and settles the earlier unknowns. Deliveries follow the
same rule in `delivered` and `delivered_unknown`. An item only ever
reported delivered has no `issue` and no `first_announced`, and counts in
no total (neither as pledged nor as delivered).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs

from events import DeliveryReported, Envelope, Occurred, PledgeAnnounced, Quantity
from projections.items import causes, derived, key
from projections.record import UNCATEGORISED
from projections.refs import Ref

Contribution = tuple[int, int, int, int, int, int]
"""What one pledge item adds to its category's total: low, high, unknown pledges, items,
and the low and high of what was delivered."""


@attrs.frozen(kw_only=True)
class Pledge:
    """What `donor` pledged and delivered of one `item` to `recipient`.

    `category` (derived) is the item's declared category as known at the
    time asked for; `updated` is the valid time of the last pledge or
    delivery report; `first_event` is the first pledge, which meets
    conditions waiting for this donor.
    """

    section: ClassVar[str] = "pledges"

    dossier: str = key()
    donor: str = key()
    recipient: str = key()
    item: str = key()
    issue: str | None
    quantity: Quantity | None
    unknown: tuple[Ref, ...]
    delivered: Quantity | None
    delivered_unknown: tuple[Ref, ...]
    first_announced: Occurred | None
    first_event: Ref | None
    updated: Occurred
    category: str = derived(UNCATEGORISED)
    certain: bool = derived(False)
    events: tuple[Ref, ...] = causes()

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.dossier, self.donor, self.recipient, self.item)

    def certain_from(self) -> dt.datetime:
        return self.updated.end

    def contribution(self) -> Contribution:
        if self.first_announced is None:
            return (0, 0, 0, 0, 0, 0)
        low, high = (0, 0) if self.quantity is None else (self.quantity.low, self.quantity.high)
        given = self.delivered
        delivered = (0, 0) if given is None else (given.low, given.high)
        return (low, high, len(self.unknown), 1, *delivered)


def _add(
    amount: Quantity | None,
    unknown: tuple[Ref, ...],
    fact: Envelope,
    quantity: Quantity | None,
    total: Quantity | None,
) -> tuple[Quantity | None, tuple[Ref, ...]]:
    """A running amount after one report: a stated total replaces the sum and the unknowns."""
    if total is not None:
        return total, ()
    if quantity is not None:
        return (quantity if amount is None else amount + quantity), unknown
    return amount, (*unknown, Ref.of(fact))


def _empty(fact: Envelope, donor: str, recipient: str, item: str) -> Pledge:
    return Pledge(
        dossier=fact.dossier,
        donor=donor,
        recipient=recipient,
        item=item,
        issue=None,
        quantity=None,
        unknown=(),
        delivered=None,
        delivered_unknown=(),
        first_announced=None,
        first_event=None,
        updated=fact.occurred,
    )


def announced(previous: Pledge | None, fact: Envelope) -> Pledge:
    event = fact.event
    assert isinstance(event, PledgeAnnounced)
    pledge = previous or _empty(fact, event.donor, event.recipient, event.item)
    quantity, unknown = _add(pledge.quantity, pledge.unknown, fact, event.quantity, event.total)
    first = pledge.first_announced is None
    return attrs.evolve(
        pledge,
        issue=event.issue,
        quantity=quantity,
        unknown=unknown,
        first_announced=fact.occurred if first else pledge.first_announced,
        first_event=Ref.of(fact) if first else pledge.first_event,
        updated=fact.occurred,
    )


def delivered(previous: Pledge | None, fact: Envelope) -> Pledge:
    event = fact.event
    assert isinstance(event, DeliveryReported)
    pledge = previous or _empty(fact, event.donor, event.recipient, event.item)
    amount, unknown = _add(
        pledge.delivered, pledge.delivered_unknown, fact, event.quantity, event.total
    )
    return attrs.evolve(pledge, delivered=amount, delivered_unknown=unknown, updated=fact.occurred)


def kinds(before: Pledge | None, after: Pledge) -> list[str]:
    """What happened to a pledge item, headline first."""
    found = []
    if after.first_announced is not None and (before is None or before.first_announced is None):
        found.append("pledge added")
    elif before is not None and (
        (before.issue, before.quantity, before.unknown, before.category)
        != (after.issue, after.quantity, after.unknown, after.category)
    ):
        found.append("pledge changed")
    was = (None, ()) if before is None else (before.delivered, before.delivered_unknown)
    if was != (after.delivered, after.delivered_unknown):
        found.append("delivery reported")
    if before is not None and before.updated == after.updated and before.certain != after.certain:
        found.append("certainty changed")
    return found or ["pledge changed"]
