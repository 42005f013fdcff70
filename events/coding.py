"""CAMEO and PLOVER codes of an event, from what it says, for event-data exports.

A CAMEO code follows the content, not just the type: a denied request is a
rejection, not a concession; a critical statement is an accusation, not an
agreement. The PLOVER category, mode and context then follow from the CAMEO
code by the published crosswalk (openeventdata/PLOVER,
`CAMEO2PLOVER-2021.txt`, for PLOVER draft 0.8), never chosen apart from it,
so the two codes of an event cannot disagree. PLOVER dropped CAMEO's
public statements (01) and appeals (02): a neutral statement, a reluctant
or undecided position has a CAMEO code and no PLOVER category. A request is
coded as a CAMEO demand (10), which PLOVER's REQUEST covers. A precedent
is an analyst's note, not an interaction: it has neither code.

CAMEO: the Conflict and Mediation Event Observations codebook (two to four
digits). PLOVER: the Political Language Ontology for Verifiable Event
Records, its sixteen event types.
"""

from __future__ import annotations

import attrs

from events.vocabulary import (
    Ask,
    CoalitionFormed,
    ConsultationHeld,
    Decision,
    DeliveryReported,
    Event,
    PledgeAnnounced,
    PositionStated,
    PressureApplied,
    RequestDecided,
    RequestFiled,
    Stance,
    StatementIssued,
    ThreatIssued,
    Tone,
)


@attrs.frozen
class Plover:
    """A crosswalk row: the PLOVER event type, and its mode and contexts where given."""

    event: str
    mode: str | None = None
    contexts: tuple[str, ...] = ()


CROSSWALK: dict[str, Plover] = {
    "030": Plover("AGREE", None, ("diplomatic",)),  # Express intent to cooperate
    "033": Plover("AGREE", None, ("diplomatic",)),  # Express intent to provide material aid
    "040": Plover("CONSULT"),  # Consult
    "051": Plover("SUPPORT", None, ("diplomatic",)),  # Praise or endorse
    "060": Plover("COOPERATE"),  # Engage in material cooperation
    "070": Plover("AID"),  # Provide aid
    "080": Plover("CONCEDE"),  # Yield
    "100": Plover("REQUEST"),  # REQUEST
    "103": Plover("REQUEST", "assist"),  # Demand aid
    "1042": Plover("REQUEST", "change", ("executive",)),  # Demand policy change
    "111": Plover("ACCUSE", "disapprove"),  # Criticize or denounce
    "120": Plover("REJECT"),  # Reject
    "130": Plover("THREATEN"),  # Threaten
}
"""The rows of the published crosswalk for the CAMEO codes events are given here."""

QUADS: dict[str, int] = {
    **dict.fromkeys(("AGREE", "CONSULT", "SUPPORT", "CONCEDE"), 1),  # verbal cooperation
    **dict.fromkeys(("COOPERATE", "AID", "RETREAT"), 2),  # material cooperation
    **dict.fromkeys(("REQUEST", "ACCUSE", "REJECT", "SANCTION", "THREATEN"), 3),  # verbal conflict
    **dict.fromkeys(("PROTEST", "MOBILIZE", "COERCE", "ASSAULT"), 4),  # material conflict
}
"""PLOVER's quad code of each event type (the manual's table)."""

_ASKS: dict[Ask, str] = {
    Ask.SUPPLY: "103",  # demand aid
    Ask.PERMISSION: "1042",  # demand policy change
    Ask.RE_EXPORT: "1042",
    Ask.OTHER: "100",  # demand
}
_DECISIONS: dict[Decision, str] = {
    Decision.APPROVED: "080",  # yield
    Decision.PARTIAL: "080",
    Decision.DENIED: "120",  # reject
}
_STANCES: dict[Stance, str] = {
    Stance.OPPOSED: "120",  # reject
    Stance.RELUCTANT: "012",  # make pessimistic comment
    Stance.UNDECIDED: "014",  # consider policy option
    Stance.CONDITIONAL: "030",  # express intent to cooperate
    Stance.SUPPORTIVE: "030",
    Stance.COMMITTED: "033",  # express intent to provide material aid
}
_TONES: dict[Tone, str] = {
    Tone.SUPPORTIVE: "051",  # praise or endorse
    Tone.CRITICAL: "111",  # criticize or denounce
    Tone.NEUTRAL: "010",  # make statement
}


def cameo(event: Event) -> str | None:
    """The CAMEO code of what `event` says; None where CAMEO has no fit."""
    match event:
        case PressureApplied():
            return "100"  # demand
        case RequestFiled(ask=ask):
            return _ASKS[ask]
        case RequestDecided(decision=decision):
            return _DECISIONS[decision]
        case PositionStated(stance=stance):
            return _STANCES[stance]
        case PledgeAnnounced():
            return "033"  # express intent to provide material aid
        case DeliveryReported():
            return "070"  # provide aid
        case StatementIssued(tone=tone):
            return _TONES[tone]
        case ThreatIssued():
            return "130"  # threaten
        case ConsultationHeld():
            return "040"  # consult
        case CoalitionFormed():
            return "060"  # engage in material cooperation
    return None


def plover(event: Event) -> Plover | None:
    """The crosswalk's PLOVER row for the event's CAMEO code; None where PLOVER dropped it."""
    code = cameo(event)
    return CROSSWALK.get(code) if code is not None else None


def codes(event: Event) -> tuple[str | None, str | None]:
    """(CAMEO, PLOVER event type) of `event`, as the JSON log shows them."""
    code = cameo(event)
    row = CROSSWALK.get(code) if code is not None else None
    return code, row.event if row else None
