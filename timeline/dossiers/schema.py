"""A JSON Schema (draft 2020-12) of the dossier format, generated from the vocabulary.

Editors use it for completion and checks as a curator types (point the YAML
language server at it), and other programs to produce dossiers. It is made
from the event classes, their field types and the import's limits, so a new
field or event type reaches it without anyone editing it; the copy shipped
in the package (`dossier.schema.json`, printed by `timeline schema`) is held
equal to it by a test.

It says what a file may look like, not everything the import checks: codes
must be declared, references must resolve, a correction must leave its
target valid. `timeline validate` checks all of that.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import attrs

from events import REGISTRY, Condition, DossierDeclared, Event, EventCorrected, Occurred, Quantity
from events.quantity import MAXIMUM
from timeline.dossiers.files import MAX_DEPTH, MAX_TEXT
from timeline.store.schema import NAME_LENGTH

ID = "https://diplomatic-timeline.invalid/dossier.schema.json"

_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_PERIOD = rf"{_DAY}|[0-9]{{4}}-W[0-9]{{2}}|[0-9]{{4}}-[0-9]{{2}}|[0-9]{{4}}"
_INSTANT = rf"{_DAY}T[0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\.[0-9]+)?)?(Z|[+-][0-9]{{2}}:?[0-9]{{2}})?"
_DIGITS = len(str(MAXIMUM)) - 1
assert 10**_DIGITS == MAXIMUM, "the pattern below is for a power of ten"
_NUMBER = rf"0*([0-9]{{1,{_DIGITS}}}|{MAXIMUM})"
"""A whole number up to `MAXIMUM`, as text (YAML numbers reach the importer as text)."""

_CITATION = {
    "publisher": {"$ref": "#/$defs/text"},
    "published": {"$ref": "#/$defs/day"},
    "quote": {"$ref": "#/$defs/text"},
    "title": {"$ref": "#/$defs/text"},
    "url": {"$ref": "#/$defs/text"},
}
"""The fields of a source, in an event's citation or in the header."""

DEFS: dict[str, Any] = {
    "text": {
        "description": "Text, as written in the source (numbers are read as text).",
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"},
            {"type": "number"},
        ],
    },
    "code": {
        "description": "A code: an ISO 3166-1 alpha-3 state, or one the header declares.",
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_LENGTH,
        "pattern": r"\S",
    },
    "when": {
        "description": "An instant, day, ISO week, month or year, or a span of two of those "
        "but instants (2024-03/2024-04).",
        "type": "string",
        "pattern": rf"^\s*({_INSTANT}|({_PERIOD})(/({_PERIOD}))?)\s*$",
    },
    "day": {"type": "string", "pattern": rf"^{_DAY}$"},
    "quantity": {
        "description": f"As the source gives it: exact (14), a range (10-14) or an upper "
        f"bound (<10), up to {MAXIMUM:,}.",
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": MAXIMUM},
            {
                "type": "string",
                "pattern": rf"^\s*({_NUMBER}|{_NUMBER}\s*-\s*{_NUMBER}|<\s*{_NUMBER})\s*$",
            },
        ],
    },
    "source": {
        "description": "A citation, complete or citing a header source by name.",
        "type": "object",
        "properties": {"cite": {"$ref": "#/$defs/code"}, **_CITATION},
        "anyOf": [{"required": ["cite"]}, {"required": ["publisher", "published", "quote"]}],
        "additionalProperties": False,
    },
    "cited": {
        "description": "A header source: what its events' citations share.",
        "type": "object",
        "properties": _CITATION,
        "required": ["publisher", "published"],
        "additionalProperties": False,
    },
}

_ENVELOPE = {
    "key": {"$ref": "#/$defs/code", "description": "Unique within the dossier."},
    "occurred": {"$ref": "#/$defs/when"},
    "sources": {"type": "array", "items": {"$ref": "#/$defs/source"}, "minItems": 1},
    "id": {"type": "string", "format": "uuid"},
    "schema_version": {"type": "integer", "minimum": 1},
}


def _codes(cls: type[Event]) -> set[str]:
    return {*cls.actor_fields, *cls.reference_fields, "issue", "item"}


