"""The event vocabulary: immutable, sourced facts and their JSON codec.

Depends on attrs, cattrs, pendulum and the standard library only; the store
and the projections build on it, never the other way round.
"""

from events.envelope import Envelope, Source, derive_id
from events.errors import InvalidEvent, TimelineError
from events.occurred import Occurred, Precision
from events.quantity import Quantity
from events.vocabulary import (
    REGISTRY,
    Ask,
    CoalitionFormed,
    Condition,
    ConsultationHeld,
    Decision,
    DeliveryReported,
    Does,
    DossierDeclared,
    Event,
    EventCorrected,
    EventRetracted,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    RequestDecided,
    RequestFiled,
    Stance,
    StatementIssued,
    ThreatIssued,
    Tone,
)

__all__ = [
    "REGISTRY",
    "Ask",
    "CoalitionFormed",
    "Condition",
    "ConsultationHeld",
    "Decision",
    "DeliveryReported",
    "Does",
    "DossierDeclared",
    "Envelope",
    "Event",
    "EventCorrected",
    "EventRetracted",
    "InvalidEvent",
    "Occurred",
    "PledgeAnnounced",
    "PositionStated",
    "PrecedentSet",
    "Precision",
    "PressureApplied",
    "Quantity",
    "RequestDecided",
    "RequestFiled",
    "Source",
    "Stance",
    "StatementIssued",
    "ThreatIssued",
    "TimelineError",
    "Tone",
    "derive_id",
]
