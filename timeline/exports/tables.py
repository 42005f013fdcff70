"""CSV: one state section, or the log, as a flat table a spreadsheet opens.

The columns are fixed by the item's type (or, for the log, by the whole
vocabulary), not by the rows, so two exports of one section always share a
header, even when one has no conditions at all. A nested object is spread
over dotted columns (`condition.actor`, `condition.met_by.key`); a list is
one cell holding a JSON array, since its items may hold any character a
separator could be; `null` is an empty cell and booleans are `true` and
`false`, as in the JSON contract.
"""

from __future__ import annotations

import csv
import json
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

import attrs

from events import REGISTRY, DossierDeclared, EventCorrected, EventRetracted, Occurred, Quantity
from projections.state import SECTIONS

_ENVELOPE = (
    "id",
    "dossier",
    "key",
    "type",
    "schema_version",
    "occurred",
    "occurred_start",
    "occurred_end",
    "precision",
    "recorded",
    "position",
    "version",
    "cameo",
    "plover",
)
_ENVELOPE_AFTER = ("sources", "corrected_by", "retracted_by")


def _object_type(annotation: Any) -> type[Any] | None:
    """The class of a field (alone or or-None) whose JSON is an object, which spreads
    over dotted columns; a time or a quantity is written as text (`value_to_json`)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        others = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = others[0] if len(others) == 1 else None
    if annotation in (Occurred, Quantity) or not isinstance(annotation, type):
        return None
    return annotation if attrs.has(annotation) else None


def columns(cls: type[Any], prefix: str = "") -> list[str]:
    """The columns of an item type, nested objects spread over dotted names."""
    hints = typing.get_type_hints(cls)
    found: list[str] = []
    for field in attrs.fields(cls):
        nested = _object_type(hints[field.name])
        name = prefix + field.name
        found += columns(nested, name + ".") if nested else [name]
    return found


def log_columns() -> list[str]:
    """The envelope's columns, every fact type's payload fields (first use first), sources."""
    fields: dict[str, None] = {}
    for cls in REGISTRY.values():
        if cls not in (EventCorrected, EventRetracted, DossierDeclared):
            fields.update((f.name, None) for f in attrs.fields(cls))
    return [*_ENVELOPE, *fields, *_ENVELOPE_AFTER]


def cell(value: Any) -> str:
    """One value of the JSON contract as a cell."""
    match value:
        case None:
            return ""
        case bool():
            return "true" if value else "false"
        case str():
            return value
        case int() | float():
            return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _spread(item: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """An item's JSON as (column, value): objects spread, as `columns` names them."""
    for name, value in item.items():
        if value is None:
            continue  # an empty cell, also for every column of an absent object
        if isinstance(value, dict):
            yield from _spread(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value


def write_section(out: IO[str], section: str, items: Iterable[Mapping[str, Any]]) -> int:
    """One state section's items (`projections.export.item_to_json`) as CSV; the row count."""
    return _write(out, columns(SECTIONS[section]), (dict(_spread(item)) for item in items))


def write_log(out: IO[str], entries: Iterable[Mapping[str, Any]]) -> int:
    """Log entries (`render.entry_to_json`) as CSV, payload fields as columns; the row count."""
    rows = ({**{k: v for k, v in e.items() if k != "payload"}, **e["payload"]} for e in entries)
    return _write(out, log_columns(), rows)


def _write(out: IO[str], header: list[str], rows: Iterable[Mapping[str, Any]]) -> int:
    writer = csv.DictWriter(out, header, restval="", lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({name: cell(value) for name, value in row.items()})
        count += 1
    return count
