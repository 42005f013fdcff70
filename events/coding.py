"""CAMEO and PLOVER codes of an event, from what it says, for event-data exports.

A code follows the content, not just the type: a denied request is a
rejection, not a concession; a critical statement is an accusation, not an
agreement. Where a codebook has no category for what an event says (a
neutral statement in PLOVER, a precedent, which is an analyst's note rather
than an interaction), the code is None rather than a near miss.

CAMEO: the Conflict and Mediation Event Observations codebook (verbal and
material cooperation and conflict, two to four digits). PLOVER: the
Political Language Ontology for Verifiable Event Records, its sixteen event
types.
"""

from __future__ import annotations

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

Codes = tuple[str | None, str | None]
"""(CAMEO, PLOVER)."""

_ASKS: dict[Ask, str] = {
    Ask.SUPPLY: "0232",  # appeal for military aid
    Ask.PERMISSION: "0212",  # appeal for military cooperation
    Ask.RE_EXPORT: "0212",
    Ask.OTHER: "020",  # make an appeal or request
}
_DECISIONS: dict[Decision, Codes] = {
    Decision.APPROVED: ("080", "CONCEDE"),  # yield
    Decision.PARTIAL: ("080", "CONCEDE"),
    Decision.DENIED: ("120", "REJECT"),  # reject
}
_STANCES: dict[Stance, Codes] = {
    Stance.OPPOSED: ("120", "REJECT"),  # reject
    Stance.RELUCTANT: ("012", None),  # make pessimistic comment
    Stance.UNDECIDED: ("014", None),  # consider policy option
    Stance.CONDITIONAL: ("030", "AGREE"),  # express intent to cooperate
    Stance.SUPPORTIVE: ("030", "AGREE"),
    Stance.COMMITTED: ("030", "AGREE"),
}
_TONES: dict[Tone, Codes] = {
    Tone.SUPPORTIVE: ("051", "SUPPORT"),  # praise or endorse
    Tone.CRITICAL: ("111", "ACCUSE"),  # criticize or denounce
    Tone.NEUTRAL: ("010", None),  # make statement
}


def codes(event: Event) -> Codes:
    """The (CAMEO, PLOVER) codes of `event`; None where a codebook has no fit."""
    match event:
        case PressureApplied():
            return ("100", "REQUEST")  # demand
        case RequestFiled(ask=ask):
            return (_ASKS[ask], "REQUEST")
        case RequestDecided(decision=decision):
            return _DECISIONS[decision]
        case PositionStated(stance=stance):
            return _STANCES[stance]
        case PledgeAnnounced():
            return ("033", "AGREE")  # express intent to provide material aid
        case DeliveryReported():
            return ("070", "AID")  # provide aid
        case StatementIssued(tone=tone):
            return _TONES[tone]
        case ThreatIssued():
            return ("130", "THREATEN")
        case ConsultationHeld():
            return ("040", "CONSULT")
        case CoalitionFormed():
            return ("060", "COOPERATE")  # engage in material cooperation
    return (None, None)
