"""Instants read by the standard library's fast path are the instants pendulum reads."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import Occurred
from events.errors import InvalidEvent


def _pendulum(text: str) -> dt.datetime | None:
    """The oracle: how every instant was read before the fast path, None if refused."""
    try:
        parsed = pendulum.parse(text, tz="UTC", exact=True)
        assert isinstance(parsed, dt.datetime)
        return pendulum.instance(parsed).in_timezone("UTC")
    except (ValueError, OverflowError, pendulum.parsing.exceptions.ParserError):
        return None


def _occurred(text: str) -> dt.datetime | None:
    try:
        return Occurred.parse(text).start
    except InvalidEvent:
        return None


_OFFSETS = st.sampled_from(["", "Z", "+00:00", "-05:00", "+05:30", "+14:00", "-12:00", "+23:59"])


@st.composite
def _instants(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)))
    text = moment.strftime("%Y-%m-%dT%H:%M")
    seconds = draw(st.sampled_from(["", "s", "ms", "us", "one"]))
    if seconds:
        text += f":{moment.second:02d}"
    if seconds in ("ms", "us", "one"):
        digits = f"{moment.microsecond:06d}"
        text += "." + {"ms": digits[:3], "us": digits, "one": digits[:1]}[seconds]
    return text.rjust(16, "0") + draw(_OFFSETS)


@given(_instants())
def test_the_fast_path_reads_what_pendulum_reads(text: str) -> None:
    found = _occurred(text)
    assert found == _pendulum(text)
    assert found is None or found.utcoffset() == dt.timedelta(0)  # kept in UTC


@pytest.mark.parametrize(
    "text",
    [
        "2023-01-25T24:00:00Z",
        "2023-01-25T23:59:60Z",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "2023-01-25T16:12:00.1234567Z",
        "20230125T161200Z",
        "2023-01-25T16:12:00+0500",
        "2023-W04-3T16:12:00Z",
        "2023-01-25T16:12:00,5Z",
    ],
)
def test_forms_off_the_fast_path_are_read_as_before(text: str) -> None:
    assert _occurred(text) == _pendulum(text)
