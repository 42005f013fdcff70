"""The event vocabulary: one frozen attrs class per event type.

Type identity is the explicit `type` name, never the module path, so moving
code never orphans stored events. `schema_version` says which shape of the
payload the class holds; older shapes are upcast on read by `events.codec`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from events.errors import InvalidEvent
from events.occurred import Occurred
from events.quantity import Quantity

REGISTRY: dict[str, type[Event]] = {}


class Stance(enum.StrEnum):
    """Where an actor stands on an issue, in order from against to bound."""

    OPPOSED = "opposed"
    RELUCTANT = "reluctant"
    UNDECIDED = "undecided"
    CONDITIONAL = "conditional"
    SUPPORTIVE = "supportive"
    COMMITTED = "committed"


class Ask(enum.StrEnum):
    SUPPLY = "supply"
    PERMISSION = "permission"
    RE_EXPORT = "re-export"
    OTHER = "other"


class Decision(enum.StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    PARTIAL = "partial"


class Tone(enum.StrEnum):
    SUPPORTIVE = "supportive"
    CRITICAL = "critical"
    NEUTRAL = "neutral"


class Does(enum.StrEnum):
    """What a condition waits for another actor to do."""

    PLEDGE = "pledge"


def _sourced(instance: object, attribute: attrs.Attribute[Any], value: Quantity | None) -> None:
    """A quantity one source gives is at most `events.quantity.MAXIMUM`."""
    if value is not None:
        try:
            value.sourced()
        except InvalidEvent as err:
            raise InvalidEvent(attribute.name, err.expected) from err


def _nonempty(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not value or (isinstance(value, str) and not value.strip()):
        raise InvalidEvent(attribute.name, "expected at least one entry, or non-empty text")


@attrs.frozen(kw_only=True)
class Event:
    """Base of every payload. Subclasses register themselves by `type`."""

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # Fields naming actors, and fields naming other events by key or id: the
    # importer resolves both, the log filters on the first.
    actor_fields: ClassVar[tuple[str, ...]] = ()
    reference_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __attrs_init_subclass__(cls) -> None:
        if cls.type in REGISTRY:
            raise TypeError(f"event type {cls.type!r} registered twice")
        REGISTRY[cls.type] = cls

    def named_actors(self) -> frozenset[str]:
        """Every actor the event names, for filtering the log."""
        named: set[str] = set()
        for name in self.actor_fields:
            value = getattr(self, name)
            if isinstance(value, str):
                named.add(value)
            elif isinstance(value, tuple):
                named.update(value)
        return frozenset(named)

    def references(self) -> dict[str, str]:
        """The other events this one names, by field."""
        return {name: getattr(self, name) for name in self.reference_fields}


@attrs.frozen(kw_only=True)
class PressureApplied(Event):
    """`actors` press `target` to move on `issue`.

    Version 1 named a single `actor`; version 2 names several, since allies
    usually press together.
    """

    type: ClassVar[str] = "pressure.applied"
    actor_fields: ClassVar[tuple[str, ...]] = ("actors", "target")
    schema_version: ClassVar[int] = 2

    actors: tuple[str, ...] = attrs.field(validator=_nonempty)
    target: str
    issue: str
    note: str | None = None


@attrs.frozen(kw_only=True)
class RequestFiled(Event):
    type: ClassVar[str] = "request.filed"
    actor_fields: ClassVar[tuple[str, ...]] = ("requester", "addressee")

    requester: str
    addressee: str
    issue: str
    ask: Ask
    item: str | None = None
    quantity: Quantity | None = attrs.field(default=None, validator=_sourced)
    note: str | None = None


@attrs.frozen(kw_only=True)
class RequestDecided(Event):
    type: ClassVar[str] = "request.decided"
    actor_fields: ClassVar[tuple[str, ...]] = ("by",)
    reference_fields: ClassVar[tuple[str, ...]] = ("request",)

    request: str = attrs.field(validator=_nonempty)
    decision: Decision
    by: str
    note: str | None = None


@attrs.frozen(kw_only=True)
class Condition:
    """A stance that holds only if `actor` does something (pledges `item`)."""

    actor: str
    does: Does = Does.PLEDGE
    item: str | None = None


@attrs.frozen(kw_only=True)
class PositionStated(Event):
    type: ClassVar[str] = "position.stated"
    actor_fields: ClassVar[tuple[str, ...]] = ("actor",)

    actor: str
    issue: str
    stance: Stance
    condition: Condition | None = None
    note: str | None = None


@attrs.frozen(kw_only=True)
class PledgeAnnounced(Event):
    type: ClassVar[str] = "pledge.announced"
    actor_fields: ClassVar[tuple[str, ...]] = ("donor", "recipient")

    donor: str
    recipient: str
    issue: str
    item: str
    quantity: Quantity | None = attrs.field(default=None, validator=_sourced)
    total: Quantity | None = attrs.field(default=None, validator=_sourced)
    eta: Occurred | None = None
    conditions: tuple[str, ...] = ()
    note: str | None = None


@attrs.frozen(kw_only=True)
class PrecedentSet(Event):
    type: ClassVar[str] = "precedent.set"
    actor_fields: ClassVar[tuple[str, ...]] = ("actor",)
    reference_fields: ClassVar[tuple[str, ...]] = ("by",)

    actor: str
    issue: str
    threshold: str = attrs.field(validator=_nonempty)
    by: str = attrs.field(validator=_nonempty)


@attrs.frozen(kw_only=True)
class ConsultationHeld(Event):
    type: ClassVar[str] = "consultation.held"
    actor_fields: ClassVar[tuple[str, ...]] = ("participants",)

    participants: tuple[str, ...] = attrs.field(validator=_nonempty)
    issue: str | None = None
    note: str | None = None


@attrs.frozen(kw_only=True)
class StatementIssued(Event):
    type: ClassVar[str] = "statement.issued"
    actor_fields: ClassVar[tuple[str, ...]] = ("actor",)

    actor: str
    issue: str | None = None
    tone: Tone
    summary: str = attrs.field(validator=_nonempty)


@attrs.frozen(kw_only=True)
class ThreatIssued(Event):
    type: ClassVar[str] = "threat.issued"
    actor_fields: ClassVar[tuple[str, ...]] = ("actor", "target")

    actor: str
    target: str
    issue: str | None = None
    summary: str = attrs.field(validator=_nonempty)


@attrs.frozen(kw_only=True)
class CoalitionFormed(Event):
    type: ClassVar[str] = "coalition.formed"
    actor_fields: ClassVar[tuple[str, ...]] = ("coalition", "members", "leads")

    coalition: str
    members: tuple[str, ...] = attrs.field(validator=_nonempty)
    leads: tuple[str, ...] = ()
    issue: str


@attrs.frozen(kw_only=True)
class DeliveryReported(Event):
    type: ClassVar[str] = "delivery.reported"
    actor_fields: ClassVar[tuple[str, ...]] = ("donor", "recipient")

    donor: str
    recipient: str
    item: str
    quantity: Quantity | None = attrs.field(default=None, validator=_sourced)
    total: Quantity | None = attrs.field(default=None, validator=_sourced)
    note: str | None = None


def _as_text(value: object) -> object:
    """`value` with every whole number in it written as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_text(item) for key, item in value.items()}
    return value


