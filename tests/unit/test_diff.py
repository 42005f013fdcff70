"""Diffs: what changed between two states and why, and the law state(a) + diff == state(b)."""

from __future__ import annotations

import datetime as dt
import json

import attrs
from hypothesis import HealthCheck, given, settings

from events import Envelope, EventRetracted, PositionStated, PressureApplied, Stance
from projections import (
    SECTIONS,
    Change,
    Coalition,
    Diff,
    Position,
    apply_diff,
    diff,
    diff_to_json,
    project,
)
from tests.strategies import (
    MBT,
    as_of,
    as_of_points,
    histories,
    known_at_points,
    pledge,
    seed_history,
    stored,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seed_diff() -> Diff:
    """What changed in the seed between 20 and 26 January."""
    events = seed_history()
    return diff(
        project(events, as_of=as_of("2023-01-20")), project(events, as_of=as_of("2023-01-26"))
    )


def change(d: Diff, section: str, *key: str) -> Change:
    """The one change of `d` to the item `key` of `section`."""
    (found,) = [c for c in d.changes if (c.section, c.key) == (section, key)]
    return found


# ------------------------------------------------------------ the seed story


def test_seed_diff_stances_and_condition() -> None:
    """By the 26th Germany and the US are committed, Germany's condition met by the Abrams."""
    d = seed_diff()
    deu = change(d, "positions", "DEU", MBT)
    assert deu.kind == "stance changed"
    assert "condition met" in deu.kinds
    assert isinstance(deu.before, Position)
    assert isinstance(deu.after, Position)
    assert (deu.before.stance, deu.after.stance) == (Stance.CONDITIONAL, Stance.COMMITTED)
    assert deu.events == ("deu-pledge-leopard-2a6", "usa-pledge-abrams")
    usa = change(d, "positions", "USA", MBT)
    assert usa.kind == "stance changed"
    assert usa.events[0] == "usa-pledge-abrams"


def test_seed_diff_pledges_request_totals_coalition() -> None:
    """New pledges, the approved request, totals and who joined come with their events."""
    d = seed_diff()
    abrams = change(d, "pledges", "USA", "UKR", "m1-abrams")
    assert (abrams.kind, abrams.before, abrams.events) == (
        "pledge added",
        None,
        ("usa-pledge-abrams",),
    )
    request = change(d, "requests", "ukraine-mbt-2023", "pol-request-reexport-leopard-2")
    assert request.kind == "request decided"
    assert request.kinds == ("request decided", "request filed")
    assert request.events == ("pol-request-reexport-leopard-2", "deu-approves-reexport")
    tanks = change(d, "totals", "main-battle-tank")
    assert tanks.kind == "total changed"
    assert tanks.events == ("deu-pledge-leopard-2a6", "usa-pledge-abrams")
    assert change(d, "totals", "recovery-vehicle").kind == "total added"
    coalition = change(d, "coalitions", MBT)
    assert coalition.kind == "coalition joined"
    assert coalition.events == ("deu-pledge-leopard-2a6", "usa-pledge-abrams")


def test_seed_diff_certainty_only() -> None:
    """The UK's week-3 pledge became certain once the week was over: a change with no new event."""
    d = seed_diff()
    gbr = change(d, "positions", "GBR", MBT)
    assert (gbr.kind, gbr.events) == ("certainty changed", ())
    precedent = change(d, "precedents", "GBR", MBT)
    assert precedent.kind == "certainty changed"


def test_diff_order_is_sections_then_keys() -> None:
    """Changes come in section order, then by key."""
    d = seed_diff()
    order = [(SECTIONS.index(c.section), c.key) for c in d.changes]
    assert order == sorted(order)
    assert (d.from_, d.to) == (as_of("2023-01-20"), as_of("2023-01-26"))


def test_seed_diff_json() -> None:
    """The diff exports as versioned JSON with items in the state's shape."""
    data = diff_to_json(seed_diff())
    assert data["schema"] == "timeline.diff/1"
    assert (data["from"], data["to"]) == ("2023-01-21T00:00:00Z", "2023-01-27T00:00:00Z")
    assert data["from_known_at"] is None
    assert data["to_known_at"] is None
    deu = next(c for c in data["changes"] if c["key"] == ["DEU", MBT])
    assert deu["kind"] == "stance changed"
    assert (deu["before"]["stance"], deu["after"]["stance"]) == ("conditional", "committed")
    assert deu["after"]["conditions"][0]["met_by"] == "usa-pledge-abrams"
    assert deu["events"] == ["deu-pledge-leopard-2a6", "usa-pledge-abrams"]
    json.dumps(data)


def test_removal_lists_the_events_it_had() -> None:
    """A fact retracted between two transaction times shows as removed, with its events."""
    retraction = stored(
        "oops", "2023-02-01", EventRetracted(retracts="usa-pledge-m88", reason="wrong"), 100
    )
    assert retraction.recorded is not None
    events = [*seed_history(), retraction]
    moment = as_of("2023-01-26")
    before = project(events, as_of=moment, known_at=retraction.recorded)
    after = project(events, as_of=moment)
    d = diff(before, after)
    removed = change(d, "pledges", "USA", "UKR", "m88")
    assert (removed.kind, removed.after, removed.events) == ("removed", None, ("usa-pledge-m88",))
    assert apply_diff(before, d) == after


def test_pressure_on_a_position_shows_its_events() -> None:
    """New pressure on an actor's position is a "pressed" change caused by the pressure event."""
    stated = stored(
        "deu", "2023-01-02", PositionStated(actor="DEU", issue=MBT, stance=Stance.RELUCTANT)
    )
    press = stored("press", "2023-01-10", PressureApplied(actors=("POL",), target="DEU", issue=MBT))
    d = diff(
        project([stated, press], as_of=as_of("2023-01-05")),
        project([stated, press], as_of=as_of("2023-01-20")),
    )
    deu = change(d, "positions", "DEU", MBT)
    assert (deu.kind, deu.events) == ("pressed", ("press",))
    assert change(d, "pressure", "POL", "DEU", MBT).kind == "pressure applied"


def test_leaving_keeps_the_coalition_item() -> None:
    """An actor walking back from committed leaves the coalition, which stays listed."""
    events = [
        stored("gbr-pledge", "2023-01-02", pledge("GBR", "challenger-2", 14)),
        stored(
            "gbr-back",
            "2023-01-10",
            PositionStated(actor="GBR", issue=MBT, stance=Stance.RELUCTANT),
        ),
    ]
    d = diff(project(events, as_of=as_of("2023-01-05")), project(events, as_of=as_of("2023-01-20")))
    left = change(d, "coalitions", MBT)
    assert (left.kind, left.events) == ("coalition left", ("gbr-back",))
    assert isinstance(left.after, Coalition)
    assert left.after.committed == ()
    assert left.after.events == ("gbr-pledge", "gbr-back")
    assert change(d, "positions", "GBR", MBT).kind == "stance changed"


# ------------------------------------------------------------ laws


@PROPERTY
@given(
    history=histories(),
    first=as_of_points(),
    second=as_of_points(),
    known_first=known_at_points(),
    known_second=known_at_points(),
)
def test_applying_the_diff_gives_the_later_state(
    history: list[Envelope],
    first: dt.datetime,
    second: dt.datetime,
    known_first: dt.datetime | None,
    known_second: dt.datetime | None,
) -> None:
    """state(a) + diff(state(a), state(b)) == state(b), for any two cutoffs of one history."""
    before = project(history, as_of=first, known_at=known_first)
    after = project(history, as_of=second, known_at=known_second)
    assert apply_diff(before, diff(before, after)) == after


@PROPERTY
@given(one=histories(), other=histories(), first=as_of_points(), second=as_of_points())
def test_applying_the_diff_works_between_unrelated_states(
    one: list[Envelope], other: list[Envelope], first: dt.datetime, second: dt.datetime
) -> None:
    """The law holds for any two states, even of different histories."""
    before, after = project(one, as_of=first), project(other, as_of=second)
    assert apply_diff(before, diff(before, after)) == after


@PROPERTY
@given(history=histories(), moment=as_of_points(), known_at=known_at_points())
def test_diff_of_a_state_with_itself_is_empty(
    history: list[Envelope], moment: dt.datetime, known_at: dt.datetime | None
) -> None:
    """Nothing changes between a state and itself, and applying that diff changes nothing."""
    state = project(history, as_of=moment, known_at=known_at)
    d = diff(state, state)
    assert d.changes == ()
    assert apply_diff(state, d) == state


@PROPERTY
@given(history=histories(), first=as_of_points(), second=as_of_points())
def test_diff_changes_are_ordered_caused_and_exportable(
    history: list[Envelope], first: dt.datetime, second: dt.datetime
) -> None:
    """Changes are unique and ordered, name only events of the history, and export to JSON."""
    d = diff(project(history, as_of=first), project(history, as_of=second))
    order = [(SECTIONS.index(c.section), c.key) for c in d.changes]
    assert order == sorted(set(order))
    keys = {e.key for e in history}
    for c in d.changes:
        assert set(c.events) <= keys
        assert c.kind == c.kinds[0]
        assert c.before != c.after
        item = c.after if c.after is not None else c.before
        assert item is not None
        assert (item.section, item.key) == (c.section, c.key)
        if c.before is None and c.after is not None:
            assert c.events == c.after.events
    json.dumps(diff_to_json(d))


@PROPERTY
@given(history=histories(), first=as_of_points(), second=as_of_points())
def test_moving_forward_only_adds_events(
    history: list[Envelope], first: dt.datetime, second: dt.datetime
) -> None:
    """With one transaction time, a later as-of removes no item and drops no event key."""
    early, late = sorted((first, second))
    d = diff(project(history, as_of=early), project(history, as_of=late))
    for c in d.changes:
        assert c.after is not None
        if c.before is not None:
            assert set(c.before.events) <= set(c.after.events)
            assert attrs.has(type(c.after))
