"""Quantities as honest as their sources: exact, a range, an upper bound, or unknown."""

from __future__ import annotations

import re

import attrs

from events.errors import InvalidEvent

MAXIMUM = 10**9
"""No source counts more units than this; larger numbers are typing errors."""
EXPECTED = (
    f"a quantity up to {MAXIMUM:,}: a whole number (14), a range (10-14) or an upper bound (<10)"
)
_LONGEST = 2 * len(str(MAXIMUM)) + 3
"""The longest text a quantity up to `MAXIMUM` is written as: a range with spaces."""
# ASCII digits only: str.isdigit() and \d also accept superscripts and other scripts.
_NUMBER = re.compile(r"[0-9]+")
_RANGE = re.compile(r"([0-9]+)\s*-\s*([0-9]+)")
_BOUND = re.compile(r"<\s*([0-9]+)")


@attrs.frozen
class Quantity:
    """At least `low` and at most `high` units; an exact number has low == high.

    "An unspecified number" is not a Quantity at all: the field is absent and
    totals list the pledge among their unknowns instead.
    """

    low: int
    high: int

    @classmethod
    def parse(cls, value: object) -> Quantity:
        """Read `14`, `"14"`, `"10-14"` or `"<10"`."""
        if isinstance(value, bool):
            raise InvalidEvent("", f"expected {EXPECTED}, got {value!r}")
        if isinstance(value, int):
            if value < 0:
                raise InvalidEvent("", f"expected {EXPECTED}, got {value!r}")
            return cls(value, value).sourced()
        text = str(value).strip()
        if len(text) > _LONGEST:  # int() of thousands of digits is slow, and refused anyway
            raise InvalidEvent("", f"expected {EXPECTED}, got {text[:20]}...")
        if _NUMBER.fullmatch(text):
            return cls(int(text), int(text)).sourced()
        if (match := _RANGE.fullmatch(text)) and int(match[1]) <= int(match[2]):
            return cls(int(match[1]), int(match[2])).sourced()
        if (match := _BOUND.fullmatch(text)) and int(match[1]) > 0:
            return cls(0, int(match[1]) - 1).sourced()
        raise InvalidEvent("", f"expected {EXPECTED}, got {value!r}")

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise InvalidEvent("", f"expected {EXPECTED}, got {self.low}-{self.high}")

    def sourced(self) -> Quantity:
        """This quantity, if one source may give it: at most `MAXIMUM` (sums of several
        pledges may exceed it, and are read back as they are)."""
        if self.high > MAXIMUM:
            raise InvalidEvent("", f"expected {EXPECTED}, got {self}")
        return self

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def to_json(self) -> int | str:
        """The form `parse` reads back: a number when exact, else text."""
        if self.exact:
            return self.low
        if self.low == 0:
            return f"<{self.high + 1}"
        return f"{self.low}-{self.high}"

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.low + other.low, self.high + other.high)

    def __str__(self) -> str:
        return str(self.to_json())
