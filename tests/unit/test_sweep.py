"""Who presses a position, swept over rising times, against a check of every interval."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from timeline.readmodels.reader import _Sweep

_T0 = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)


def _moment(seconds: int) -> dt.datetime:
    return _T0 + dt.timedelta(seconds=seconds)


@st.composite
def _versions(draw: st.DrawFn) -> tuple[dt.datetime, dt.datetime | None, str]:
    start = draw(st.integers(0, 20))
    end = draw(st.none() | st.integers(start + 1, 25))
    return _moment(start), None if end is None else _moment(end), draw(st.sampled_from("ABC"))


@given(st.lists(_versions(), max_size=12), st.lists(st.integers(0, 30), max_size=10))
def test_the_sweep_names_whoever_has_a_version_counting(
    pressure: list[tuple[dt.datetime, dt.datetime | None, str]], times: list[int]
) -> None:
    """As of T a version counts when valid_from < T <= valid_to (open end: still so)."""
    sweep = _Sweep(pressure)
    for moment in map(_moment, sorted(times)):
        expected = {
            a for start, end, a in pressure if start < moment and (end is None or moment <= end)
        }
        assert sweep.at(moment) == tuple(sorted(expected))
