"""The fixes the projector holds, kept page by page, against working them out at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Envelope, EventCorrected, EventRetracted
from projections.record import FIXES, reference, standing
from projections.refs import Resolver
from tests.strategies import archives, split
from timeline.readmodels.records import Records

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _fixed(draw: st.DrawFn) -> list[Envelope]:
    """A history whose fixes name facts and fixes alike: retractions of corrections and of
    retractions among them, besides those the archives draw, each recorded anywhere,
    before what it names as well (the projector resolves it when that comes)."""
    history = draw(archives(max_size=20))
    fixes = [e for e in history if isinstance(e.event, FIXES)]
    for number, fix in enumerate(fixes):
        if draw(st.booleans()):
            retraction = EventRetracted(retracts=fix.key, reason="in error")
            undo = Envelope.new(
                dossier=fix.dossier, key=f"undo-{number}", occurred=fix.occurred, event=retraction
            )
            history.insert(draw(st.integers(0, len(history))), undo)
    return history


@PROPERTY
@given(data=st.data())
def test_fixes_kept_batch_by_batch_stand_as_all_of_them_at_once(data: st.DataObject) -> None:
    """Whatever the batches, the standing fixes the projector keeps are those worked out
    from every fix at the end (`projections.record.standing`), and the changes it reported
    leave each fact with the view that standing gives it."""
    history = data.draw(_fixed())
    records, seen = Records(), Resolver[Envelope]()
    views: dict[int, Envelope | None] = {}
    for batch in data.draw(split(history)):
        for envelope in batch:
            seen.add(envelope, envelope)

        def find(dossier: str, names: Iterable[str]) -> Mapping[str, Envelope]:
            found = {name: seen(dossier, name) for name in names}
            return {name: e for name, e in found.items() if e is not None}

        for dossier in sorted({e.dossier for e in batch}):
            record = records.of(dossier)
            events = [e for e in batch if e.dossier == dossier]
            for old, new in record.resolve_pending(events, find) + record.add(events, find):
                subject = new or old
                assert subject is not None
                views[subject.id.int] = new
    every = Resolver((e, e) for e in history)
    for dossier, record in records.dossiers.items():
        fixes = [e for e in history if e.dossier == dossier and isinstance(e.event, FIXES)]
        expected = standing(fixes, lambda fix: every(fix.dossier, reference(fix)))
        assert record.standing == expected
        for envelope in history:
            if envelope.dossier == dossier and envelope.id.int in views:
                assert views[envelope.id.int] == expected.view(envelope)


def test_a_correction_retracted_later_gives_the_fact_back() -> None:
    """A correction of a fact, then a retraction of the correction: the second takes the
    way round every fix (it names a fix), and the fact is back as it was."""
    from events import Occurred, PositionStated, Stance

    fact = Envelope.new(
        dossier="d",
        key="a",
        occurred=Occurred.parse("2023-01-10"),
        event=PositionStated(actor="DEU", issue="i", stance=Stance.SUPPORTIVE),
    )
    fix = Envelope.new(
        dossier="d",
        key="fix",
        occurred=Occurred.parse("2023-01-11"),
        event=EventCorrected.of("a", {"stance": "opposed"}),
    )
    undo = Envelope.new(
        dossier="d",
        key="undo",
        occurred=Occurred.parse("2023-01-12"),
        event=EventRetracted(retracts="fix", reason="in error"),
    )
    by_key = {e.key: e for e in (fact, fix, undo)}

    def find(dossier: str, names: Iterable[str]) -> Mapping[str, Envelope]:
        return {name: by_key[name] for name in names if name in by_key}

    record = Records().of("d")
    record.add([fact], find)
    ((before, after),) = record.add([fix], find)
    assert before == fact
    assert after is not None
    assert after.event != fact.event
    ((before, after),) = record.add([undo], find)
    assert after == fact
