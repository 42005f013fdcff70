"""The root of every error the engine raises on purpose.

Only the CLI turns these into a message and an exit code; everything else
raises them with structured fields so callers can react without parsing text.
"""

from __future__ import annotations


class TimelineError(Exception):
    """Root of the engine's errors: anything else escaping is a bug."""


class InvalidEvent(TimelineError, ValueError):
    """An event, or a value inside one, is not what the vocabulary expects.

    `path` is the dotted field path inside the event (``quantity``,
    ``condition.actor``, ``sources[0].quote``); `expected` says what would
    have been accepted.
    """

    def __init__(self, path: str, expected: str, *, key: str | None = None) -> None:
        self.path = path
        self.expected = expected
        self.key = key
        where = f"event {key!r}, " if key else ""
        field = f"field {path!r}: " if path else ""
        super().__init__(f"{where}{field}{expected}")

    def at(self, key: str | None = None, prefix: str = "") -> InvalidEvent:
        """The same error seen from an enclosing value (a key, an outer field)."""
        path = f"{prefix}.{self.path}" if prefix and self.path else prefix or self.path
        return InvalidEvent(path, self.expected, key=key or self.key)
