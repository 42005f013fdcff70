"""The one place events become JSON-ready dicts and dicts become events.

Reading runs the upcaster chain first, so stored payloads of any older
`schema_version` come back as the current class. Structuring errors from
cattrs are turned into `InvalidEvent` with the field path that failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import IterableValidationNote
from cattrs.gen import make_dict_structure_fn

from events.coding import codes
from events.envelope import Envelope, Source
from events.errors import InvalidEvent
from events.occurred import Occurred
from events.quantity import Quantity
from events.vocabulary import REGISTRY, Condition, Event, EventCorrected

JSON = dict[str, Any]
Upcaster = Callable[[JSON], JSON]


def _structure_correction(value: object, _: object) -> EventCorrected:
    if not isinstance(value, Mapping):
        raise InvalidEvent("", "expected a mapping with corrects and changes")
    extra = set(value) - {"corrects", "changes"}
    if extra:
        raise InvalidEvent(sorted(extra)[0], "unknown field: not in the vocabulary")
    for field in ("corrects", "changes"):
        if field not in value:
            raise InvalidEvent(field, "required field missing")
    changes = value["changes"]
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidEvent("changes", "expected a mapping of field names to new values")
    try:
        corrects = _structure_str(value["corrects"], str)
    except InvalidEvent as err:
        raise err.at(prefix="corrects") from err
    return EventCorrected.of(corrects, changes)


def _structure_names(value: object, _: object) -> tuple[str, ...]:
    """A list of codes or texts; a bare string is refused, not split into letters."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise InvalidEvent("", f"expected a list, got {value!r}")
    names = []
    for index, entry in enumerate(value):
        try:
            names.append(_structure_str(entry, str))
        except InvalidEvent as err:
            raise InvalidEvent(f"[{index}]", err.expected) from err
    return tuple(names)


def _structure_date(value: object, _: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as err:
        raise InvalidEvent("", f"expected a day such as 2023-01-25, got {value!r}") from err


def _structure_str(value: object, _: object) -> str:
    """Text fields take text, or a bare number YAML read as one; never blank.

    Never a NUL character either: PostgreSQL can store none in text or JSON,
    so one would fail the import there, and only there."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent("", f"expected non-empty text, got {value!r}")
    if "\x00" in value:
        raise InvalidEvent("", f"expected text without NUL characters, got {value!r}")
    return value


def _structure_choice(value: object, choices: type[enum.StrEnum]) -> enum.StrEnum:
    try:
        return choices(str(value))
    except ValueError as err:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidEvent("", f"expected one of {allowed}, got {value!r}") from err


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_names)
    # More specific than `str` in the MRO of every StrEnum, so enums win.
    conv.register_structure_hook(enum.StrEnum, _structure_choice)
    conv.register_structure_hook(Occurred, lambda v, _: Occurred.parse(v))
    conv.register_unstructure_hook(Occurred, str)
    conv.register_structure_hook(Quantity, lambda v, _: Quantity.parse(v))
    conv.register_unstructure_hook(Quantity, Quantity.to_json)
    conv.register_structure_hook(uuid.UUID, lambda v, _: uuid.UUID(str(v)))
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(EventCorrected, _structure_correction)
    plain_condition = make_dict_structure_fn(Condition, conv, _cattrs_forbid_extra_keys=True)

    def _structure_condition(value: object, _: object) -> Condition:
        if not isinstance(value, Mapping):
            raise InvalidEvent(
                "", f"expected a mapping {{actor, does: pledge, item?}}, got {value!r}"
            )
        return plain_condition(value, Condition)

    conv.register_structure_hook(Condition, _structure_condition)
    conv.register_unstructure_hook(
        EventCorrected, lambda e: {"corrects": e.corrects, "changes": e.new_values()}
    )
    return conv


converter = _make_converter()


def _enum_members(choices: type[enum.StrEnum]) -> Callable[[Any, Any], enum.StrEnum]:
    """A dict lookup instead of the enum's call: values read back are known members."""
    members = {member.value: member for member in choices}
    return lambda value, _: members[value]


def _is_optional(annotation: Any) -> bool:
    """Whether `annotation` is `X | None` for a single X."""
    arms = typing.get_args(annotation)
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return union and len(arms) == 2 and type(None) in arms


def _optional(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """`X | None` through X's own hook, chosen once instead of on every value."""

    def factory(union: Any) -> Callable[[Any, Any], Any]:
        (inner,) = [arm for arm in typing.get_args(union) if arm is not type(None)]
        hook = conv.get_structure_hook(inner)
        return lambda value, _: None if value is None else hook(value, inner)

    return factory


def _make_trusted_converter() -> cattrs.Converter:
    """Structures payloads the store wrote, so without the checks `converter` makes.

    Every stored payload was built by `converter` (or upcast to its shape),
    so reading one back need not re-validate text, lists or extra keys:
    skipping that triples read throughput. Never use it on caller input.
    Values that repeat across a history (quantities) are parsed once.
    """
    conv = cattrs.Converter(detailed_validation=False)
    # Exactly `str`: a hook for `str` itself would also take every StrEnum.
    conv.register_structure_hook_func(lambda t: t is str, lambda value, _: value)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], lambda value, _: tuple(value))
    conv.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.StrEnum), _enum_members
    )
    conv.register_structure_hook(Occurred, lambda value, _: Occurred.parse(value))
    quantity = functools.lru_cache(maxsize=4096)(Quantity.parse)
    conv.register_structure_hook(Quantity, lambda value, _: quantity(value))
    conv.register_structure_hook(dt.date, lambda value, _: dt.date.fromisoformat(value))
    conv.register_structure_hook(
        EventCorrected, lambda value, _: EventCorrected.of(value["corrects"], value["changes"])
    )
    conv.register_structure_hook_factory(_is_optional, _optional(conv))
    return conv


