"""Dossiers kept over months in several files: a follow-up file resolves its codes
against everything the dossier declared, and a header that changes a declaration says so."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import edges
from tests.e2e.test_import_errors import GOOD_EVENTS, HEADER
from timeline.interfaces.cli import main
from timeline.store import EventStore

FOLLOW_UP = """\
dossier: test-dossier
events:
  - key: deu-approves-fix
    type: event.corrected
    occurred: 2023-01-27
    corrects: deu-approves
    changes: {occurred: 2023-01-26}
    sources: [{publisher: Wire, published: 2023-01-27, quote: "a day later"}]
  - key: deu-pledge
    type: pledge.announced
    occurred: 2023-01-25
    donor: DEU
    recipient: UKR
    issue: tanks
    item: leopard-2
    quantity: 14
    sources: [{publisher: Wire, published: 2023-01-25, quote: "14 tanks"}]
"""

REDEFINED = """\
dossier: test-dossier
items:
  leopard-2: {name: Leopard 2, category: heavy-armour}
  f-16: {name: F-16, category: fighter-jet}
events:
  - key: nld-f16
    type: pledge.announced
    occurred: 2023-08-20
    donor: NLD
    recipient: UKR
    issue: tanks
    item: f-16
    quantity: 42
    sources: [{publisher: Wire, published: 2023-08-20, quote: "42 jets"}]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _totals(url: str, capsys: pytest.CaptureFixture[str], *known_at: str) -> dict[str, int]:
    capsys.readouterr()
    extra = ["--known-at", known_at[0]] if known_at else []
    command = ["state", "--db", url, "--as-of", "2023-12-31", "--format", "json", *extra]
    assert main([*command, "--section", "totals"]) == 0
    return {t["category"]: t["low"] for t in json.loads(capsys.readouterr().out)["totals"]}


def test_a_follow_up_file_needs_no_header(
    fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--db", fresh_url]) == 0
    assert (
        main(["import", "--db", fresh_url, str(_write(tmp_path, "a.yaml", HEADER + GOOD_EVENTS))])
        == 0
    )
    capsys.readouterr()
    assert main(["import", "--db", fresh_url, str(_write(tmp_path, "b.yaml", FOLLOW_UP))]) == 0
    out = capsys.readouterr().out
    assert "test-dossier: 2 appended, 0 already present" in out
    assert "declares" not in out  # nothing declared anew, no declaration appended
    assert _totals(fresh_url, capsys) == {"main-battle-tank": 14}


def test_a_header_that_redefines_a_code_is_reported_and_takes_effect(
    fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later header's category wins from the time it is recorded; before, the old one."""
    assert main(["init", "--db", fresh_url]) == 0
    first = _write(tmp_path, "a.yaml", HEADER + GOOD_EVENTS)
    assert (
        main(["import", "--db", fresh_url, str(first), str(_write(tmp_path, "b.yaml", FOLLOW_UP))])
        == 0
    )
    before = _totals(fresh_url, capsys)
    capsys.readouterr()
    moment = dt.datetime.now(dt.UTC).isoformat()
    redefined = _write(tmp_path, "c.yaml", REDEFINED)
    assert main(["import", "--db", fresh_url, str(redefined)]) == 0
    out = capsys.readouterr().out
    assert "the header declares new item 'f-16'" in out
    assert "item 'leopard-2': 'Leopard 2' (main-battle-tank) -> 'Leopard 2' (heavy-armour)" in out
    assert _totals(fresh_url, capsys) == {"heavy-armour": 14, "fighter-jet": 42}
    assert _totals(fresh_url, capsys, moment) == before == {"main-battle-tank": 14}
    capsys.readouterr()
    assert main(["import", "--db", fresh_url, str(redefined)]) == 0
    again = capsys.readouterr().out
    assert "0 appended, 1 already present" in again
    assert "declares" not in again


def test_a_new_dossier_needs_a_title(
    fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--db", fresh_url]) == 0
    path = _write(tmp_path, "new.yaml", FOLLOW_UP)
    capsys.readouterr()
    assert main(["import", "--db", fresh_url, str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{path}:1, field 'title'" in err


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_dossier_split_into_follow_up_files_stores_what_the_whole_file_does(
    fresh_url: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Cut at random points into a first file and follow-ups (each header left out or
    repeating part of the first), imported one call after another, in either format:
    the same events as the whole file imported at once. Several dossiers per database
    reuse keys and codes."""
    count = edges.example(fresh_url)
    dossier = data.draw(edges.dossiers(f"split-{count:03d}"))
    folder = tmp_path_factory.mktemp("split")
    events = dossier["events"]
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(events) - 1, 1)), max_size=3)))
    parts = [events[a:b] for a, b in itertools.pairwise([0, *cuts, len(events)])]
    header = {k: v for k, v in dossier.items() if k != "events"}
    for number, part in enumerate(parts):
        kept = data.draw(st.sets(st.sampled_from(["title", "actors", "items", "issues"])))
        follow = {"dossier": header["dossier"], **{k: header[k] for k in kept}}
        part_header = header if number == 0 else {**follow, "sources": header["sources"]}
        form = data.draw(st.sampled_from(["yaml", "jsonl"]))
        (target := folder / f"part-{number}").mkdir()
        path = edges.write({**part_header, "events": part}, target, form)
        assert main(["import", "--db", fresh_url, str(path)]) == 0
    whole = f"sqlite:///{folder / 'whole.db'}"
    assert main(["init", "--db", whole]) == 0
    assert main(["import", "--db", whole, str(edges.write(dossier, folder, "jsonl"))]) == 0
    assert _content(fresh_url, header["dossier"]) == _content(whole, header["dossier"])


def _content(url: str, dossier: str) -> list[tuple[str, str, str, str, str]]:
    store = EventStore.open(url)
    found = [
        (e.key, e.type, repr(e.event), str(e.occurred), repr(e.sources))
        for e in store.read_all(dossier=dossier)
    ]
    store.engine.dispose()
    return found
