"""State, diffs and item histories as JSON-ready dicts: the versioned contract apps read.

The shapes are documented in `docs/json-schema.md`. Items are written from
their fields (`projections.items`), in field order, each value by its type:
a valid time in the form it was given (`"2023-W03"`), a quantity as a number
or text (`14`, `"10-14"`), an event as ``{"dossier", "key"}``. Any change
that could break a reader bumps the number in the schema names below.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import typing
from collections.abc import Callable
from typing import Any

import attrs

from events import Occurred, Quantity
from projections.diff import Change, Diff
from projections.fold import Version
from projections.items import DERIVED, role
from projections.refs import Ref
from projections.state import State

STATE_SCHEMA = "timeline.state/2"
DIFF_SCHEMA = "timeline.diff/2"
HISTORY_SCHEMA = "timeline.history/1"

JSON = dict[str, Any]


def instant(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a "Z", as `Occurred` prints instants."""
    if value is None:
        return None
    utc = value.astimezone(dt.UTC)
    return dt.datetime.combine(utc.date(), utc.time()).isoformat() + "Z"


def ref_to_json(ref: Ref) -> JSON:
    return {"dossier": ref.dossier, "key": ref.key}


def value_to_json(value: Any) -> Any:
    """One field's value, by its type."""
    match value:
        case None | bool() | int() | float():
            return value
        case enum.Enum():
            return value.value
        case str():
            return value
        case Occurred():
            return str(value)
        case Quantity():
            return value.to_json()
        case Ref():
            return ref_to_json(value)
        case tuple():
            return [value_to_json(v) for v in value]
        case _ if attrs.has(type(value)):
            return {
                f.name: value_to_json(getattr(value, f.name)) for f in attrs.fields(type(value))
            }
    raise TypeError(f"no JSON form for {type(value).__name__}")


def item_to_json(item: Any) -> JSON:
    """One state item as a dict; the same shape in a state, a diff and a history.

    The fields computed when read come last: a stored version's document
    (`content_to_json`) is the rest, in the same order, so the read side
    completes it by appending them."""
    stored, derived = _fields(item.__class__)
    found = {name: convert(getattr(item, name)) for name, convert in stored}
    found.update((name, convert(getattr(item, name))) for name, convert in derived)
    return found


def content_to_json(item: Any) -> JSON:
    """`item_to_json` without the fields computed when read: what a version stores."""
    stored, _ = _fields(item.__class__)
    return {name: convert(getattr(item, name)) for name, convert in stored}


Plan = list[tuple[str, Callable[[Any], Any]]]


@functools.cache
def _fields(cls: type[Any]) -> tuple[Plan, Plan]:
    """The fields of an item class and how each becomes JSON, stored ones then derived
    ones: a plain value as it is, anything else by `value_to_json`."""
    hints = typing.get_type_hints(cls)
    stored: Plan = []
    derived: Plan = []
    for field in attrs.fields(cls):
        plain = hints[field.name] in (str, int, bool, str | None, int | None)
        convert = _same if plain else value_to_json
        (derived if role(field) == DERIVED else stored).append((field.name, convert))
    return stored, derived


def _same(value: Any) -> Any:
    return value


def state_to_json(state: State) -> JSON:
    """The state as a JSON-ready dict; sections list items sorted by key."""
    document: JSON = {
        "schema": STATE_SCHEMA,
        "as_of": instant(state.as_of),
        "known_at": instant(state.known_at),
    }
    for name in attrs.fields_dict(State):
        if name not in ("as_of", "known_at"):
            document[name] = [item_to_json(i) for i in getattr(state, name)]
    return document


def change_to_json(change: Change) -> JSON:
    """One change, with the item before and after in the state's shape."""
    return {
        "section": change.section,
        "key": list(change.key),
        "kind": change.kind,
        "kinds": list(change.kinds),
        "events": [ref_to_json(r) for r in change.events],
        "before": None if change.before is None else item_to_json(change.before),
        "after": None if change.after is None else item_to_json(change.after),
    }


def diff_to_json(d: Diff) -> JSON:
    return {
        "schema": DIFF_SCHEMA,
        "from": instant(d.from_),
        "to": instant(d.to),
        "from_known_at": instant(d.from_known_at),
        "to_known_at": instant(d.to_known_at),
        "changes": [change_to_json(c) for c in d.changes],
    }


def history_to_json(
    section: str, key: tuple[str, ...], known_at: dt.datetime | None, versions: tuple[Version, ...]
) -> JSON:
    """Every version of one item, oldest first, each with the valid time it holds for."""
    return {
        "schema": HISTORY_SCHEMA,
        "section": section,
        "key": list(key),
        "known_at": instant(known_at),
        "versions": [
            {
                "valid_from": instant(v.valid_from),
                "valid_to": instant(v.valid_to),
                "item": item_to_json(v.item),
            }
            for v in versions
        ],
    }
