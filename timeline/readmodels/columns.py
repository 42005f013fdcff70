"""How each field of a state item is kept in its version table, and read back.

The tables are generated from the item classes of `projections`, field by
field, by type: text and numbers as themselves; a valid time as its display
form (`since`, "2023-W03") beside UTC timestamps (`since_start`,
`since_end`); a quantity as `_low` and `_high`; an event reference as the
event's key (the row's dossier is the event's); a nested value (a
position's condition) as prefixed columns; lists as JSON, since they truly
are lists. Derived fields have no columns: they are computed when read.
A version's causes (`events`) are kept both ways: as the keys of its own
events, a JSON array in the row, so that a state is read without a join per
item, and as links (`timeline.readmodels.tables.state_events`), which say
which versions an event made.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import sqlalchemy as sa

from events import Occurred, Precision, Quantity
from projections.items import CAUSES, CONTENT, KEY, role
from projections.refs import Ref
from timeline.store.schema import NAME_LENGTH, Payload, UTCDateTime

Encode = Callable[[Any], tuple[Any, ...]]
Decode = Callable[[Sequence[Any], str], Any]
"""Column values, and the row's dossier (for references), back to a field's value."""


Spec = tuple[str, sa.types.TypeEngine[Any], bool]
"""A column: its name, its type, and whether it may be NULL."""


@attrs.frozen
class Field:
    """One item field as columns: their definitions, and both ways of converting."""

    name: str
    specs: tuple[Spec, ...]
    encode: Encode
    decode: Decode

    names: tuple[str, ...] = attrs.field(init=False)

    @names.default
    def _names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.specs)

    @property
    def width(self) -> int:
        return len(self.specs)

    def columns(self) -> list[sa.Column[Any]]:
        """New columns for a table (a column belongs to one table only)."""
        return [sa.Column(name, kind, nullable=nullable) for name, kind, nullable in self.specs]


def precision_of(text: str) -> Precision:
    """The precision a valid time was written in, from its display form."""
    if "/" in text:
        return Precision.SPAN
    if "T" in text:
        return Precision.INSTANT
    if "W" in text:
        return Precision.WEEK
    return {4: Precision.YEAR, 7: Precision.MONTH}.get(len(text), Precision.DAY)


def _optional(annotation: Any) -> tuple[Any, bool]:
    """The type inside `X | None`, and whether it was optional."""
    arms = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in arms:
        (inner,) = [arm for arm in arms if arm is not type(None)]
        return inner, True
    return annotation, False


def _single(
    name: str, kind: sa.types.TypeEngine[Any], nullable: bool, key: bool = False
) -> tuple[Spec, ...]:
    return ((name, kind, nullable and not key),)


def field_columns(name: str, annotation: Any, *, key: bool = False) -> Field:
    """The columns of one field of type `annotation`, named from `name`."""
    kind, nullable = _optional(annotation)
    if kind is str:
        text: sa.types.TypeEngine[Any] = sa.String(NAME_LENGTH) if key else sa.Text()
        return Field(name, _single(name, text, nullable, key), _same, _first)
    if kind is int:
        return Field(name, _single(name, sa.BigInteger(), nullable), _same, _first)
    if kind is bool:
        return Field(name, _single(name, sa.Boolean(), nullable), _same, _first)
    if isinstance(kind, type) and issubclass(kind, enum.StrEnum):
        return Field(name, _single(name, sa.String(32), nullable), _enum_value, _enum_of(kind))
    if kind is Occurred:
        columns: tuple[Spec, ...] = (
            (name, sa.String(64), nullable),
            (f"{name}_start", UTCDateTime(), nullable),
            (f"{name}_end", UTCDateTime(), nullable),
        )
        return Field(name, columns, _occurred_values, _occurred_of)
    if kind is Quantity:
        columns = (
            (f"{name}_low", sa.BigInteger(), nullable),
            (f"{name}_high", sa.BigInteger(), nullable),
        )
        return Field(name, columns, _quantity_values, _quantity_of)
    if kind is Ref:
        return Field(name, _single(name, sa.String(NAME_LENGTH), nullable), _ref_key, _ref_of)
    if kind == tuple[str, ...]:
        return Field(name, _single(name, Payload, False), _list, _tuple)
    if kind == tuple[Ref, ...]:
        return Field(name, _single(name, Payload, False), _keys, _refs)
    if attrs.has(kind):
        return _nested(name, kind, nullable)
    raise TypeError(f"no columns for {name}: {annotation!r}")


def _same(value: Any) -> tuple[Any, ...]:
    return (value,)


def _first(values: Sequence[Any], _dossier: str) -> Any:
    return values[0]


def _enum_value(value: enum.Enum | None) -> tuple[Any, ...]:
    assert value is None or isinstance(value, enum.Enum), repr(value)
    return (None if value is None else value.value,)


def _enum_of(kind: type[enum.StrEnum]) -> Decode:
    members = {member.value: member for member in kind}
    return lambda values, _dossier: None if values[0] is None else members[values[0]]


def _occurred_values(value: Occurred | None) -> tuple[Any, ...]:
    if value is None:
        return (None, None, None)
    return (str(value), value.start, value.end)


def _occurred_of(values: Sequence[Any], _dossier: str) -> Occurred | None:
    text, start, end = values
    if text is None:
        return None
    return _occurred(text, start, end)


@functools.lru_cache(maxsize=65_536)
def _occurred(text: str, start: dt.datetime, end: dt.datetime) -> Occurred:
    # Versions share their intervals (a day's facts, an item's every version):
    # a dossier's state decodes a hundred thousand of them, a cache builds
    # each once. Occurred is frozen, so sharing one is safe.
    return Occurred(start, end, precision_of(text))


def _quantity_values(value: Quantity | None) -> tuple[Any, ...]:
    return (None, None) if value is None else (value.low, value.high)


def _quantity_of(values: Sequence[Any], _dossier: str) -> Quantity | None:
    low, high = values
    return None if low is None else Quantity(low, high)


def _ref_key(value: Ref | None) -> tuple[Any, ...]:
    return (None if value is None else value.key,)


def _ref_of(values: Sequence[Any], dossier: str) -> Ref | None:
    return None if values[0] is None else Ref(dossier, values[0])


def _list(value: tuple[str, ...]) -> tuple[Any, ...]:
    return (list(value),)


def _tuple(values: Sequence[Any], _dossier: str) -> tuple[str, ...]:
    return tuple(values[0])


def _keys(value: tuple[Ref, ...]) -> tuple[Any, ...]:
    return ([ref.key for ref in value],)


def _refs(values: Sequence[Any], dossier: str) -> tuple[Ref, ...]:
    return tuple(Ref(dossier, key) for key in values[0])


def _nested(name: str, kind: type[Any], nullable: bool) -> Field:
    """An attrs value as its fields' columns, prefixed; all NULL when the value is None."""
    hints = typing.get_type_hints(kind)
    inner = [
        field_columns(f"{name}_{f.name}", _nullable(hints[f.name], nullable))
        for f in attrs.fields(kind)
    ]
    columns = tuple(spec for part in inner for spec in part.specs)
    names = [f.name for f in attrs.fields(kind)]

    def encode(value: Any) -> tuple[Any, ...]:
        if value is None:
            return (None,) * len(columns)
        return tuple(
            v for part, n in zip(inner, names, strict=True) for v in part.encode(getattr(value, n))
        )

    def decode(values: Sequence[Any], dossier: str) -> Any:
        if values[0] is None:
            return None
        found, at = {}, 0
        for part, field_name in zip(inner, names, strict=True):
            found[field_name] = part.decode(values[at : at + part.width], dossier)
            at += part.width
        return kind(**found)

    return Field(name, columns, encode, decode)


def _nullable(annotation: Any, nullable: bool) -> Any:
    return annotation | None if nullable else annotation


def item_fields(cls: type[Any]) -> tuple[list[Field], list[Field]]:
    """The key fields and the content fields (causes last) of an item class, as columns."""
    hints = typing.get_type_hints(cls)
    keys, content = [], []
    for f in attrs.fields(cls):
        if role(f) == KEY:
            keys.append(field_columns(f.name, hints[f.name], key=True))
        elif role(f) == CONTENT:
            content.append(field_columns(f.name, hints[f.name]))
    content += [
        field_columns(f.name, hints[f.name]) for f in attrs.fields(cls) if role(f) == CAUSES
    ]
    if not keys or keys[0].name != "dossier":
        raise TypeError(f"{cls.__name__}: every item's key starts with its dossier")
    return keys, content
