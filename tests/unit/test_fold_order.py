"""A replay's stream comes by valid start; the fold needs full fold order.

`stream_facts` puts the page stream (by start, ties in any order) and the
corrected facts (a few, in any order) into one fold order without comparing
every envelope with a merge. Whatever the split and the order of ties, the
result is the one order `fold_order` gives.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from events import Envelope, Occurred, StatementIssued, Tone
from projections.record import fold_order
from timeline.snapshots import _in_fold_order

# Few starts, so that runs of one start are common; ends differ within a start.
WHEN = ("2023-01-01", "2023-01", "2023-01-01/2023-01-03", "2023", "2023-01-02", "2023-W01")


@st.composite
def facts(draw: st.DrawFn) -> Envelope:
    return Envelope.new(
        dossier=draw(st.sampled_from(("a", "b"))),
        key=f"k{draw(st.integers(0, 5))}",
        occurred=Occurred.parse(draw(st.sampled_from(WHEN))),
        event=StatementIssued(actor="DEU", tone=Tone.NEUTRAL, summary="s"),
        id=draw(st.uuids()),
    )


@given(
    every=st.lists(facts(), max_size=40, unique_by=lambda e: e.id),
    split=st.data(),
)
def test_the_stream_and_the_others_come_out_in_fold_order(
    every: list[Envelope], split: st.DataObject
) -> None:
    others = [e for e in every if split.draw(st.booleans())]
    picked = {e.id for e in others}
    stream = split.draw(st.permutations([e for e in every if e.id not in picked]))
    by_start = sorted(stream, key=lambda e: e.occurred.start)  # stable: ties as drawn
    merged = list(_in_fold_order(by_start, split.draw(st.permutations(others))))
    assert merged == sorted(every, key=fold_order)
