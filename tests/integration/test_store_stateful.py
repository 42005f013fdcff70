"""The store against a plain list: hypothesis drives random appends and reads.

A `RuleBasedStateMachine` keeps the events it expects in a Python list and
after every step checks the store holds exactly those, with positions 1..head
and versions 1..n per dossier. The machine is built per backend around the
`engine` fixture, and each run starts from an emptied events table.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import Engine

from events import (
    Envelope,
    Event,
    Occurred,
    PositionStated,
    PressureApplied,
    Stance,
    StatementIssued,
    Tone,
)
from timeline.errors import ConcurrencyError, DuplicateEvent
from timeline.store import EventStore
from timeline.store.schema import events as events_table

DOSSIERS = ("a", "b", "c")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
OCCURRED = ("2023-01-25", "2023-W03", "2023-01", "2023", "2023-01-01/2023-01-24")
EVENTS: tuple[Event, ...] = (
    StatementIssued(actor="NATO", tone=Tone.SUPPORTIVE, summary="welcomes"),
    PressureApplied(actors=("POL", "GBR"), target="DEU", issue="mbt"),
    PositionStated(actor="USA", issue="mbt", stance=Stance.RELUCTANT),
)

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def unstored(envelope: Envelope) -> Envelope:
    return attrs.evolve(envelope, recorded=None, position=None, version=None)


def make_machine(engine: Engine) -> type[RuleBasedStateMachine]:
    """A state machine class bound to `engine`'s database."""

    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with engine.begin() as conn:
                conn.execute(sa.delete(events_table))
            self.now = T0
            self.store = EventStore(engine, clock=lambda: self.now, page_size=4)
            self.model: list[Envelope] = []
            self.serial = 0

        # -- the model ---------------------------------------------------------

        def version(self, dossier: str) -> int:
            return sum(1 for e in self.model if e.dossier == dossier)

        def fresh(self, dossier: str, occurred: str, event: Event) -> Envelope:
            self.serial += 1
            return Envelope.new(
                dossier=dossier,
                key=f"{dossier}-{self.serial}",
                occurred=Occurred.parse(occurred),
                event=event,
            )

        def expect(self, batch: list[Envelope]) -> list[Envelope]:
            """What the store should return for a batch of new events, and remember it."""
            last = self.model[-1].recorded if self.model else None
            recorded = max(self.now, last) if last is not None else self.now
            stored = []
            for envelope in batch:
                stored.append(
                    attrs.evolve(
                        envelope,
                        position=len(self.model) + 1,
                        version=self.version(envelope.dossier) + 1,
                        recorded=recorded,
                    )
                )
                self.model.append(stored[-1])
            return stored

        # -- rules -------------------------------------------------------------

        @rule(hours=st.integers(-48, 48))
        def clock_moves(self, hours: int) -> None:
            """The wall clock jumps, backwards too."""
            self.now += dt.timedelta(hours=hours)

        @rule(
            dossier=st.sampled_from(DOSSIERS),
            occurred=st.lists(st.sampled_from(OCCURRED), min_size=1, max_size=3),
            event=st.sampled_from(EVENTS),
            with_expected=st.booleans(),
            old=st.integers(0, 2),
        )
        def append_new(
            self, dossier: str, occurred: list[str], event: Event, with_expected: bool, old: int
        ) -> None:
            """New events (with up to `old` stored ones mixed in) get the next positions."""
            batch = [self.fresh(dossier, o, event) for o in occurred]
            stored_here = [unstored(e) for e in self.model if e.dossier == dossier]
            batch = stored_here[-old:] + batch if old and stored_here else batch
            expected = self.version(dossier) if with_expected else None
            result = self.store.append(dossier, batch, expected_version=expected)
            assert list(result) == self.expect([e for e in batch if e not in stored_here])

        @rule(first=st.sampled_from(DOSSIERS), second=st.sampled_from(DOSSIERS))
        def append_to_two_dossiers(self, first: str, second: str) -> None:
            """append_batches with the right expected versions writes both batches."""
            batches = {first: [self.fresh(first, "2023", EVENTS[0])]}
            batches.setdefault(second, []).append(self.fresh(second, "2023-01", EVENTS[1]))
            expected = {d: self.version(d) for d in batches}
            result = self.store.append_batches(batches, expected)
            assert list(result) == self.expect([e for batch in batches.values() for e in batch])

        @rule(dossier=st.sampled_from(DOSSIERS), delta=st.sampled_from([-2, -1, 1, 3]))
        def append_with_wrong_expected_version(self, dossier: str, delta: int) -> None:
            """A wrong expected_version raises ConcurrencyError and changes nothing."""
            expected = self.version(dossier) + delta
            if expected < 0:
                expected = self.version(dossier) + 1
            batch = [self.fresh(dossier, "2023", EVENTS[0])]
            with pytest.raises(ConcurrencyError) as caught:
                self.store.append(dossier, batch, expected_version=expected)
            err = caught.value
            assert (err.dossier, err.expected, err.actual) == (
                dossier,
                expected,
                self.version(dossier),
            )

        @precondition(lambda self: self.model)
        @rule(data=st.data(), with_expected=st.booleans())
        def reappend_stored(self, data: st.DataObject, with_expected: bool) -> None:
            """Re-appending a stored event, as given or as stored, is a no-op."""
            envelope = data.draw(st.sampled_from(self.model))
            given = data.draw(st.sampled_from([envelope, unstored(envelope)]))
            expected = self.version(envelope.dossier) if with_expected else None
            assert self.store.append(envelope.dossier, [given], expected_version=expected) == ()

        @precondition(lambda self: self.model)
        @rule(data=st.data(), change=st.sampled_from(["occurred", "event", "key"]))
        def reappend_changed(self, data: st.DataObject, change: str) -> None:
            """A stored id with changed content raises DuplicateEvent and changes nothing."""
            envelope = unstored(data.draw(st.sampled_from(self.model)))
            if change == "occurred":
                other = Occurred.parse("1999-12-31")
                changed = attrs.evolve(envelope, occurred=other)
            elif change == "event":
                note = StatementIssued(actor="XXX", tone=Tone.CRITICAL, summary="changed")
                changed = attrs.evolve(envelope, event=note)
            else:
                changed = attrs.evolve(envelope, id=uuid.uuid4())  # same key, new id
            with pytest.raises(DuplicateEvent) as caught:
                self.store.append(envelope.dossier, [changed])
            assert caught.value.dossier == envelope.dossier
            assert caught.value.key == envelope.key

        @rule(data=st.data())
        def read_all_after(self, data: st.DataObject) -> None:
            """read_all after any position yields the model's tail, in order."""
            after = data.draw(st.integers(0, len(self.model) + 2))
            assert list(self.store.read_all(after=after)) == self.model[after:]

        @rule(dossier=st.sampled_from(DOSSIERS), data=st.data())
        def read_dossier_from(self, dossier: str, data: st.DataObject) -> None:
            """read_dossier from any version, and the dossier filter, match the model."""
            mine = [e for e in self.model if e.dossier == dossier]
            start = data.draw(st.integers(1, len(mine) + 2))
            assert list(self.store.read_dossier(dossier, from_version=start)) == mine[start - 1 :]
            assert list(self.store.read_all(dossier=dossier)) == mine
            assert self.store.version(dossier) == len(mine)

        # -- invariants ----------------------------------------------------------

        @invariant()
        def store_equals_model(self) -> None:
            assert self.store.head() == len(self.model)
            assert list(self.store.read_all()) == self.model

        @invariant()
        def positions_have_no_gaps(self) -> None:
            positions = [e.position for e in self.store.read_all()]
            assert positions == list(range(1, self.store.head() + 1))

        @invariant()
        def versions_count_per_dossier(self) -> None:
            for dossier in DOSSIERS:
                versions = [e.version for e in self.store.read_dossier(dossier)]
                assert versions == list(range(1, len(versions) + 1))

        @invariant()
        def recorded_never_decreases(self) -> None:
            recorded = [e.recorded for e in self.model]
            assert all(r is not None for r in recorded)
            assert recorded == sorted(recorded)  # type: ignore[type-var]

    return StoreMachine


def test_store_behaves_like_a_list(engine: Engine) -> None:
    """Random sequences of appends, conflicts, re-appends and reads agree with a list model."""
    run_state_machine_as_test(make_machine(engine), settings=SETTINGS)
