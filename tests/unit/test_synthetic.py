"""The synthetic history generator: reproducible, realistic in shape, valid, lazy."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from events import (
    REGISTRY,
    DossierDeclared,
    Envelope,
    EventCorrected,
    EventRetracted,
    Occurred,
    PledgeAnnounced,
    PositionStated,
    RequestFiled,
)
from events.codec import event_from_dict, event_to_dict, source_from_dict, source_to_dict
from projections import project
from tests.synthetic import DECLARATION_KEY, batches, declaration, history
from timeline.dossiers import files as dossier_files
from timeline.dossiers.files import ANY_ALLY
from timeline.store import EventStore

FIXES = (EventCorrected, EventRetracted)
FAR_FUTURE = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
LATE = dt.timedelta(days=7)


def fingerprint(envelope: Envelope) -> tuple[Any, ...]:
    """Everything the caller of the store gives, in comparable form."""
    return (
        envelope.id,
        envelope.key,
        envelope.dossier,
        envelope.type,
        str(envelope.occurred),
        json.dumps(event_to_dict(envelope.event), sort_keys=True),
        [source_to_dict(source) for source in envelope.sources],
    )


def late_share(envelopes: list[Envelope]) -> float:
    """Share of events whose valid time ended a week before the latest start seen so far."""
    latest = envelopes[0].occurred.start
    late = 0
    for envelope in envelopes:
        if envelope.occurred.end < latest - LATE:
            late += 1
        latest = max(latest, envelope.occurred.start)
    return late / len(envelopes)


def facts(envelopes: list[Envelope]) -> list[Envelope]:
    return [e for e in envelopes if not isinstance(e.event, DossierDeclared)]


def test_same_seed_same_history() -> None:
    """The same seed gives the same ids and payloads; another seed gives another history."""
    first = [fingerprint(e) for e in history(3000, seed=11, dossiers=2)]
    again = [fingerprint(e) for e in history(3000, seed=11, dossiers=2)]
    other = [fingerprint(e) for e in history(3000, seed=12, dossiers=2)]
    assert first == again
    assert len(first) == 3002
    assert first[2:] != other[2:]
    assert first[:2] == other[:2]  # declarations do not depend on the seed


def test_declarations_come_first_and_declare_every_code() -> None:
    """Declarations come first, one per dossier, naming actors, coalitions, items, issues."""
    envelopes = list(itertools.islice(history(5, dossiers=3, actors=12, issues=4, items=7), 3))
    assert [e.dossier for e in envelopes] == ["synthetic-01", "synthetic-02", "synthetic-03"]
    assert all(e.key == DECLARATION_KEY for e in envelopes)
    declared = envelopes[0].event
    assert isinstance(declared, DossierDeclared)
    assert declared == declaration("synthetic-01", actors=12, issues=4, items=7).event
    assert [code for code, _ in declared.actors][:2] == ["A001", "A002"]
    assert "C01" in dict(declared.actors)
    assert len(declared.items) == 7
    assert len(declared.issues) == 4
    assert {category for _, _, category in declared.items} >= {"main-battle-tank", "training"}


@pytest.mark.parametrize("late_fraction", [0.0, 0.05, 0.2])
def test_proportions_are_realistic(late_fraction: float) -> None:
    """Statements, positions and pledges dominate, every type occurs, and late events match."""
    envelopes = facts(list(history(10_000, seed=3, late_fraction=late_fraction)))
    counts = collections.Counter(e.type for e in envelopes)
    share = {name: counts[name] / len(envelopes) for name in REGISTRY}
    top = ("statement.issued", "position.stated", "pledge.announced")
    assert sum(share[name] for name in top) > 0.6
    rest = set(REGISTRY) - set(top)
    assert min(share[name] for name in top) > max(share[name] for name in rest)
    assert set(counts) == set(REGISTRY) - {DossierDeclared.type}
    assert share[EventCorrected.type] == pytest.approx(0.01, abs=0.004)
    assert share[EventRetracted.type] == pytest.approx(0.005, abs=0.003)
    assert late_share(envelopes) == pytest.approx(late_fraction, abs=0.015)


def test_valid_time_advances_with_recording() -> None:
    """About a day passes per few dozen events, in every precision a dossier takes."""
    envelopes = facts(list(history(3000, seed=5, start="2021-06-01", late_fraction=0)))
    first, last = envelopes[0].occurred.start, envelopes[-1].occurred.start
    assert first.date() == dt.date(2021, 6, 1)
    assert 50 <= (last - first).days <= 200
    precisions = collections.Counter(str(e.occurred.precision) for e in envelopes)
    assert set(precisions) == {"instant", "day", "week", "month", "span"}
    assert precisions["instant"] + precisions["day"] > 0.7 * len(envelopes)


def test_every_reference_resolves_to_an_earlier_event_of_its_dossier() -> None:
    """Requests, precedents, corrections, retractions and codes all name what came before."""
    seen: dict[str, dict[str, Envelope]] = {}
    codes: dict[str, dict[str, set[str]]] = {}
    for envelope in history(5000, seed=7, dossiers=3, actors=40, issues=5, items=9):
        event = envelope.event
        if isinstance(event, DossierDeclared):
            codes[envelope.dossier] = {
                "actors": {code for code, _ in event.actors} | {ANY_ALLY},
                "items": {code for code, _, _ in event.items},
                "issues": {code for code, _ in event.issues},
            }
            seen[envelope.dossier] = {}
            continue
        earlier, known = seen[envelope.dossier], codes[envelope.dossier]
        for field, reference in event.references().items():
            target = earlier[reference]
            expected = {"request": RequestFiled, "by": PledgeAnnounced}.get(field)
            if expected is not None:
                assert isinstance(target.event, expected)
            else:
                assert not isinstance(target.event, FIXES)
        assert event.named_actors() <= known["actors"]
        if isinstance(event, PositionStated) and event.condition is not None:
            assert event.condition.actor in known["actors"]
            assert event.condition.item in known["items"] | {None}
        assert getattr(event, "item", None) in known["items"] | {None}
        assert getattr(event, "issue", None) in known["issues"] | {None}
        assert envelope.key not in earlier
        earlier[envelope.key] = envelope


def test_retractions_never_target_the_same_event_twice() -> None:
    """Each retraction names a different fact, never a correction or another retraction."""
    envelopes = facts(list(history(20_000, seed=9, retraction_fraction=0.05)))
    by_key = {e.key: e for e in envelopes}
    retracted = [e.event.retracts for e in envelopes if isinstance(e.event, EventRetracted)]
    assert len(retracted) > 500
    assert len(retracted) == len(set(retracted))
    assert not any(isinstance(by_key[key].event, FIXES) for key in retracted)


def test_corrections_leave_their_targets_valid() -> None:
    """Applying a correction's changes to its target gives an event the codec accepts."""
    envelopes = facts(list(history(5000, seed=4, correction_fraction=0.1)))
    by_key = {e.key: e for e in envelopes}
    corrections = [e.event for e in envelopes if isinstance(e.event, EventCorrected)]
    assert len(corrections) > 300
    for correction in corrections:
        target = by_key[correction.corrects]
        changes = correction.new_values()
        if "occurred" in changes:
            Occurred.parse(changes.pop("occurred"))
        payload = {**event_to_dict(target.event), **changes}
        assert event_from_dict(target.type, target.schema_version, payload).type == target.type