@attrs.frozen(kw_only=True)
class EventCorrected(Event):
    """A later, better account of an earlier event: `changes` replace its fields.

    `changes` is kept as sorted (field, JSON text) pairs so the event stays
    deeply immutable; the importer checks the corrected event is valid.
    """

    type: ClassVar[str] = "event.corrected"
    reference_fields: ClassVar[tuple[str, ...]] = ("corrects",)

    corrects: str = attrs.field(validator=_nonempty)
    changes: tuple[tuple[str, str], ...] = attrs.field(validator=_nonempty)

    @classmethod
    def of(cls, corrects: str, changes: Mapping[str, object]) -> EventCorrected:
        """A correction from plain new values (JSON-ready), as a file gives them.

        Whole numbers are kept as text, as YAML gives them to the importer, so
        that a correction is the same event from a YAML file or a JSON one
        (every field that takes a number takes it as text).
        """
        try:
            encoded = tuple(
                sorted(
                    (str(k), json.dumps(_as_text(v), sort_keys=True)) for k, v in changes.items()
                )
            )
        except (TypeError, ValueError) as err:
            raise InvalidEvent("changes", f"expected JSON values ({err})") from err
        return cls(corrects=corrects, changes=encoded)

    def new_values(self) -> dict[str, Any]:
        """The changes as the mapping of field names to new values they were given as."""
        return {name: json.loads(value) for name, value in self.changes}


@attrs.frozen(kw_only=True)
class EventRetracted(Event):
    """An earlier event should never have been recorded; it stops counting."""

    type: ClassVar[str] = "event.retracted"
    reference_fields: ClassVar[tuple[str, ...]] = ("retracts",)

    retracts: str = attrs.field(validator=_nonempty)
    reason: str = attrs.field(validator=_nonempty)


@attrs.frozen(kw_only=True)
class DossierDeclared(Event):
    """The actors, items and issues a dossier declares, stored as an event.

    Projections need item categories to total pledges; keeping declarations
    in the stream keeps the store the single, append-only source of truth.
    Each distinct header gets its own event; later ones add to earlier ones.
    """

    type: ClassVar[str] = "dossier.declared"

    title: str
    actors: tuple[tuple[str, str], ...] = ()
    items: tuple[tuple[str, str, str], ...] = ()
    issues: tuple[tuple[str, str], ...] = ()
