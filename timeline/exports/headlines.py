"""One line saying what an event says, in the dossier's own names, for slides and records.

TimelineJS shows a headline on every slide and PLOVER records carry a
short text; both come from here, so the two exports tell a reader the same
thing. Codes are shown by their declared names where the dossier declares
one, states by their ISO names ("Germany pledges 14 Leopard 2A6 to
Ukraine"), and other codes as written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

import pycountry

from events.vocabulary import (
    Ask,
    CoalitionFormed,
    ConsultationHeld,
    Decision,
    DeliveryReported,
    Event,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    RequestDecided,
    RequestFiled,
    StatementIssued,
    ThreatIssued,
)

Names = Callable[[str], str]
"""A code's display name (the code itself when none is declared)."""


def namer(declared: Mapping[str, str]) -> Names:
    """Names from a dossier's declarations, by code; a state's common name by its ISO code."""
    return lambda code: declared.get(code) or _state(code) or code


STATES = namer({})
"""Names where a dossier declares none: states by their ISO names, other codes as written."""


@functools.cache
def _state(code: str) -> str | None:
    country = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    return getattr(country, "common_name", None) or getattr(country, "name", None)


_ASKS = {
    Ask.SUPPLY: "to supply",
    Ask.PERMISSION: "for permission to send",
    Ask.RE_EXPORT: "for permission to re-export",
    Ask.OTHER: "about",
}
_DECISIONS = {
    Decision.APPROVED: "approves",
    Decision.PARTIAL: "partly approves",
    Decision.DENIED: "denies",
}


def _all(codes: Iterable[str], name: Names) -> str:
    names = [name(code) for code in codes]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _units(quantity: object, item: str, name: Names) -> str:
    return f"{quantity} {name(item)}" if quantity is not None else name(item)


def headline(event: Event, name: Names) -> str:
    """What `event` says, in one line."""
    match event:
        case PressureApplied(actors=actors, target=target, issue=issue):
            return f"{_all(actors, name)} press {name(target)} on {name(issue)}"
        case RequestFiled(requester=requester, addressee=to, ask=ask, item=item, issue=issue):
            what = name(item) if item else name(issue)
            return f"{name(requester)} asks {name(to)} {_ASKS[ask]} {what}"
        case RequestDecided(by=by, decision=decision):
            return f"{name(by)} {_DECISIONS[decision]} the request"
        case PositionStated(actor=actor, issue=issue, stance=stance, condition=condition):
            line = f"{name(actor)}: {stance} on {name(issue)}"
            if condition is not None:
                what = f" {name(condition.item)}" if condition.item else ""
                line += f", if {name(condition.actor)} {condition.does}s{what}"
            return line
        case PledgeAnnounced(donor=donor, recipient=to, item=item, quantity=quantity, total=total):
            line = f"{name(donor)} pledges {_units(quantity, item, name)} to {name(to)}"
            return line + (f" ({total} in all)" if total is not None else "")
        case DeliveryReported(donor=donor, recipient=to, item=item, quantity=quantity, total=total):
            line = f"{name(donor)} delivers {_units(quantity, item, name)} to {name(to)}"
            return line + (f" ({total} in all)" if total is not None else "")
        case PrecedentSet(actor=actor, threshold=threshold):
            return f"{name(actor)} sets a precedent: {threshold}"
        case ConsultationHeld(participants=participants):
            return f"{_all(participants, name)} consult"
        case StatementIssued(actor=actor, tone=tone):
            return f"{name(actor)}: {tone} statement"
        case ThreatIssued(actor=actor, target=target):
            return f"{name(actor)} threatens {name(target)}"
        case CoalitionFormed(coalition=coalition, members=members):
            return f"{_all(members, name)} form {name(coalition)}"
    return event.type


def story(event: Event) -> str | None:
    """The event's own words: its note or summary, where it has one."""
    return getattr(event, "note", None) or getattr(event, "summary", None)
