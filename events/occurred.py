"""Valid time: when a fact happened in the world, as precisely as sources say.

A source rarely gives an instant. "On Tuesday", "last week" or "for weeks"
are intervals; we keep each as a UTC half-open interval ``[start, end)`` plus
the precision it was given with, so it prints back as it was written and the
projections can tell a certain fact from one that may still lie ahead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import re

import attrs
import pendulum

from events.errors import InvalidEvent

EXPECTED = (
    "a date as an instant (2023-01-25T16:12:00-05:00), day (2023-01-25), "
    "ISO week (2023-W03), month (2023-01), year (2023) or a span between two of "
    "those but instants (2023-01-01/2023-01-24, 2024-03/2024-04)"
)

_ONE_MICROSECOND = dt.timedelta(microseconds=1)
_ONE_DAY = dt.timedelta(days=1)
_ONE_WEEK = dt.timedelta(weeks=1)
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_EXTENDED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?")


class Precision(enum.StrEnum):
    """How precisely a source dates a fact."""

    INSTANT = "instant"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    SPAN = "span"


def _day_text(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _midnight(year: int, month: int, day: int) -> dt.datetime:
    """The start of a UTC day; `ValueError` for a day the calendar lacks (or year 10000)."""
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def _instant(text: str) -> dt.datetime:
    """An instant in UTC; one without an offset is read as UTC.

    The common extended form (`2023-01-25T16:12:00-05:00`) is read by the
    standard library, five times faster than pendulum, which reads the rest
    of ISO 8601 (basic forms, ordinal and week dates, a comma before the
    fraction). Both give the same instant: tests/unit/test_occurred.py.
    """
    if _EXTENDED.fullmatch(text):
        with contextlib.suppress(ValueError):  # 24:00 and the like: pendulum's to judge
            parsed = dt.datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=dt.UTC)
            return parsed.astimezone(dt.UTC)
    found = pendulum.parse(text, tz="UTC", exact=True)
    if not isinstance(found, dt.datetime):
        raise ValueError("not an instant")
    return pendulum.instance(found).in_timezone("UTC")


@attrs.frozen
class Occurred:
    """A UTC interval ``[start, end)`` with the precision it was given in.

    An instant is the interval of one microsecond that starts at it, so that
    every fact has a non-empty interval and "has it ended by T" has one rule.
    Days, weeks, months and years are counted in UTC.
    """

    start: dt.datetime
    end: dt.datetime
    precision: Precision

    @classmethod
    def parse(cls, text: str) -> Occurred:
        """Read any of the six forms; raises `InvalidEvent` naming them all."""
        text = str(text).strip()
        try:
            return cls._parse(text)
        except (ValueError, OverflowError, pendulum.parsing.exceptions.ParserError) as err:
            raise InvalidEvent("", f"expected {EXPECTED}, got {text!r}") from err

    @classmethod
    def _parse(cls, text: str) -> Occurred:
        if "/" in text:
            # From the start of the first to the end of the last, each in the
            # precision the source gives: "March or April" is 2024-03/2024-04.
            first, _, last = text.partition("/")
            begin, finish = cls._period(first), cls._period(last)
            if finish.start < begin.start:
                raise ValueError("span ends before it starts")
            return cls(begin.start, max(begin.end, finish.end), Precision.SPAN)
        if "T" in text:
            start = _instant(text)
            return cls(start, start + _ONE_MICROSECOND, Precision.INSTANT)
        return cls._period(text)

    @classmethod
    def _period(cls, text: str) -> Occurred:
        """A day, week, month or year: what each end of a span may be.

        Plain `datetime` arithmetic: an import parses one of these per event,
        and pendulum's took a third of the time it spends checking them.
        """
        if match := _DAY.match(text):
            begin = _midnight(int(match[1]), int(match[2]), int(match[3]))
            return cls(begin, begin + _ONE_DAY, Precision.DAY)
        if match := _WEEK.match(text):
            monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
            begin = _midnight(monday.year, monday.month, monday.day)
            return cls(begin, begin + _ONE_WEEK, Precision.WEEK)
        if match := _MONTH.match(text):
            year, month = int(match[1]), int(match[2])
            following = (year + 1, 1) if month == 12 else (year, month + 1)
            return cls(_midnight(year, month, 1), _midnight(*following, 1), Precision.MONTH)
        if match := _YEAR.match(text):
            year = int(match[1])
            return cls(_midnight(year, 1, 1), _midnight(year + 1, 1, 1), Precision.YEAR)
        raise ValueError("no form matches")

    def __reduce__(self) -> tuple[type[Occurred], tuple[dt.datetime, dt.datetime, Precision]]:
        # Snapshots pickle folds full of intervals: the constructor is much
        # faster than the generic state of a slotted attrs class.
        return (Occurred, (self.start, self.end, self.precision))

    def __str__(self) -> str:
        """The form it was written in, so `parse(str(o)) == o`.

        Plain `datetime` arithmetic: exports print millions of these.
        """
        start = self.start
        match self.precision:
            case Precision.INSTANT:
                return start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            case Precision.DAY:
                return _day_text(start)
            case Precision.WEEK:
                year, week, _ = start.isocalendar()
                return f"{year:04d}-W{week:02d}"
            case Precision.MONTH:
                return f"{start.year:04d}-{start.month:02d}"
            case Precision.YEAR:
                return f"{start.year:04d}"
            case Precision.SPAN:
                last = self.end - dt.timedelta(days=1)
                return f"{_day_text(start)}/{_day_text(last)}"

    def ended_by(self, cutoff: dt.datetime) -> bool:
        """Whether the whole interval lies before `cutoff`: the fact is certain."""
        return self.end <= cutoff
