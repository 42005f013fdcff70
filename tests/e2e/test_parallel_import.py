"""Large JSON Lines files are decoded by worker processes (`timeline.dossiers.decoding`)
while the import appends: the store ends as one process leaves it, and a bad line is
refused as one process refuses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import edges
from timeline.dossiers import files, importing
from timeline.errors import DossierError
from timeline.interfaces.cli import main
from timeline.store import EventStore

SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _import(url: str, path: Path, batch: int, *, parallel: bool) -> importing.Report:
    """`timeline import`, its JSON Lines decoded by two workers or by this process."""
    store = EventStore.open(url)
    try:
        with store.appending() as session:
            size = 0 if parallel else 2**62
            work = importing.Import(session, batch, workers=2, parallel_from=size)
            return work.run([path])
    finally:
        store.engine.dispose()


def _facts(url: str, dossier: str) -> list[tuple[Any, ...]]:
    store = EventStore.open(url)
    found = [
        (e.id, e.key, e.type, e.event, e.occurred, e.sources)
        for e in store.read_all(dossier=dossier)
        if e.type != "dossier.declared"
    ]
    store.engine.dispose()
    return found


@SETTINGS
@given(data=st.data())
def test_workers_store_what_reading_the_file_gives(
    fresh_url: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """A drawn dossier (several per database, reusing keys and codes; texts full of tabs,
    backslashes and line separators), in batches of a drawn size: the store holds the
    file's events in its order, as reading it whole gives them; imported again, every
    event is already present."""
    count = edges.example(fresh_url)
    name = f"parallel-{count:03d}"
    dossier = data.draw(edges.dossiers(name))
    path = edges.write(dossier, tmp_path_factory.mktemp("parallel"), "jsonl")
    batch = data.draw(st.integers(1, 6), label="batch")
    report = _import(fresh_url, path, batch, parallel=True)
    expected = files.read_file(path).envelopes
    assert report.appended == {name: len(expected)}
    assert _facts(fresh_url, name) == [
        (e.id, e.key, e.type, e.event, e.occurred, e.sources) for e in expected
    ]
    again = _import(fresh_url, path, batch, parallel=True)
    assert (again.appended, again.unchanged) == ({name: 0}, {name: len(expected)})


def _bad_code(events: list[dict[str, Any]], at: int) -> None:
    events[at] |= {"issue": "no-such-issue"} if "issue" in events[at] else {"type": "no.such"}


def _bad_date(events: list[dict[str, Any]], at: int) -> None:
    events[at]["occurred"] = "the day after"


def _repeated_key(events: list[dict[str, Any]], at: int) -> None:
    events[at]["key"] = events[at - 1]["key"] if at else events[1]["key"]


def _bad_reference(events: list[dict[str, Any]], at: int) -> None:
    fix = next(e for e in events if e["type"] == "event.corrected")
    fix["corrects"] = events[at]["key"] + "-nowhere"


def _bad_correction(events: list[dict[str, Any]], at: int) -> None:
    fix = next(e for e in events if e["type"] == "event.corrected")
    fix["changes"] = {"quantity": -1}


@SETTINGS
@given(
    data=st.data(),
    spoil=st.sampled_from([_bad_code, _bad_date, _repeated_key, _bad_reference, _bad_correction]),
)
def test_a_bad_line_is_refused_as_one_process_refuses_it(
    fresh_url: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, spoil: Any
) -> None:
    """One event spoiled (a code, a date, a key used twice, a reference to nothing, a
    correction that breaks its target): the same error, at the same line, field and key,
    from the workers as from one process; the store is left as it was."""
    count = edges.example(fresh_url)
    dossier = data.draw(edges.dossiers(f"refused-{count:03d}"))
    events = dossier["events"]
    spoil(events, data.draw(st.integers(0, len(events) - 1), label="at"))
    path = edges.write(dossier, tmp_path_factory.mktemp("refused"), "jsonl")
    batch = data.draw(st.integers(1, 6), label="batch")
    before = EventStore.open(fresh_url).head()
    refusals = []
    for parallel in (True, False):
        with pytest.raises(DossierError) as refused:
            _import(fresh_url, path, batch, parallel=parallel)
        error = refused.value
        refusals.append((error.file, error.line, error.key, error.field, error.expected))
        assert EventStore.open(fresh_url).head() == before
    assert refusals[0] == refusals[1]


def test_an_earlier_error_comes_before_text_that_is_not_utf8(
    fresh_url: str, tmp_path: Path
) -> None:
    """The importer reads lines ahead for the workers; bytes that are not UTF-8 there
    still wait for the error of an earlier line, as in one process, which never reads
    that far (a batch of 50 lines of 200 bytes, the bad bytes in the third)."""
    dossier = {
        "dossier": "unreadable",
        "title": "Bytes that are not text",
        "issues": {"tanks": "Tanks"},
        "sources": {"s": {"publisher": "Wire", "published": "2023-01-25"}},
    }
    events = [
        {
            "key": f"e{number}",
            "type": "position.stated",
            "occurred": "2023-01-25",
            "actor": "DEU",
            "issue": "tanks" if number != 3 else "no-such-issue",
            "stance": "opposed",
            "sources": [{"cite": "s", "quote": "no " * 20}],
        }
        for number in range(200)
    ]
    path = edges.write({**dossier, "events": events}, tmp_path, "jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:120], b'{"key": "\xff"}\n', *lines[120:]]))
    assert main(["init", "--db", fresh_url]) == 0
    refusals = []
    for parallel in (True, False):
        with pytest.raises(DossierError) as refused:
            _import(fresh_url, path, 50, parallel=parallel)
        refusals.append((refused.value.line, refused.value.field))
    assert refusals == [(5, "issue"), (5, "issue")]  # the header, then e0..e3
