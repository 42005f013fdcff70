"""What the import accepts at the edges of its limits, every read can show, on both backends."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Occurred
from projections import project
from tests import edges
from tests.e2e.test_import_errors import HEADER
from timeline.interfaces.cli import main
from timeline.readmodels.reader import Reader
from timeline.store import EventStore
from timeline.store.database import create_engine
from timeline.store.schema import NAME_LENGTH


def _pledge(key: str, occurred: str, quantity: int, donor: str = "DEU") -> str:
    return (
        f"  - key: {key}\n    type: pledge.announced\n    occurred: {occurred}\n"
        f"    donor: {donor}\n    recipient: UKR\n    issue: tanks\n    item: leopard-2\n"
        f"    quantity: {quantity}\n"
        '    sources:\n      - {cite: cnn, quote: "a quote"}\n'
    )


def test_sums_beyond_one_sources_limit_are_read(
    fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One source gives at most 1,000,000,000 units; pledges may add up to more, and
    every read shows the sum."""
    top = 1_000_000_000
    text = HEADER.replace("category: main-battle-tank", "category: " + "c" * 200) + "".join(
        [
            _pledge("a", "2023-01-24", top),
            _pledge("b", "2023-01-25", top),
            _pledge("c", "9998-12-31", top, donor="FRA"),
        ]
    )
    path = tmp_path / "edges.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["init", "--db", fresh_url]) == 0
    assert main(["import", "--db", fresh_url, str(path)]) == 0
    assert main(["project", "--db", fresh_url]) == 0
    capsys.readouterr()
    assert main(["state", "--db", fresh_url, "--as-of", "9999-01-01", "--format", "json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert {(p["donor"], p["quantity"]) for p in state["pledges"]} == {
        ("DEU", 2 * top),
        ("FRA", top),
    }
    assert [(t["low"], t["high"]) for t in state["totals"]] == [(3 * top, 3 * top)]
    for command in (
        ["state", "--db", fresh_url, "--as-of", "2023-01-26"],
        ["diff", "--db", fresh_url, "--from", "2023-01-23", "--to", "9999-01-01"],
        ["log", "--db", fresh_url],
    ):
        assert main(command) == 0, command
    assert "2000000000" in capsys.readouterr().out


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_whatever_the_import_accepts_every_read_shows(
    fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    """Files at the edge of every limit, several in one database reusing keys and codes:
    once imported, every command reads them, text shows no raw escape, the JSON log
    holds every key as written, and the read models equal the pure projection."""
    count = edges.example(fresh_url)
    name = data.draw(edges.codes())[: NAME_LENGTH - 4] + f"-{count:03d}"
    dossier = data.draw(edges.dossiers(name))
    path = edges.write(dossier, tmp_path, data.draw(st.sampled_from(["yaml", "jsonl"])))
    before = dt.datetime.now(dt.UTC)
    capsys.readouterr()
    assert main(["import", "--db", fresh_url, str(path)]) == 0, capsys.readouterr().err
    assert main(["project", "--db", fresh_url]) == 0
    first, last = edges.FIRST_DAY, edges.LAST_DAY
    for form in ("text", "json"):
        for command in (
            ["state", "--as-of", last],
            ["state", "--as-of", first, "--dossier", name],
            ["diff", "--from", first, "--to", last, "--dossier", name],
            ["log", "--retracted"],
            ["log", "--raw", "--dossier", name],
        ):
            capsys.readouterr()
            assert main([*command, "--db", fresh_url, "--format", form]) == 0, command
            shown = capsys.readouterr()
            assert not shown.err, (command, shown.err)
            if form == "text":
                assert "\x1b" not in shown.out, command
    assert main(["log", "--raw", "--dossier", name, "--db", fresh_url, "--format", "json"]) == 0
    logged = json.loads(capsys.readouterr().out)
    assert {e["key"] for e in logged["events"]} >= {e["key"] for e in dossier["events"]}
    store = EventStore(create_engine(fresh_url))
    events, reader = list(store.read_all()), Reader(store)
    for as_of in (first, "2023-01-25", last):
        moment = Occurred.parse(as_of).end
        for known_at in (None, before):
            assert reader.state(moment, known_at=known_at) == project(
                events, as_of=moment, known_at=known_at
            )
    store.engine.dispose()
