"""The projection: the seed's story as examples, and the engine's laws as properties."""

from __future__ import annotations

import ast
import datetime as dt
import json
import pathlib
import sys
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from events import (
    Ask,
    CoalitionFormed,
    Condition,
    Decision,
    DeliveryReported,
    DossierDeclared,
    Envelope,
    EventCorrected,
    EventRetracted,
    InvalidEvent,
    Occurred,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    Quantity,
    RequestDecided,
    RequestFiled,
    Stance,
)
from events.codec import event_from_dict, event_to_dict
from projections import (
    OPEN,
    SECTIONS,
    UNCATEGORISED,
    Filter,
    History,
    Ref,
    project,
    state_to_json,
)
from projections.refs import uuid_int
from tests.strategies import (
    MBT,
    SEED_DOSSIER,
    SEED_RECORDED,
    archives,
    as_of,
    as_of_points,
    corrected,
    envelopes,
    histories,
    known_at_points,
    pledge,
    seed_history,
    stored,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seed(key: str) -> Ref:
    """An event of the seed dossier."""
    return Ref(SEED_DOSSIER, key)


# ------------------------------------------------------------ the seed story


def test_seed_as_of_20_january() -> None:
    """As of 20 January the UK is committed (not yet certain), the US reluctant, Germany waiting."""
    state = project(seed_history(), as_of=as_of("2023-01-20"))
    gbr, usa, deu = (state.position(actor, MBT) for actor in ("GBR", "USA", "DEU"))
    assert gbr is not None
    assert usa is not None
    assert deu is not None
    assert gbr.stance == Stance.COMMITTED
    assert gbr.since == Occurred.parse("2023-W03")
    assert gbr.certain is False  # week 3 runs to Sunday 22 January
    assert usa.stance == Stance.RELUCTANT
    assert deu.stance == Stance.CONDITIONAL
    assert deu.condition is not None
    assert (deu.condition.actor, deu.condition.item, deu.condition.met) == (
        "USA",
        "m1-abrams",
        False,
    )
    assert deu.condition.met_by is None
    assert state.request("pol-request-reexport-leopard-2") is None
    assert state.position("POL", MBT) is None
    coalition = state.coalition(MBT)
    assert coalition is not None
    assert coalition.committed == ("GBR",)


def test_seed_as_of_26_january() -> None:
    """As of 26 January Germany and the US are committed and Germany's condition is met."""
    state = project(seed_history(), as_of=as_of("2023-01-26"))
    deu, usa, gbr = (state.position(actor, MBT) for actor in ("DEU", "USA", "GBR"))
    assert deu is not None
    assert usa is not None
    assert gbr is not None
    assert (deu.stance, usa.stance, gbr.stance) == (Stance.COMMITTED,) * 3
    assert deu.since == Occurred.parse("2023-01-25")
    assert deu.certain
    assert gbr.certain
    assert deu.condition is not None
    assert (deu.condition.met, deu.condition.met_by) == (True, seed("usa-pledge-abrams"))
    assert deu.since_event == seed("deu-pledge-leopard-2a6")
    assert deu.events == (seed("deu-pledge-leopard-2a6"), seed("usa-pledge-abrams"))
    assert deu.pressed_by == ("POL",)
    request = state.request("pol-request-reexport-leopard-2")
    assert request is not None
    assert (request.status, request.decided_by) == ("approved", "DEU")
    assert request.decided == Occurred.parse("2023-01-25")
    assert request.decision == seed("deu-approves-reexport")
    assert request.events == (seed("deu-approves-reexport"),)
    coalition = state.coalition(MBT)
    assert coalition is not None
    assert coalition.committed == ("GBR", "DEU", "USA")


def test_seed_totals_as_of_26_january() -> None:
    """Tanks total 59 and recovery vehicles 8; training counts apart, of unknown size."""
    state = project(seed_history(), as_of=as_of("2023-01-26"))
    tanks, recovery, training = (
        state.total(c) for c in ("main-battle-tank", "recovery-vehicle", "training")
    )
    assert tanks is not None
    assert recovery is not None
    assert training is not None
    assert (tanks.low, tanks.high, tanks.pledges, tanks.unknown) == (59, 59, 3, 0)
    assert (recovery.low, recovery.high) == (8, 8)
    assert (training.low, training.high) == (0, 0)
    assert training.unknown == 1
    item = state.pledge("USA", "UKR", "abrams-training")
    assert item is not None
    assert item.unknown == (seed("usa-pledge-abrams-training"),)
    abrams = state.pledge("USA", "UKR", "m1-abrams")
    assert abrams is not None
    assert abrams.quantity == Quantity(31, 31)
    assert abrams.category == "main-battle-tank"
    assert abrams.first_announced == Occurred.parse("2023-01-25")


def test_seed_precedent_and_pressure() -> None:
    """The UK set the precedent in week 3; Poland pressed Germany once."""
    state = project(seed_history(), as_of=as_of("2023-01-20"))
    precedent = state.precedent("GBR", MBT)
    assert precedent is not None
    assert (precedent.by, precedent.certain) == (seed("gbr-pledge-challenger-2"), False)
    (pressure,) = state.pressure
    assert (pressure.actor, pressure.target, pressure.count) == ("POL", "DEU", 1)
    assert pressure.first == pressure.last == Occurred.parse("2023-01-01/2023-01-24")


def test_seed_state_json() -> None:
    """The seed state exports as versioned, JSON-serialisable data with printed dates."""
    known_at = SEED_RECORDED + dt.timedelta(hours=1)
    data = state_to_json(project(seed_history(), as_of=as_of("2023-01-20"), known_at=known_at))
    assert data["schema"] == "timeline.state/2"
    assert data["as_of"] == "2023-01-21T00:00:00Z"
    assert data["known_at"] == "2023-01-26T13:00:00Z"
    deu = next(p for p in data["positions"] if p["actor"] == "DEU")
    assert deu["stance"] == "conditional"
    assert deu["since"] == "2023-W03"
    assert deu["condition"] == {
        "actor": "USA",
        "does": "pledge",
        "item": "m1-abrams",
        "met": False,
        "met_by": None,
    }
    assert deu["since_event"] == {"dossier": SEED_DOSSIER, "key": "deu-position-leopard-if-abrams"}
    gbr = next(p for p in data["pledges"] if p["donor"] == "GBR")
    assert gbr["quantity"] == 14
    json.dumps(data)


# ------------------------------------------------------------ fold rules


def test_restatement_keeps_since() -> None:
    """Saying the same stance again adds an event but keeps `since`."""
    events = [
        stored("a", "2023-01-02", PositionStated(actor="USA", issue=MBT, stance=Stance.OPPOSED)),
        stored("b", "2023-01-09", PositionStated(actor="USA", issue=MBT, stance=Stance.OPPOSED)),
    ]
    position = project(events, as_of=as_of("2023-01-31")).position("USA", MBT)
    assert position is not None
    assert position.since == Occurred.parse("2023-01-02")
    assert position.since_event == seed("a")
    assert position.events == (seed("b"),)


def test_condition_met_by_an_earlier_pledge() -> None:
    """A condition stated after the pledge it waits for is met at once, by that pledge."""
    events = [
        stored("us-pledge", "2023-01-02", pledge("USA", "m1-abrams", 31)),
        stored(
            "deu-if",
            "2023-01-09",
            PositionStated(
                actor="DEU",
                issue=MBT,
                stance=Stance.CONDITIONAL,
                condition=Condition(actor="USA", item="m1-abrams"),
            ),
        ),
    ]
    position = project(events, as_of=as_of("2023-01-31")).position("DEU", MBT)
    assert position is not None
    assert position.condition is not None
    assert (position.condition.met, position.condition.met_by) == (True, seed("us-pledge"))
    assert position.events == (seed("deu-if"),)


def test_condition_waits_for_its_item() -> None:
    """A pledge of another item leaves an item condition unmet; one of any item meets a bare one."""
    stated = [
        stored(
            "deu-if-abrams",
            "2023-01-02",
            PositionStated(
                actor="DEU",
                issue=MBT,
                stance=Stance.CONDITIONAL,
                condition=Condition(actor="USA", item="m1-abrams"),
            ),
        ),
        stored(
            "pol-if-any",
            "2023-01-02",
            PositionStated(
                actor="POL",
                issue="ifv-for-ukraine",
                stance=Stance.CONDITIONAL,
                condition=Condition(actor="USA"),
            ),
        ),
        stored("us-m88", "2023-01-05", pledge("USA", "m88", 8)),
    ]
    state = project(stated, as_of=as_of("2023-01-31"))
    deu, pol = state.position("DEU", MBT), state.position("POL", "ifv-for-ukraine")
    assert deu is not None
    assert pol is not None
    assert deu.condition is not None
    assert pol.condition is not None
    assert deu.condition.met is False
    assert (pol.condition.met, pol.condition.met_by) == (True, seed("us-m88"))
    assert pol.events == (seed("us-m88"),)  # the version the pledge made


def test_new_statement_replaces_conditions() -> None:
    """A later statement without a condition drops the earlier condition."""
    events = [
        stored(
            "if",
            "2023-01-02",
            PositionStated(
                actor="DEU",
                issue=MBT,
                stance=Stance.CONDITIONAL,
                condition=Condition(actor="USA"),
            ),
        ),
        stored("no", "2023-01-03", PositionStated(actor="DEU", issue=MBT, stance=Stance.OPPOSED)),
    ]
    position = project(events, as_of=as_of("2023-01-31")).position("DEU", MBT)
    assert position is not None
    assert position.condition is None


def test_pressure_creates_no_position() -> None:
    """Pressing an actor with no stated position records pressure, not a stance."""
    events = [
        stored(
            "press", "2023-01-02", PressureApplied(actors=("POL", "GBR"), target="DEU", issue=MBT)
        )
    ]
    state = project(events, as_of=as_of("2023-01-31"))
    assert state.positions == ()
    assert [(p.actor, p.target) for p in state.pressure] == [("GBR", "DEU"), ("POL", "DEU")]


def test_pressed_by_counts_pressure_after_the_statement() -> None:
    """`pressed_by` names the pressing actors whether they pressed before or after the statement."""
    events = [
        stored("press", "2023-01-09", PressureApplied(actors=("POL",), target="DEU", issue=MBT)),
        stored(
            "deu", "2023-01-02", PositionStated(actor="DEU", issue=MBT, stance=Stance.RELUCTANT)
        ),
    ]
    position = project(events, as_of=as_of("2023-01-31")).position("DEU", MBT)
    assert position is not None
    assert position.pressed_by == ("POL",)


def test_running_total_replaces_sum_and_unknowns() -> None:
    """A stated running total replaces the sum and settles earlier pledges of unknown size."""
    events = [
        stored("p1", "2023-01-02", pledge("GBR", "challenger-2", 14)),
        stored("p2", "2023-01-03", pledge("GBR", "challenger-2")),
        stored("p3", "2023-01-04", pledge("GBR", "challenger-2", 2)),
    ]
    item = project(events, as_of=as_of("2023-01-31")).pledge("GBR", "UKR", "challenger-2")
    assert item is not None
    assert (item.quantity, item.unknown) == (Quantity(16, 16), (seed("p2"),))
    events.append(stored("p4", "2023-01-05", pledge("GBR", "challenger-2", 4, total=20)))
    item = project(events, as_of=as_of("2023-01-31")).pledge("GBR", "UKR", "challenger-2")
    assert item is not None
    assert (item.quantity, item.unknown) == (Quantity(20, 20), ())
    assert item.first_announced == Occurred.parse("2023-01-02")
    assert item.updated == Occurred.parse("2023-01-05")


def test_ranges_add_into_totals() -> None:
    """A range pledge widens the total's minimum and maximum apart."""
    ranged = attrs.evolve(pledge("POL", "leopard-2"), quantity=Quantity(10, 14))
    events = [stored("p1", "2023-01-02", ranged), *seed_history()]
    total = project(events, as_of=as_of("2023-01-26")).total("main-battle-tank")
    assert total is not None
    assert (total.low, total.high) == (69, 73)


def test_totals_count_what_was_delivered_of_what_was_pledged() -> None:
    """Deliveries of pledged items add to their category's total beside what was pledged."""
    events = [
        *seed_history(),
        stored("d1", "2023-03-27", delivered("GBR", "challenger-2", Quantity(14, 14))),
        stored("d2", "2023-03-28", delivered("DEU", "leopard-2a6", Quantity(10, 14))),
    ]
    total = project(events, as_of=as_of("2023-03-31")).total("main-battle-tank")
    assert total is not None
    assert (total.low, total.high, total.delivered_low, total.delivered_high) == (59, 59, 24, 28)
    before = project(events, as_of=as_of("2023-03-27")).total("main-battle-tank")
    assert before is not None
    assert (before.delivered_low, before.delivered_high) == (14, 14)


def delivered(donor: str, item: str, quantity: Quantity) -> DeliveryReported:
    return DeliveryReported(donor=donor, recipient="UKR", item=item, quantity=quantity)


def test_delivery_without_pledge_creates_item() -> None:
    """A delivery report with no pledge makes an item with nothing pledged and no total."""
    delivery = DeliveryReported(
        donor="GBR", recipient="UKR", item="challenger-2", quantity=Quantity(14, 14)
    )
    state = project([stored("d", "2023-03-27", delivery)], as_of=as_of("2023-03-31"))
    (item,) = state.pledges
    assert (item.quantity, item.delivered, item.first_announced, item.issue) == (
        None,
        Quantity(14, 14),
        None,
        None,
    )
    assert state.totals == ()
    assert state.positions == ()


def test_undeclared_item_is_uncategorised() -> None:
    """An item no declaration names totals under "uncategorised"."""
    state = project(
        [stored("p", "2023-01-02", pledge("GBR", "mystery", 3))], as_of=as_of("2023-02-01")
    )
    assert [(t.category, t.low) for t in state.totals] == [(UNCATEGORISED, 3)]


def test_later_declaration_wins() -> None:
    """When declarations disagree on a category, the later by valid time wins."""
    later = DossierDeclared(title="t", items=(("m88", "M88", "support"),))
    earlier = DossierDeclared(title="t", items=(("m88", "M88", "recovery-vehicle"),))
    events = [
        stored("z-late", "2023-02-01", later, minute=0),
        stored("a-early", "2023-01-01", earlier, minute=1),
        stored("p", "2023-01-25", pledge("USA", "m88", 8)),
    ]
    # Declarations apply whatever the valid time asked for.
    state = project(events, as_of=as_of("2023-01-26"))
    assert [t.category for t in state.totals] == ["support"]


def test_coalition_formed_is_its_own_item_beside_the_committed() -> None:
    """A formed coalition is an item of `formed`; the coalition lists who is committed."""
    formed = CoalitionFormed(coalition="TANKS", members=("POL", "DEU"), leads=("POL",), issue=MBT)
    events = [*seed_history(), stored("tank-coalition", "2023-02-01", formed)]
    state = project(events, as_of=as_of("2023-02-01"))
    coalition = state.coalition(MBT)
    assert coalition is not None
    assert coalition.committed == ("GBR", "DEU", "USA")
    assert coalition.joined_by == (
        seed("gbr-pledge-challenger-2"),
        seed("deu-pledge-leopard-2a6"),
        seed("usa-pledge-abrams"),
    )
    assert [(f.coalition, f.issue, f.members, f.leads, f.event) for f in state.formed] == [
        ("TANKS", MBT, ("POL", "DEU"), ("POL",), "tank-coalition")
    ]


def test_decision_dated_before_its_request_still_applies() -> None:
    """A decision folded before its request is applied when the request is filed."""
    events = [
        stored(
            "filed",
            "2023-01-24",
            RequestFiled(requester="POL", addressee="DEU", issue=MBT, ask=Ask.RE_EXPORT),
        ),
        stored(
            "decided",
            "2023-01-20",
            RequestDecided(request="filed", decision=Decision.DENIED, by="DEU"),
        ),
    ]
    request = project(events, as_of=as_of("2023-01-31")).request("filed")
    assert request is not None
    assert request.status == "denied"


def test_open_request_is_open() -> None:
    """A request nobody decided is open."""
    events = [
        stored(
            "ask",
            "2023-01-24",
            RequestFiled(requester="UKR", addressee="allies", issue=MBT, ask=Ask.SUPPLY),
        )
    ]
    request = project(events, as_of=as_of("2023-01-24")).request("ask")
    assert request is not None
    assert request.status == OPEN
    assert request.decided is None


# ------------------------------------------------------------ corrections and retractions


def test_known_at_before_a_correction_gives_the_uncorrected_state() -> None:
    """As the store knew it before the correction was recorded, the UK pledged 14, not 12."""
    correction = corrected("fix", "2023-02-01", "gbr-pledge-challenger-2", 100, quantity=12)
    events = [*seed_history(), correction]
    assert correction.recorded is not None
    before = project(events, as_of=as_of("2023-01-26"), known_at=correction.recorded)
    after = project(events, as_of=as_of("2023-01-26"))
    assert before == project(
        seed_history(), as_of=as_of("2023-01-26"), known_at=correction.recorded
    )
    totals = [s.total("main-battle-tank") for s in (before, after)]
    assert [t.low for t in totals if t is not None] == [59, 57]


def test_correction_applies_whatever_the_as_of() -> None:
    """A correction dated after the as-of still fixes the record of the earlier fact."""
    correction = corrected(
        "fix", "2023-03-01", "usa-position-abrams-not-now", 100, stance="opposed"
    )
    position = project([*seed_history(), correction], as_of=as_of("2023-01-20")).position(
        "USA", MBT
    )
    assert position is not None
    assert position.stance == Stance.OPPOSED


def test_correcting_occurred_moves_the_fact_in_valid_time() -> None:
    """Correcting `occurred` to a later day takes the fact out of earlier states."""
    correction = corrected(
        "fix", "2023-02-01", "gbr-pledge-challenger-2", 100, occurred="2023-01-25"
    )
    state = project([*seed_history(), correction], as_of=as_of("2023-01-20"))
    assert state.pledge("GBR", "UKR", "challenger-2") is None
    assert state.position("GBR", MBT) is None


def test_corrections_apply_in_valid_time_order() -> None:
    """Two corrections of one event apply by their valid time, not by when they were recorded."""
    late = corrected("fix-late", "2023-02-10", "usa-pledge-m88", 100, quantity=6)
    early = corrected("fix-early", "2023-02-01", "usa-pledge-m88", 101, quantity=7)
    item = project([*seed_history(), late, early], as_of=as_of("2023-01-26")).pledge(
        "USA", "UKR", "m88"
    )
    assert item is not None
    assert item.quantity == Quantity(6, 6)


def test_correction_by_id() -> None:
    """A correction may name its target by id instead of key."""
    target = next(e for e in seed_history() if e.key == "usa-pledge-m88")
    fix = corrected("fix", "2023-02-01", str(target.id), 100, quantity=6)
    item = project([*seed_history(), fix], as_of=as_of("2023-01-26")).pledge("USA", "UKR", "m88")
    assert item is not None
    assert item.quantity == Quantity(6, 6)


def test_retraction_removes_and_retracting_it_restores() -> None:
    """A retracted fact stops counting; retracting the retraction brings it back."""
    retraction = stored(
        "oops", "2023-02-01", EventRetracted(retracts="usa-pledge-m88", reason="wrong"), 100
    )
    state = project([*seed_history(), retraction], as_of=as_of("2023-01-26"))
    assert state.pledge("USA", "UKR", "m88") is None
    assert state.total("recovery-vehicle") is None
    undo = stored("undo", "2023-02-02", EventRetracted(retracts="oops", reason="it was right"), 101)
    assert project([*seed_history(), retraction, undo], as_of=as_of("2023-01-26")) == project(
        seed_history(), as_of=as_of("2023-01-26")
    )


def test_retracting_a_correction_undoes_it() -> None:
    """Retracting a correction gives back the state before the correction."""
    fix = corrected("fix", "2023-02-01", "gbr-pledge-challenger-2", 100, quantity=12)
    undo = stored("undo", "2023-02-02", EventRetracted(retracts="fix", reason="wrong fix"), 101)
    moment = as_of("2023-01-26")
    assert project([*seed_history(), fix, undo], as_of=moment) == project(
        seed_history(), as_of=moment
    )


def test_references_to_unknown_events_are_ignored() -> None:
    """Corrections and retractions naming no known event change nothing."""
    noise = [
        corrected("fix", "2023-02-01", "no-such-event", 100, quantity=1),
        stored("oops", "2023-02-01", EventRetracted(retracts="nothing", reason="?"), 101),
    ]
    moment = as_of("2023-01-26")
    assert project([*seed_history(), *noise], as_of=moment) == project(seed_history(), as_of=moment)


def test_invalid_correction_names_the_correction() -> None:
    """A correction leaving its target invalid raises an error naming the correction."""
    fix = corrected("bad-fix", "2023-02-01", "usa-pledge-m88", 100, quantity="lots")
    with pytest.raises(InvalidEvent) as caught:
        project([*seed_history(), fix], as_of=as_of("2023-01-26"))
    assert caught.value.key == "bad-fix"
    assert caught.value.path == "changes.quantity"


def test_cutoffs_must_be_aware() -> None:
    """A naive as-of is refused: the engine only compares UTC instants."""
    with pytest.raises(ValueError, match="timezone-aware"):
        project(seed_history(), as_of=dt.datetime(2023, 1, 26))


# ------------------------------------------------------------ boundaries


def test_date_as_of_includes_the_whole_day() -> None:
    """As of 25 January includes an instant late that day, and nothing of the 26th."""
    late = stored("late", "2023-01-25T23:59:59Z", pledge("POL", "leopard-2", 14))
    next_day = stored("next", "2023-01-26T00:00:00Z", pledge("GBR", "challenger-2", 1))
    state = project([late, next_day], as_of=as_of("2023-01-25"))
    assert [p.donor for p in state.pledges] == ["POL"]


def test_known_at_is_exclusive() -> None:
    """An event recorded exactly at `known_at` was not yet known."""
    fact = stored("p", "2023-01-02", pledge("GBR", "challenger-2", 14), minute=5)
    assert fact.recorded is not None
    assert project([fact], as_of=as_of("2023-02-01"), known_at=fact.recorded).pledges == ()
    later = fact.recorded + dt.timedelta(microseconds=1)
    assert len(project([fact], as_of=as_of("2023-02-01"), known_at=later).pledges) == 1


# ------------------------------------------------------------ laws


@PROPERTY
@given(history=archives(), moment=as_of_points(), known_at=known_at_points(), data=st.data())
def test_recording_order_never_matters(
    history: list[Envelope], moment: dt.datetime, known_at: dt.datetime | None, data: st.DataObject
) -> None:
    """Any permutation of the same envelopes projects to the same state."""
    shuffled = data.draw(st.permutations(history))
    assert project(shuffled, as_of=moment, known_at=known_at) == project(
        history, as_of=moment, known_at=known_at
    )


@PROPERTY
@given(history=histories(), moment=as_of_points(), known_at=known_at_points())
def test_projection_is_deterministic(
    history: list[Envelope], moment: dt.datetime, known_at: dt.datetime | None
) -> None:
    """Projecting twice gives equal states and byte-identical JSON."""
    first = project(history, as_of=moment, known_at=known_at)
    second = project(list(history), as_of=moment, known_at=known_at)
    assert first == second
    assert json.dumps(state_to_json(first)) == json.dumps(state_to_json(second))


@PROPERTY
@given(history=histories(), moment=as_of_points(), known_at=known_at_points())
def test_known_at_sees_exactly_what_was_recorded_before(
    history: list[Envelope], moment: dt.datetime, known_at: dt.datetime | None
) -> None:
    """Projecting as known at T equals projecting only the envelopes recorded before T."""
    assume(known_at is not None)
    assert known_at is not None
    seen = [e for e in history if e.recorded is not None and e.recorded < known_at]
    expected = project(seen, as_of=moment)
    assert project(history, as_of=moment, known_at=known_at) == attrs.evolve(
        expected, known_at=known_at
    )


@PROPERTY
@given(history=histories(min_size=1), moment=as_of_points(), data=st.data())
def test_correction_is_invisible_before_it_was_recorded(
    history: list[Envelope], moment: dt.datetime, data: st.DataObject
) -> None:
    """A correction is invisible before it was recorded, and after it equals the fixed fact."""
    named = {
        ref
        for e in history
        if isinstance(e.event, EventCorrected | EventRetracted)
        for ref in e.event.references().values()
    }
    named_ids = {uuid_int(ref) for ref in named}
    targets = [
        e
        for e in history
        if not isinstance(e.event, EventCorrected | EventRetracted | DossierDeclared)
        and e.key not in named
        and e.id.int not in named_ids
    ]
    assume(targets)
    target = data.draw(st.sampled_from(targets))
    quantity_field = {"quantity": 3} if isinstance(target.event, PledgeAnnounced) else {}
    changes: dict[str, Any] = {"occurred": data.draw(st.sampled_from(["2023-01-10", "2023-W05"]))}
    changes.update(quantity_field)
    last = max(e.recorded for e in history if e.recorded is not None)
    fix = attrs.evolve(
        Envelope.new(
            dossier=target.dossier,
            key="late-correction",
            occurred=Occurred.parse("2023-03-01"),
            event=event_from_dict(
                "event.corrected", 1, {"corrects": target.key, "changes": changes}
            ),
        ),
        recorded=last + dt.timedelta(minutes=1),
    )
    assert fix.recorded is not None
    with_fix = [*history, fix]
    assert project(with_fix, as_of=moment, known_at=fix.recorded) == project(
        history, as_of=moment, known_at=fix.recorded
    )
    payload = {**event_to_dict(target.event), **quantity_field}
    replaced = attrs.evolve(
        target,
        occurred=Occurred.parse(changes["occurred"]),
        event=event_from_dict(target.type, target.schema_version, payload),
    )
    substituted = [replaced if e is target else e for e in history]
    assert project(with_fix, as_of=moment) == project(substituted, as_of=moment)


@PROPERTY
@given(history=histories(min_size=1), data=st.data())
def test_date_as_of_includes_every_event_of_that_day(
    history: list[Envelope], data: st.DataObject
) -> None:
    """As of day D (its exclusive end) every fact starting on D has made a version of
    some item, and none starting later has."""
    fixes = (EventCorrected, EventRetracted)
    named = {
        ref for e in history if isinstance(e.event, fixes) for ref in e.event.references().values()
    }
    named_ids = {uuid_int(ref) for ref in named}
    always_shown = (
        PositionStated,
        PledgeAnnounced,
        RequestFiled,
        PrecedentSet,
        PressureApplied,
        DeliveryReported,
    )
    plain = [
        e
        for e in history
        if isinstance(e.event, always_shown) and e.key not in named and e.id.int not in named_ids
    ]
    assume(plain)
    day = data.draw(st.sampled_from(plain)).occurred.start.date()
    cutoff = Occurred.parse(day.isoformat())
    versions = History(history, known_at=None)
    made = {
        ref
        for chain in versions.chains.values()
        for start, item in chain
        if start < cutoff.end
        for ref in item.events
    }
    for e in plain:
        if cutoff.start <= e.occurred.start < cutoff.end:
            assert Ref.of(e) in made
        if e.occurred.start >= cutoff.end:
            assert Ref.of(e) not in made


@PROPERTY
@given(history=histories(), moment=as_of_points(), known_at=known_at_points())
def test_state_invariants(
    history: list[Envelope], moment: dt.datetime, known_at: dt.datetime | None
) -> None:
    """Coalitions hold the committed actors, totals add up, certainty follows its basis."""
    state = project(history, as_of=moment, known_at=known_at)
    for coalition in state.coalitions:
        committed = {
            p.actor
            for p in state.positions
            if (p.dossier, p.issue) == (coalition.dossier, coalition.issue)
            and p.stance == Stance.COMMITTED
        }
        assert sorted(coalition.committed) == sorted(committed)
    for total in state.totals:
        pledged = [
            p
            for p in state.pledges
            if (p.dossier, p.category) == (total.dossier, total.category) and p.first_announced
        ]
        assert total.pledges == len(pledged)
        assert total.low == sum(p.quantity.low for p in pledged if p.quantity is not None)
        assert total.high == sum(p.quantity.high for p in pledged if p.quantity is not None)
        assert total.unknown == sum(len(p.unknown) for p in pledged)
        delivered = [p.delivered for p in pledged if p.delivered is not None]
        assert total.delivered_low == sum(d.low for d in delivered)
        assert total.delivered_high == sum(d.high for d in delivered)
    for position in state.positions:
        assert position.certain == (position.since.end <= moment)
        assert position.since.start < moment
        assert tuple(sorted(position.pressed_by)) == position.pressed_by
    for name in SECTIONS:
        keys = [item.key for item in state.section(name)]
        assert keys == sorted(set(keys))
    json.dumps(state_to_json(state))


@PROPERTY
@given(history=histories())
def test_codec_round_trip_of_history_events(history: list[Envelope]) -> None:
    """Every generated event survives the codec unchanged."""
    for e in history:
        assert event_from_dict(e.type, e.schema_version, event_to_dict(e.event)) == e.event


@PROPERTY
@given(single=envelopes())
def test_codec_round_trip_of_any_envelope(single: Envelope) -> None:
    """Any single generated envelope's event survives the codec, and its valid time prints back."""
    assert (
        event_from_dict(single.type, single.schema_version, event_to_dict(single.event))
        == single.event
    )
    assert Occurred.parse(str(single.occurred)) == single.occurred


# ------------------------------------------------------------ dependencies


def test_projections_import_only_events_attrs_pendulum_and_stdlib() -> None:
    """The projections package never reaches for the store, SQLAlchemy or the engine."""
    allowed = {"events", "attrs", "pendulum", "projections", "__future__"}
    package = pathlib.Path(__file__).parents[2] / "projections"
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, f"{path.name}: {name}"


def test_requests_of_two_dossiers_with_one_key_stay_apart() -> None:
    """Keys are unique per dossier only: each dossier's "r1" is its own request."""
    from events import Ask, Decision, Envelope, Occurred, RequestDecided, RequestFiled

    def filed(dossier: str) -> Envelope:
        return Envelope.new(
            dossier=dossier,
            key="r1",
            occurred=Occurred.parse("2023-01-02"),
            event=RequestFiled(requester="POL", addressee="DEU", issue="i", ask=Ask.SUPPLY),
        )

    decided = Envelope.new(
        dossier="b",
        key="d1",
        occurred=Occurred.parse("2023-01-03"),
        event=RequestDecided(request="r1", decision=Decision.DENIED, by="DEU"),
    )
    state = project([filed("a"), filed("b"), decided], as_of=as_of("2023-01-31"))
    assert {(r.dossier, r.status) for r in state.requests} == {("a", "open"), ("b", "denied")}
    request = state.request("r1", "b")
    assert request is not None
    assert request.decision == Ref("b", "d1")


def test_a_decision_may_name_its_request_by_id() -> None:
    """A request.decided giving the request's id decides it, as one giving its key does."""
    from events import Ask, Decision, Envelope, Occurred, RequestDecided, RequestFiled

    request = Envelope.new(
        dossier="a",
        key="r1",
        occurred=Occurred.parse("2023-01-02"),
        event=RequestFiled(requester="POL", addressee="DEU", issue="i", ask=Ask.SUPPLY),
    )
    decided = Envelope.new(
        dossier="a",
        key="d1",
        occurred=Occurred.parse("2023-01-03"),
        event=RequestDecided(request=str(request.id), decision=Decision.APPROVED, by="DEU"),
    )
    for order in ([request, decided], [decided, request]):
        found = project(order, as_of=as_of("2023-01-31")).request("r1", "a")
        assert found is not None
        assert found.status == "approved"


# ------------------------------------------------------------ dossiers and versions


def test_each_dossier_keeps_its_own_items() -> None:
    """Two dossiers recording the same pledge hold one item each, never one of twice the size."""
    stories = [
        attrs.evolve(stored("us-abrams", "2023-01-25", pledge("USA", "m1-abrams", 31)), dossier=d)
        for d in ("newsroom", "think-tank")
    ]
    state = project(stories, as_of=as_of("2023-01-31"))
    assert [(p.dossier, p.quantity) for p in state.pledges] == [
        ("newsroom", Quantity(31, 31)),
        ("think-tank", Quantity(31, 31)),
    ]
    assert [(t.dossier, t.low) for t in state.totals] == [("newsroom", 31), ("think-tank", 31)]
    only = project(stories, as_of=as_of("2023-01-31"), where=Filter(dossier="think-tank"))
    assert [p.dossier for p in only.positions] == ["think-tank"]


def test_a_fix_names_events_of_its_own_dossier_only() -> None:
    """A retraction giving the id of another dossier's event names nothing, and changes nothing."""
    fact = stored("us-abrams", "2023-01-25", pledge("USA", "m1-abrams", 31))
    elsewhere = attrs.evolve(
        stored("oops", "2023-02-01", EventRetracted(retracts=str(fact.id), reason="?"), 1),
        dossier="other",
    )
    moment = as_of("2023-02-28")
    assert project([fact, elsewhere], as_of=moment) == project([fact], as_of=moment)


def test_a_version_is_caused_by_the_facts_of_its_valid_start() -> None:
    """Each version names the events that made it; earlier ones stay with earlier versions."""
    events = [
        stored("p1", "2023-01-02", pledge("GBR", "challenger-2", 10)),
        stored("p2", "2023-01-09", pledge("GBR", "challenger-2", 4)),
        stored("p3", "2023-01-09T12:00:00Z", pledge("GBR", "challenger-2", 1)),
    ]
    versions = History(events, known_at=None).versions(
        "pledges", (SEED_DOSSIER, "GBR", "UKR", "challenger-2")
    )
    assert [(v.valid_from.day, v.item.quantity.low, v.item.events) for v in versions] == [
        (2, 10, (seed("p1"),)),
        (9, 14, (seed("p2"),)),
        (9, 15, (seed("p3"),)),
    ]
    assert [v.valid_to for v in versions] == [versions[1].valid_from, versions[2].valid_from, None]


@PROPERTY
@given(history=archives(), known_at=known_at_points(), moments=st.lists(as_of_points(), max_size=4))
def test_the_history_holds_every_state(
    history: list[Envelope], known_at: dt.datetime | None, moments: list[dt.datetime]
) -> None:
    """Any state read from the versions equals the fold up to that time, and every
    version is the item as it stands just after the version begins."""
    versions = History(history, known_at=known_at)
    for moment in moments:
        assert versions.state(moment) == project(history, as_of=moment, known_at=known_at)
    for section, key in list(versions.chains)[:8]:
        for version in versions.versions(section, key):
            moment = version.valid_from + dt.timedelta(microseconds=1)
            found = project(history, as_of=moment, known_at=known_at).section(section)
            assert version.item in found