_trusted = _make_trusted_converter()


def _pressure_v1_to_v2(payload: JSON) -> JSON:
    """Version 1 named one pressing `actor`; version 2 a list of `actors`."""
    upcast = dict(payload)
    if "actor" not in upcast:
        raise InvalidEvent("actor", "required field missing (schema_version 1)")
    upcast["actors"] = [upcast.pop("actor")]
    return upcast


# (type, version read) -> function giving the payload of the next version.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("pressure.applied", 1): _pressure_v1_to_v2,
}


def _join(outer: str, inner: str) -> str:
    if not inner:
        return outer
    return f"{outer}{inner}" if inner.startswith("[") else f"{outer}.{inner}"


def _invalid(exc: BaseException) -> InvalidEvent:
    """The first failure inside a cattrs error, with its field path."""
    if isinstance(exc, InvalidEvent):
        return exc
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return InvalidEvent(sorted(exc.extra_fields)[0], "unknown field: not in the vocabulary")
    if isinstance(exc, cattrs.ClassValidationError | cattrs.IterableValidationError):
        with_notes, without_notes = exc.group_exceptions()
        for sub, note in with_notes:
            name = f"[{note.index}]" if isinstance(note, IterableValidationNote) else note.name
            if isinstance(sub, KeyError):
                return InvalidEvent(name, "required field missing")
            inner = _invalid(sub)
            return InvalidEvent(_join(name, inner.path), inner.expected)
        for sub in without_notes:
            return _invalid(sub)
    if isinstance(exc, ValueError) and str(exc):
        return InvalidEvent("", str(exc) if str(exc).startswith("expected") else f"expected {exc}")
    return InvalidEvent("", f"invalid value ({type(exc).__name__}: {exc})")


def event_from_dict(type_name: str, schema_version: int, payload: Mapping[str, Any]) -> Event:
    """Build the current class for `type_name` from a payload of any known version."""
    cls = REGISTRY.get(type_name)
    if cls is None:
        raise InvalidEvent("type", f"expected one of {', '.join(sorted(REGISTRY))}")
    if (
        not isinstance(schema_version, int)
        or isinstance(schema_version, bool)
        or not 1 <= schema_version <= cls.schema_version
    ):
        raise InvalidEvent("schema_version", f"expected 1 to {cls.schema_version} for {type_name}")
    data = dict(payload)
    for version in range(schema_version, cls.schema_version):
        data = UPCASTERS[(type_name, version)](data)
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs raises groups of arbitrary errors
        raise _invalid(exc) from exc