def test_every_event_round_trips_through_the_codec() -> None:
    """Payloads, dates and sources read back equal to what was generated."""
    for envelope in history(3000, seed=2, dossiers=2):
        event = envelope.event
        assert event_from_dict(event.type, event.schema_version, event_to_dict(event)) == event
        assert Occurred.parse(str(envelope.occurred)) == envelope.occurred
        assert all(source_from_dict(source_to_dict(s)) == s for s in envelope.sources)


def test_the_importer_accepts_the_history_as_dossier_files(tmp_path: Path) -> None:
    """Written as JSON Lines files, the history passes every check `timeline import` makes."""
    envelopes = list(history(3000, seed=8, dossiers=2, actors=50))
    paths = []
    for declared in (e for e in envelopes if isinstance(e.event, DossierDeclared)):
        assert isinstance(declared.event, DossierDeclared)
        header = {
            "dossier": declared.dossier,
            "title": declared.event.title,
            "actors": dict(declared.event.actors),
            "items": {c: {"name": n, "category": k} for c, n, k in declared.event.items},
            "issues": dict(declared.event.issues),
        }
        lines = [json.dumps(header)]
        for envelope in facts(envelopes):
            if envelope.dossier == declared.dossier:
                record = {
                    "key": envelope.key,
                    "type": envelope.type,
                    "occurred": str(envelope.occurred),
                    "sources": [source_to_dict(s) for s in envelope.sources],
                    **event_to_dict(envelope.event),
                }
                lines.append(json.dumps(record))
        path = tmp_path / f"{declared.dossier}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    files = [dossier_files.read_file(path) for path in paths]
    dossier_files.resolve(files, None)
    imported = {e.id: e for f in files for e in f.envelopes}
    assert len(imported) == 3000
    assert all(e.same_fact(imported[e.id]) for e in facts(envelopes))


def test_the_generator_is_lazy() -> None:
    """The first ten events of a billion-event history come at once."""
    began = time.perf_counter()
    first = list(itertools.islice(history(10**9, seed=1), 10))
    assert time.perf_counter() - began < 2
    assert [e.key for e in first[1:]] == [f"e{n:08d}" for n in range(1, 10)]


def test_bad_arguments_fail_at_the_call() -> None:
    """Impossible sizes and fractions raise before anything is iterated."""
    with pytest.raises(ValueError, match="actors >= 2"):
        history(10, actors=1)
    with pytest.raises(ValueError, match="fractions"):
        history(10, late_fraction=1.5)
    with pytest.raises(ValueError, match="batch size"):
        next(batches([], 0))


def test_batches_group_consecutive_envelopes_by_dossier() -> None:
    """Batches hold `size` envelopes each, split by dossier, in the order generated."""
    envelopes = list(history(95, seed=6, dossiers=3))
    grouped = list(batches(envelopes, 20))
    assert [sum(map(len, b.values())) for b in grouped] == [20, 20, 20, 20, 18]
    for batch in grouped:
        assert all(e.dossier == name for name, batch_of in batch.items() for e in batch_of)
    for name in ("synthetic-01", "synthetic-02", "synthetic-03"):
        regrouped = [e for b in grouped for e in b.get(name, [])]
        assert regrouped == [e for e in envelopes if e.dossier == name]


def test_a_generated_history_appends_and_projects(store: EventStore) -> None:
    """2,000 generated events append in batches and project to positions, pledges and totals."""
    for batch in batches(history(2000, seed=10), 500):
        store.append_batches(batch)
    assert store.head() == 2001
    state = project(store.read_all(), as_of=FAR_FUTURE)
    sections = ("positions", "pledges", "totals", "requests", "precedents", "pressure")
    assert [name for name in sections if not getattr(state, name)] == []
