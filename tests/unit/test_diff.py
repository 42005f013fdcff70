"""Diffs: what changed between two points and why, and the law state(a) + diff == state(b)."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given, settings

from events import Envelope, EventRetracted, PositionStated, PressureApplied, Stance
from projections import (
    SECTIONS,
    Change,
    Coalition,
    Diff,
    Position,
    Ref,
    apply_diff,
    diff,
    diff_to_json,
    project,
)
from tests.strategies import (
    MBT,
    SEED_DOSSIER,
    archives,
    as_of,
    as_of_points,
    known_at_points,
    pledge,
    seed_history,
    stored,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seed(*keys: str) -> tuple[Ref, ...]:
    return tuple(Ref(SEED_DOSSIER, key) for key in keys)


def seed_diff() -> Diff:
    """What changed in the seed between 20 and 26 January."""
    return diff(seed_history(), from_=as_of("2023-01-20"), to=as_of("2023-01-26"))


def change(d: Diff, section: str, *key: str) -> Change:
    """The one change of `d` to the item `key` (without the dossier) of `section`."""
    (found,) = [c for c in d.changes if (c.section, c.key[1:]) == (section, key)]
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
    assert deu.events == seed("deu-pledge-leopard-2a6", "usa-pledge-abrams")
    usa = change(d, "positions", "USA", MBT)
    assert usa.kind == "stance changed"
    assert seed("usa-pledge-abrams")[0] in usa.events


def test_seed_diff_pledges_request_totals_coalition() -> None:
    """New pledges, the approved request, totals and who joined come with their events."""
    d = seed_diff()
    abrams = change(d, "pledges", "USA", "UKR", "m1-abrams")
    assert (abrams.kind, abrams.before, abrams.events) == (
        "pledge added",
        None,
        seed("usa-pledge-abrams"),
    )
    request = change(d, "requests", "pol-request-reexport-leopard-2")
    assert request.kind == "request decided"
    assert request.kinds == ("request decided", "request filed")
    assert request.events == seed("deu-approves-reexport", "pol-request-reexport-leopard-2")
    tanks = change(d, "totals", "main-battle-tank")
    assert tanks.kind == "total changed"
    assert tanks.events == seed("deu-pledge-leopard-2a6", "usa-pledge-abrams")
    assert change(d, "totals", "recovery-vehicle").kind == "total added"
    coalition = change(d, "coalitions", MBT)
    assert coalition.kind == "coalition joined"
    assert coalition.events == seed("deu-pledge-leopard-2a6", "usa-pledge-abrams")


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
    order = [(list(SECTIONS).index(c.section), c.key) for c in d.changes]
    assert order == sorted(order)
    assert (d.from_, d.to) == (as_of("2023-01-20"), as_of("2023-01-26"))


def test_seed_diff_json() -> None:
    """The diff exports as versioned JSON with items in the state's shape."""
    data = diff_to_json(seed_diff())
    assert data["schema"] == "timeline.diff/2"
    assert (data["from"], data["to"]) == ("2023-01-21T00:00:00Z", "2023-01-27T00:00:00Z")
    assert data["from_known_at"] is None
    assert data["to_known_at"] is None
    deu = next(c for c in data["changes"] if c["key"] == [SEED_DOSSIER, "DEU", MBT])
    assert deu["kind"] == "stance changed"
    assert (deu["before"]["stance"], deu["after"]["stance"]) == ("conditional", "committed")
    assert deu["after"]["condition"]["met_by"] == {
        "dossier": SEED_DOSSIER,
        "key": "usa-pledge-abrams",
    }
    assert [e["key"] for e in deu["events"]] == ["deu-pledge-leopard-2a6", "usa-pledge-abrams"]
    json.dumps(data)


def test_a_retraction_is_the_cause_of_what_it_removes() -> None:
    """A fact retracted between two transaction times shows as removed, because of the
    retraction."""
    retraction = stored(
        "oops", "2023-02-01", EventRetracted(retracts="usa-pledge-m88", reason="wrong"), 100
    )
    assert retraction.recorded is not None
    events = [*seed_history(), retraction]
    moment = as_of("2023-01-26")
    d = diff(events, from_=moment, to=moment, from_known_at=retraction.recorded)
    removed = change(d, "pledges", "USA", "UKR", "m88")
    assert (removed.kind, removed.after, removed.events) == ("removed", None, seed("oops"))
    before = project(events, as_of=moment, known_at=retraction.recorded)
    assert apply_diff(before, d) == project(events, as_of=moment)


def test_pressure_on_a_position_shows_its_events() -> None:
    """New pressure on an actor's position is a "pressed" change caused by the pressure event."""
    stated = stored(
        "deu", "2023-01-02", PositionStated(actor="DEU", issue=MBT, stance=Stance.RELUCTANT)
    )
    press = stored("press", "2023-01-10", PressureApplied(actors=("POL",), target="DEU", issue=MBT))
    d = diff([stated, press], from_=as_of("2023-01-05"), to=as_of("2023-01-20"))
    deu = change(d, "positions", "DEU", MBT)
    assert (deu.kind, deu.events) == ("pressed", seed("press"))
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
    d = diff(events, from_=as_of("2023-01-05"), to=as_of("2023-01-20"))
    left = change(d, "coalitions", MBT)
    assert (left.kind, left.events) == ("coalition left", seed("gbr-back"))
    assert isinstance(left.after, Coalition)
    assert left.after.committed == ()
    assert change(d, "positions", "GBR", MBT).kind == "stance changed"


# ------------------------------------------------------------ laws


@PROPERTY
@given(
    history=archives(),
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
    """state(a) + diff(a, b) == state(b), for any two cutoffs of one history."""
    d = diff(history, from_=first, to=second, from_known_at=known_first, to_known_at=known_second)
    before = project(history, as_of=first, known_at=known_first)
    after = project(history, as_of=second, known_at=known_second)
    assert apply_diff(before, d) == after


@PROPERTY
@given(history=archives(), moment=as_of_points(), known_at=known_at_points())
def test_diff_of_a_point_with_itself_is_empty(
    history: list[Envelope], moment: dt.datetime, known_at: dt.datetime | None
) -> None:
    """Nothing changes between a state and itself."""
    d = diff(history, from_=moment, to=moment, from_known_at=known_at, to_known_at=known_at)
    assert d.changes == ()


@PROPERTY
@given(history=archives(), first=as_of_points(), second=as_of_points())
def test_diff_changes_are_ordered_caused_and_exportable(
    history: list[Envelope], first: dt.datetime, second: dt.datetime
) -> None:
    """Changes are unique and ordered, name only events of the history that start between
    the two dates, and export to JSON."""
    d = diff(history, from_=first, to=second)
    order = [(list(SECTIONS).index(c.section), c.key) for c in d.changes]
    assert order == sorted(set(order))
    named = {Ref.of(e) for e in history}
    for c in d.changes:
        assert set(c.events) <= named
        assert c.kind == c.kinds[0]
        assert c.before != c.after
        item = c.after if c.after is not None else c.before
        assert item is not None
        assert (item.section, item.key) == (c.section, c.key)
    json.dumps(diff_to_json(d))


@PROPERTY
@given(history=archives(), first=as_of_points(), second=as_of_points())
def test_moving_forward_removes_nothing(
    history: list[Envelope], first: dt.datetime, second: dt.datetime
) -> None:
    """With one transaction time, a later as-of removes no item."""
    early, late = sorted((first, second))
    for c in diff(history, from_=early, to=late).changes:
        assert c.after is not None