def stored_event(type_name: str, schema_version: int, payload: Mapping[str, Any]) -> Event:
    """`event_from_dict` for payloads read back from the store: upcast, then trusted.

    Payloads of an older schema version go through the validating path, as
    their upcast shape was never checked.
    """
    cls = REGISTRY[type_name]
    if schema_version != cls.schema_version:
        return event_from_dict(type_name, schema_version, payload)
    hook = _TRUSTED_HOOKS.get(cls)
    if hook is None:
        # Looked up once per class: `structure` would dispatch on every event.
        hook = _TRUSTED_HOOKS[cls] = _trusted.get_structure_hook(cls)
    event: Event = hook(payload, cls)
    return event


_TRUSTED_HOOKS: dict[type[Event], Callable[[Mapping[str, Any], type[Event]], Event]] = {}


@functools.lru_cache(maxsize=16_384)
def _stored_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def stored_source(data: Mapping[str, Any]) -> Source:
    """A source read back from the store (see `stored_event`), built by hand:
    every event has one, and this is the hottest line of a replay."""
    return Source(
        publisher=data["publisher"],
        published=_stored_date(data["published"]),
        quote=data["quote"],
        title=data.get("title"),
        url=data.get("url"),
    )


def corrected(
    event: Event, occurred: Occurred, correction: EventCorrected
) -> tuple[Event, Occurred]:
    """The event and its valid time as `correction` restates them.

    Raises `InvalidEvent` (path inside `changes`) when the result is not a
    valid event: the importer refuses such a correction, the fold reports it.
    """
    changes = correction.new_values()
    if "occurred" in changes:
        try:
            occurred = Occurred.parse(str(changes.pop("occurred")))
        except InvalidEvent as err:
            raise InvalidEvent("occurred", err.expected) from err
    payload = {**event_to_dict(event), **changes}
    return event_from_dict(event.type, event.schema_version, payload), occurred


def event_to_dict(event: Event) -> JSON:
    """The payload of the current schema version, JSON-ready."""
    payload: JSON = converter.unstructure(event)
    return payload


_SOURCE_FIELDS = frozenset(attrs.fields_dict(Source))
_SOURCE_REQUIRED = frozenset({"publisher", "published", "quote"})


def source_from_dict(data: Mapping[str, Any]) -> Source:
    """A source from a dossier file. One of text fields only (nearly all are) is built
    by hand (a third of cattrs' time, an import builds one per event); any other goes
    through cattrs, which says what is wrong with it."""
    if _SOURCE_REQUIRED <= data.keys() <= _SOURCE_FIELDS and all(
        isinstance(v, str) and v.strip() and "\x00" not in v for v in data.values()
    ):
        with contextlib.suppress(ValueError):  # not a day: cattrs' message
            return stored_source(data)
    try:
        return converter.structure(dict(data), Source)
    except Exception as exc:
        raise _invalid(exc) from exc


def source_to_dict(source: Source) -> JSON:
    # By hand: every stored event has a source, and cattrs costs three times this.
    data: JSON = {
        "publisher": source.publisher,
        "published": source.published.isoformat(),
        "quote": source.quote,
    }
    if source.title is not None:
        data["title"] = source.title
    if source.url is not None:
        data["url"] = source.url
    return data


def envelope_to_dict(envelope: Envelope) -> JSON:
    """The whole envelope, JSON-ready: the shape of `--format json` events."""
    cameo, plover = codes(envelope.event)
    return {
        "id": str(envelope.id),
        "key": envelope.key,
        "dossier": envelope.dossier,
        "type": envelope.type,
        "schema_version": envelope.schema_version,
        "occurred": str(envelope.occurred),
        "occurred_start": envelope.occurred.start.isoformat(),
        "occurred_end": envelope.occurred.end.isoformat(),
        "precision": str(envelope.occurred.precision),
        "recorded": envelope.recorded.isoformat() if envelope.recorded else None,
        "position": envelope.position,
        "version": envelope.version,
        "payload": event_to_dict(envelope.event),
        "sources": [source_to_dict(s) for s in envelope.sources],
        "cameo": cameo,
        "plover": plover,
    }
