"""JSON Schemas of the documents `projections.export` writes, derived from the item types.

An item's schema comes from its fields' type annotations, read by the same
rules `export.value_to_json` writes values by (an `Occurred` as its text, a
`Quantity` as a number or text, a `Ref` as ``{"dossier", "key"}``), so a
field added to an item reaches the schema without another edit. The HTTP
API publishes these schemas in its OpenAPI document, and its tests check
every response against them: the prose contract (`docs/json-schema.md`)
and the documents cannot drift apart unnoticed.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import attrs

from events import Occurred, Quantity
from projections.export import DIFF_SCHEMA, HISTORY_SCHEMA, STATE_SCHEMA
from projections.refs import Ref
from projections.state import SECTIONS

JSON = dict[str, Any]

INSTANT: JSON = {"type": "string", "format": "date-time"}
"""An instant as `export.instant` writes it: ISO 8601 in UTC with a "Z"."""
REF: JSON = {
    "type": "object",
    "properties": {"dossier": {"type": "string"}, "key": {"type": "string"}},
    "required": ["dossier", "key"],
    "additionalProperties": False,
}


def _nullable(schema: JSON) -> JSON:
    return {"anyOf": [schema, {"type": "null"}]}


def schema_of(annotation: Any) -> JSON:
    """The schema of the JSON form of a value of type `annotation`."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in arguments if a is not type(None)]
        assert len(others) == 1, f"no JSON form for {annotation}"  # only `X | None` is used
        return _nullable(schema_of(others[0]))
    if origin is tuple:
        return {"type": "array", "items": schema_of(arguments[0])}
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return {"type": "string", "enum": [member.value for member in annotation]}
        if issubclass(annotation, bool):
            return {"type": "boolean"}
        if issubclass(annotation, int):
            return {"type": "integer"}
        if issubclass(annotation, str):
            return {"type": "string"}
        if annotation is Occurred:
            return {"type": "string", "description": "a valid time as written: 2023-W03"}
        if annotation is Quantity:
            return {"type": ["integer", "string"], "description": "14, or 10-14, or <15"}
        if annotation is Ref:
            return REF
        if attrs.has(annotation):
            return object_schema(annotation)
    raise TypeError(f"no JSON form for {annotation!r}")


def object_schema(cls: type[Any]) -> JSON:
    """An attrs class as an object: every field, in field order, required."""
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    return {
        "type": "object",
        "properties": {f.name: schema_of(hints[f.name]) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


def item_schemas() -> dict[str, JSON]:
    """Each section's item, by section."""
    return {section: object_schema(cls) for section, cls in SECTIONS.items()}


def _document(name: str, properties: JSON) -> JSON:
    return {
        "type": "object",
        "properties": {"schema": {"const": name}, **properties},
        "required": ["schema", *properties],
        "additionalProperties": False,
    }


def state_schema() -> JSON:
    sections = {name: {"type": "array", "items": schema} for name, schema in item_schemas().items()}
    return _document(STATE_SCHEMA, {"as_of": INSTANT, "known_at": _nullable(INSTANT), **sections})


def diff_schema() -> JSON:
    any_item = {"anyOf": list(item_schemas().values())}
    change = {
        "type": "object",
        "properties": {
            "section": {"type": "string", "enum": list(SECTIONS)},
            "key": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string"},
            "kinds": {"type": "array", "items": {"type": "string"}},
            "events": {"type": "array", "items": REF},
            "before": _nullable(any_item),
            "after": _nullable(any_item),
        },
        "required": ["section", "key", "kind", "kinds", "events", "before", "after"],
        "additionalProperties": False,
    }
    return _document(
        DIFF_SCHEMA,
        {
            "from": INSTANT,
            "to": INSTANT,
            "from_known_at": _nullable(INSTANT),
            "to_known_at": _nullable(INSTANT),
            "changes": {"type": "array", "items": change},
        },
    )


def history_schema() -> JSON:
    version = {
        "type": "object",
        "properties": {
            "valid_from": INSTANT,
            "valid_to": _nullable(INSTANT),
            "item": {"anyOf": list(item_schemas().values())},
        },
        "required": ["valid_from", "valid_to", "item"],
        "additionalProperties": False,
    }
    return _document(
        HISTORY_SCHEMA,
        {
            "section": {"type": "string", "enum": list(SECTIONS)},
            "key": {"type": "array", "items": {"type": "string"}},
            "known_at": _nullable(INSTANT),
            "versions": {"type": "array", "items": version},
        },
    )