def _field(cls: type[Event], name: str, kind: Any) -> dict[str, Any]:
    """The schema of one payload field, from its type."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        (kind,) = (arg for arg in typing.get_args(kind) if arg is not type(None))
    if kind is Quantity:
        return {"$ref": "#/$defs/quantity"}
    if kind is Occurred:
        return {"$ref": "#/$defs/when"}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"enum": [member.value for member in kind]}
    if kind is Condition:
        return {
            "type": "object",
            "properties": {
                "actor": {"$ref": "#/$defs/code"},
                "does": {"enum": ["pledge"]},
                "item": {"$ref": "#/$defs/code"},
            },
            "required": ["actor"],
            "additionalProperties": False,
        }
    if typing.get_origin(kind) is tuple:
        item = {"$ref": "#/$defs/code"} if name in _codes(cls) else {"$ref": "#/$defs/text"}
        nonempty = _required(cls, name) and name != "leads"
        return {"type": "array", "items": item, **({"minItems": 1} if nonempty else {})}
    return {"$ref": "#/$defs/code"} if name in _codes(cls) else {"$ref": "#/$defs/text"}


def _required(cls: type[Event], name: str) -> bool:
    field = attrs.fields_dict(cls)[name]
    return field.default is attrs.NOTHING


def _event(cls: type[Event]) -> dict[str, Any]:
    """One event type: its envelope fields and its payload, nothing else."""
    hints = typing.get_type_hints(cls)
    payload = {f.name: _field(cls, f.name, hints[f.name]) for f in attrs.fields(cls)}
    if cls is EventCorrected:
        payload["changes"] = {
            "description": "The fields of the corrected event (or `occurred`) with new values.",
            "type": "object",
            "minProperties": 1,
        }
    required = ["key", "type", "occurred", "sources"]
    required += [f.name for f in attrs.fields(cls) if _required(cls, f.name)]
    return {
        "title": cls.type,
        "description": (cls.__doc__ or cls.type).split("\n\n")[0].replace("\n", " "),
        "type": "object",
        "properties": {"type": {"const": cls.type}, **_ENVELOPE, **payload},
        "required": required,
        "additionalProperties": False,
    }


def dossier_schema() -> dict[str, Any]:
    """The schema of a YAML dossier; a JSON Lines file's first line is `#/$defs/header`
    and every other line `#/$defs/event`."""
    kinds = [cls for name, cls in sorted(REGISTRY.items()) if cls is not DossierDeclared]
    names = {"type": "object", "additionalProperties": {"$ref": "#/$defs/text"}}
    header = {
        "type": "object",
        "properties": {
            "dossier": {"$ref": "#/$defs/code", "description": "The stream the events belong to."},
            "title": {"$ref": "#/$defs/text", "description": "Needed in a dossier's first file."},
            "actors": {**names, "propertyNames": {"$ref": "#/$defs/code"}},
            "items": {
                "type": "object",
                "propertyNames": {"$ref": "#/$defs/code"},
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "name": {"$ref": "#/$defs/text"},
                        "category": {"$ref": "#/$defs/code"},
                    },
                    "required": ["name", "category"],
                    "additionalProperties": False,
                },
            },
            "issues": {**names, "propertyNames": {"$ref": "#/$defs/code"}},
            "sources": {
                "description": "Sources events cite by name, each giving its own quote.",
                "type": "object",
                "propertyNames": {"$ref": "#/$defs/code"},
                "additionalProperties": {"$ref": "#/$defs/cited"},
            },
        },
        "required": ["dossier"],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID,
        "title": "Dossier",
        "description": f"A dossier file of the diplomatic timeline engine (at most {MAX_DEPTH} "
        "levels of nesting; see docs/dossier-format.md).",
        "$defs": {
            **DEFS,
            **{f"event.{cls.type}": _event(cls) for cls in kinds},
            "event": {"oneOf": [{"$ref": f"#/$defs/event.{cls.type}"} for cls in kinds]},
            "header": {**header, "additionalProperties": False},
        },
        **header,
        "properties": {
            **header["properties"],  # type: ignore[dict-item]
            "events": {"type": "array", "items": {"$ref": "#/$defs/event"}},
        },
        "additionalProperties": False,
    }
