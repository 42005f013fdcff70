"""The projector's first pledges, kept as pledge items change, against a search of them all."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from projections.positions import Pledged
from projections.refs import Ref
from timeline.readmodels.projector import FirstPledges

_T0 = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
_ITEMS = ("leopard-2", "abrams", "challenger-2")
_Key = tuple[str, str, str, str]


def _pledged(day: int, key: str) -> Pledged:
    start = _T0 + dt.timedelta(days=day)
    return Pledged((start, start + dt.timedelta(days=1), key), Ref("d", key))


_CHANGES = st.tuples(
    st.sampled_from(("d", "e")),
    st.sampled_from(("DEU", "USA")),
    st.sampled_from(("UKR", "POL", "CZE")),
    st.sampled_from(_ITEMS),
    st.none() | st.builds(_pledged, st.integers(0, 9), st.sampled_from("abcdefgh")),
)


def _first(held: dict[_Key, Pledged], dossier: str, donor: str, item: str | None) -> Pledged | None:
    found = [
        p for (d, g, _, i), p in held.items() if (d, g) == (dossier, donor) and item in (None, i)
    ]
    return min(found, key=lambda p: p.order, default=None)


@given(st.lists(_CHANGES, max_size=30))
def test_the_first_of_an_item_and_of_any_item_follow_every_change(
    changes: list[tuple[str, str, str, str, Pledged | None]],
) -> None:
    """After each change, each first is the earliest held; a change reports exactly the
    firsts it moved, from the earlier of the old and the new one."""
    firsts, held = FirstPledges(), {}
    for dossier, donor, recipient, item, pledged in changes:
        before = {code: _first(held, dossier, donor, code) for code in (item, None)}
        if pledged is None:
            held.pop((dossier, donor, recipient, item), None)
        else:
            held[(dossier, donor, recipient, item)] = pledged
        reported = firsts.set(dossier, donor, recipient, item, pledged)
        expected = []
        for code, was in before.items():
            now = _first(held, dossier, donor, code)
            if now != was:
                expected.append((code, min(p.start for p in (was, now) if p is not None)))
        assert reported == expected
        for d in ("d", "e"):
            for g in ("DEU", "USA"):
                for code in (*_ITEMS, None):
                    assert firsts.first(d, g, code) == _first(held, d, g, code)
