"""Errors of the engine, all under `TimelineError`; the CLI prints them as one line."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Iterable
from typing import Any

from events.errors import InvalidEvent, TimelineError

__all__ = [
    "ConcurrencyError",
    "DossierError",
    "DuplicateEvent",
    "InvalidEvent",
    "SchemaNotReady",
    "StoreUnavailable",
    "TimelineError",
    "UnknownItem",
    "UnknownName",
]


class SchemaNotReady(TimelineError):
    """The database has no schema, or an older one: `timeline init` fixes it."""

    def __init__(self, url: str, current: str | None, head: str | None) -> None:
        self.url, self.current, self.head = url, current, head
        state = "has no timeline schema" if current is None else f"is at revision {current}"
        super().__init__(
            f"the database {url} {state}, the engine needs {head}: run `timeline init`"
        )


class ConcurrencyError(TimelineError):
    """Another writer appended to the dossier since the caller read its version."""

    def __init__(self, dossier: str, expected: int | None, actual: int) -> None:
        self.dossier, self.expected, self.actual = dossier, expected, actual
        wanted = "" if expected is None else f", not the expected {expected}"
        super().__init__(
            f"dossier {dossier!r} is at version {actual}{wanted}: "
            "someone else appended first; read again and retry"
        )


class DuplicateEvent(TimelineError, ValueError):
    """An id or key already names a different event; events are never overwritten."""

    def __init__(self, dossier: str, key: str, event_id: uuid.UUID, reason: str) -> None:
        self.dossier, self.key, self.id = dossier, key, event_id
        super().__init__(
            f"event {key!r} ({event_id}) in dossier {dossier!r}: {reason}; "
            "events are immutable, append an event.corrected instead"
        )


class DossierError(TimelineError, ValueError):
    """A dossier file is invalid: where, which event and field, what was expected."""

    def __init__(
        self,
        file: str,
        line: int | None,
        expected: str,
        *,
        key: str | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.key, self.field, self.expected = file, line, key, field, expected
        where = f"{file}:{line}" if line else file
        parts = [where]
        if key:
            parts.append(f"event {key!r}")
        if field:
            parts.append(f"field {field!r}")
        super().__init__(f"{', '.join(parts)}: {expected}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its parts, which its message does not give back (an import's
        decoding processes send it)."""
        return (_dossier_error, (self.file, self.line, self.expected, self.key, self.field))


def _dossier_error(
    file: str, line: int | None, expected: str, key: str | None, field: str | None
) -> DossierError:
    return DossierError(file, line, expected, key=key, field=field)


class StoreUnavailable(TimelineError):
    """The database cannot be reached or the URL is not one we can use."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"cannot use the database {url}: {reason}")


class UnknownName(TimelineError, ValueError):
    """A dossier, actor, issue or section the store does not know, with the nearest it does."""

    def __init__(self, kind: str, value: str, known: Iterable[str]) -> None:
        self.kind, self.value = kind, value
        near = difflib.get_close_matches(value, sorted(known), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        super().__init__(f"no {kind} {value!r} in this database{hint}")


class UnknownItem(TimelineError, LookupError):
    """An item asked for by key is in no dossier, or in several and none was named."""

    def __init__(self, section: str, key: tuple[str, ...], dossiers: list[str]) -> None:
        self.section, self.key, self.dossiers = section, key, dossiers
        shown = "/".join(key)
        if dossiers:
            where = ", ".join(dossiers)
            message = f"{section} {shown} is in several dossiers ({where}): name one with --dossier"
        else:
            message = f"no {section} item {shown} has ever been recorded"
        super().__init__(message)
