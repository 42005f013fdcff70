"""What every state item has in common, and the roles its fields play.

Each section (`projections.positions`, `pledges`, ...) defines its item once,
as a frozen attrs class whose fields say what they are:

* key fields (`key()`) name the item within its section; the dossier is
  always the first, since every item belongs to one dossier;
* plain fields are the item's content, kept in each stored version;
* derived fields (`derived(...)`) are computed when the state is read, from
  the time asked for and from other items (`certain`, `pressed_by`,
  `category`), so no version has to be rewritten when only they change;
* `events` (`causes()`) names the events that made this version.

The JSON contract and the database tables are generated from these fields,
so adding a field is one edit here (plus a migration).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Protocol

import attrs

from projections.refs import Ref

ROLE = "role"
KEY, CONTENT, DERIVED, CAUSES = "key", "content", "derived", "causes"


def key() -> Any:
    """A field of the item's key."""
    return attrs.field(metadata={ROLE: KEY})


def derived(default: Any) -> Any:
    """A field computed when read; `default` until then."""
    return attrs.field(default=default, metadata={ROLE: DERIVED})


def causes() -> Any:
    """The events that made this version, in key order."""
    return attrs.field(default=(), metadata={ROLE: CAUSES})


def role(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get(ROLE, CONTENT))


class Item(Protocol):
    """A state item of any section."""

    section: ClassVar[str]
    dossier: str
    events: tuple[Ref, ...]

    @property
    def key(self) -> tuple[str, ...]: ...

    def certain_from(self) -> dt.datetime | None:
        """From which `as_of` (exclusive cutoff) the item is certain; None: no such notion."""


def item_key(item: Any) -> tuple[str, ...]:
    """The values of the key fields, in order."""
    return tuple(getattr(item, f.name) for f in attrs.fields(type(item)) if role(f) == KEY)


def content(item: Any) -> tuple[Any, ...]:
    """What a stored version holds: key and content fields, without derived ones or causes."""
    return tuple(
        getattr(item, f.name) for f in attrs.fields(type(item)) if role(f) in (KEY, CONTENT)
    )


def certain(item: Any, as_of: dt.datetime) -> bool:
    """Whether the interval the item rests on has ended by `as_of`."""
    moment = item.certain_from()
    return moment is not None and moment <= as_of
