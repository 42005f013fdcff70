"""`timeline export`: CSV that the csv module reads back, TimelineJS 3 JSON in the shape
TimelineJS loads, PLOVER records with every required field, on both backends."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import edges
from tests.e2e.conftest import DOSSIER
from timeline.interfaces.cli import main
from timeline.store.schema import NAME_LENGTH

SECTIONS = ["positions", "pledges", "totals", "requests", "precedents", "pressure", "coalitions"]

# TimelineJS 3's JSON format, from its documentation (timeline.knightlab.com/docs/json-format):
# `events` is required, a slide needs a `start_date`, a date needs a `year`; months run 1-12;
# dates are numbers; media needs a `url`.
_NUMBER = {"type": "integer"}
_DATE = {
    "type": "object",
    "required": ["year"],
    "properties": {
        "year": _NUMBER,
        "month": {"type": "integer", "minimum": 1, "maximum": 12},
        "day": {"type": "integer", "minimum": 1, "maximum": 31},
        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "minute": {"type": "integer", "minimum": 0, "maximum": 59},
        "second": {"type": "integer", "minimum": 0, "maximum": 59},
        "millisecond": {"type": "integer", "minimum": 0, "maximum": 999},
        "display_date": {"type": "string"},
        "format": {"type": "string"},
    },
    "additionalProperties": False,
}
_TEXT = {
    "type": "object",
    "properties": {"headline": {"type": "string"}, "text": {"type": "string"}},
    "additionalProperties": False,
}
_MEDIA = {
    "type": "object",
    "required": ["url"],
    "properties": {
        name: {"type": "string", "minLength": 1 if name == "url" else 0}
        for name in ("url", "caption", "credit", "thumbnail", "alt", "title", "link", "link_target")
    },
    "additionalProperties": False,
}
_SLIDE_FIELDS = {
    "start_date": _DATE,
    "end_date": _DATE,
    "text": _TEXT,
    "media": _MEDIA,
    "group": {"type": "string"},
    "display_date": {"type": "string"},
    "autolink": {"type": "boolean"},
    "unique_id": {"type": "string", "minLength": 1},
}
TIMELINEJS = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "title": {"type": "object", "properties": _SLIDE_FIELDS, "additionalProperties": False},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start_date"],
                "properties": _SLIDE_FIELDS,
                "additionalProperties": False,
            },
        },
        "scale": {"enum": ["human", "cosmological"]},
    },
    "additionalProperties": False,
}

# PLOVER draft 0.8 (openeventdata/PLOVER, PLOVER_MANUAL.tex): required fields, event types,
# each type's modes, and the contexts.
PLOVER_REQUIRED = ("id", "date", "actor", "event")
PLOVER_MODES: dict[str, set[str]] = {
    **{event: set() for event in ["AGREE", "SUPPORT", "CONCEDE", "COOPERATE", "AID"]},
    "CONSULT": {"visit", "third-party", "multilateral", "phone"},
    "REQUEST": {"assist", "change", "yield", "meet"},
    "REJECT": {"assist", "change", "yield", "meet"},
    "ACCUSE": {"disapprove", "investigate", "allege"},
    "THREATEN": {"restrict", "arrest", "relations", "expel", "territory", "violence"},
}
PLOVER_QUADS = {
    "AGREE": 1, "CONSULT": 1, "SUPPORT": 1, "CONCEDE": 1, "COOPERATE": 2, "AID": 2,
    "REQUEST": 3, "ACCUSE": 3, "REJECT": 3, "THREATEN": 3,
}  # fmt: skip
PLOVER_CONTEXTS = {
    "military",
    "intelligence",
    "executive",
    "legislative",
    "election",
    "political_institutions",
    "pro_democracy",
    "pro_autocracy",
    "economic",
    "legal",
    "reparations",
    "human_rights",
    "rights_freedoms",
    "repression",
    "human_security",
    "gender",
    "lgbt",
    "religion_ethnicity",
    "inequality",
    "diplomatic",
    "territory",
    "peacekeeping",
    "health",
    "asylum",
    "migration",
    "disasters",
    "natural_resource",
    "environment",
    "technology",
    "terrorism",
    "cbrn",
    "cyber",
    "misinformation",
    "crime",
    "corruption",
    "illegal_drugs",
    "trafficking",
}


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    capsys.readouterr()
    assert main(list(arguments)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _json_of(capsys: pytest.CaptureFixture[str], *arguments: str) -> Any:
    return json.loads(_run(capsys, *arguments, "--format", "json"))


def _expected_cell(item: dict[str, Any], column: str) -> str:
    """What a CSV cell must read: the dotted path's value in the item's JSON."""
    value: Any = item
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _leaves(item: dict[str, Any], spread: bool, prefix: str = "") -> set[str]:
    """The dotted paths of every non-null value (not an object, when objects `spread`)."""
    found: set[str] = set()
    for name, value in item.items():
        if isinstance(value, dict) and spread:
            found |= _leaves(value, spread, f"{prefix}{name}.")
        elif value is not None:
            found.add(prefix + name)
    return found


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _assert_round_trip(text: str, items: list[dict[str, Any]], spread: bool = True) -> None:
    """Every row reads back as its item: a state item's objects over dotted columns; a log
    entry's (`spread=False`) in one cell."""
    header, rows = _rows(text)
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        assert _leaves(item, spread) <= set(header), "a value has no column"
        assert row == {column: _expected_cell(item, column) for column in header}


class _Markup(HTMLParser):
    """The tags and attributes of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            assert name == "href", (tag, name)
            self.hrefs.append(value or "")


def _assert_loads_in_timelinejs(document: dict[str, Any]) -> None:
    """The shape TimelineJS reads, real dates, an end after the start, and only the
    markup the exporter writes: no text from a dossier becomes a tag or a script."""
    jsonschema.validate(document, TIMELINEJS)
    slides = document["events"]
    assert len({s["unique_id"] for s in slides}) == len(slides)
    for slide in slides:
        start = dt.date(*(slide["start_date"].get(p, 1) for p in ("year", "month", "day")))
        if "end_date" in slide:
            assert start <= dt.date(*(slide["end_date"][p] for p in ("year", "month", "day")))
        markup = _Markup()
        markup.feed(slide["text"]["text"] + slide["text"]["headline"])
        markup.feed(slide.get("media", {}).get("credit", ""))
        markup.feed(slide.get("media", {}).get("caption", ""))
        assert markup.tags <= {"p", "ul", "li", "a", "cite"}
        assert all(re.fullmatch(r"https?://[^\s\"'<>`\\]+", h) for h in markup.hrefs)
        assert "<" not in slide["text"]["headline"]
        media = slide.get("media", {}).get("url", "https://")
        if media.startswith("<blockquote>"):
            assert "<" not in media.removeprefix("<blockquote>").removesuffix("</blockquote>")
        else:
            assert media.startswith(("https://", "http://"))


def _assert_plover(record: dict[str, Any]) -> None:
    for field in PLOVER_REQUIRED:
        assert record[field], field
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"])
    dt.date.fromisoformat(record["date"])
    if "enddate" in record:
        assert record["enddate"] > record["date"]
    if "time" in record:
        dt.datetime.fromisoformat(f"{record['date']}T{record['time']}")
    for entity in record["actor"] + record["recipient"]:
        assert entity["code"]
    (event,) = record["event"]
    assert set(record["mode"]) <= PLOVER_MODES[event]
    assert set(record["context"]) <= PLOVER_CONTEXTS
    assert record["quad_code"] == PLOVER_QUADS[event]


@pytest.mark.parametrize("as_of", ["2023-01-20", "2023-01-26"])
def test_every_section_round_trips_through_the_csv_module(
    seeded: str, capsys: pytest.CaptureFixture[str], as_of: str
) -> None:
    state = _json_of(capsys, "state", "--db", seeded, "--as-of", as_of)
    for section in SECTIONS:
        exported = _run(
            capsys, "export", "--db", seeded, "--format", "csv", "--section", section,
            "--as-of", as_of,
        )  # fmt: skip
        _assert_round_trip(exported, state[section])
    default = _run(capsys, "export", "--db", seeded, "--format", "csv", "--as-of", as_of)
    assert _rows(default)[0][:4] == ["dossier", "actor", "issue", "stance"]


def test_the_log_round_trips_with_payload_fields_as_columns(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logged = _json_of(capsys, "log", "--db", seeded)["events"]
    exported = _run(capsys, "export", "--db", seeded, "--format", "csv", "--section", "log")
    flat = [{k: v for k, v in e.items() if k != "payload"} | e["payload"] for e in logged]
    _assert_round_trip(exported, flat, spread=False)
    header, rows = _rows(exported)
    assert "dossier.declared" not in {r["type"] for r in rows}
    known_before = _run(
        capsys, "export", "--db", seeded, "--format", "csv", "--section", "log",
        "--known-at", "2000-01-01",
    )  # fmt: skip
    assert _rows(known_before) == (header, [])


def test_timelinejs_shows_the_facts_at_their_precision_with_their_sources(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(_run(capsys, "export", "--db", seeded, "--format", "timelinejs"))
    _assert_loads_in_timelinejs(document)
    logged = _json_of(capsys, "log", "--db", seeded)["events"]
    assert [s["display_date"] for s in document["events"]] == [e["occurred"] for e in logged]
    assert document["title"]["text"]["headline"] == "Western main battle tanks for Ukraine"
    slides = {s["unique_id"]: s for s in document["events"]}
    by_key = {e["key"]: slides[f"event-{e['id']}"] for e in logged}
    abrams = by_key["usa-pledge-abrams"]
    assert abrams["text"]["headline"] == "United States pledges 31 M1 Abrams to Ukraine"
    assert abrams["start_date"] == {"year": 2023, "month": 1, "day": 25}
    assert "end_date" not in abrams
    assert abrams["media"]["credit"].endswith("2023-01-25")
    assert abrams["group"] == "pledge"
    week = by_key["gbr-precedent-mbt"]  # "last week": 2023-W03
    assert (week["start_date"], week["end_date"]) == (
        {"year": 2023, "month": 1, "day": 16},
        {"year": 2023, "month": 1, "day": 22},
    )
    early = json.loads(
        _run(capsys, "export", "--db", seeded, "--format", "timelinejs", "--as-of", "2023-01-20")
    )
    assert 0 < len(early["events"]) < len(document["events"])
    assert all(s["start_date"]["day"] <= 20 for s in early["events"])


def test_plover_records_carry_every_required_field_and_the_crosswalk(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["export", "--db", seeded, "--format", "plover", "--dossier", DOSSIER]) == 0
    shown = capsys.readouterr()
    records = [json.loads(line) for line in shown.out.splitlines()]
    for record in records:
        _assert_plover(record)
    logged = _json_of(capsys, "log", "--db", seeded)["events"]
    uncoded = [e for e in logged if e["plover"] is None]
    assert len(records) == len(logged) - len(uncoded) > 0
    assert f"{len(uncoded)} fact(s) have no PLOVER category" in shown.err
    by_key = {r["key"]: r for r in records}
    approval = by_key["deu-approves-reexport"]
    assert (approval["event"], approval["cameo"]) == (["CONCEDE"], "080")
    assert [a["code"] for a in approval["actor"]] == ["DEU"]
    assert [r["code"] for r in approval["recipient"]] == ["POL"]  # who filed the request
    reexport = by_key["pol-request-reexport-leopard-2"]
    assert (reexport["event"], reexport["mode"], reexport["context"]) == (
        ["REQUEST"],
        ["change"],
        ["executive"],
    )
    assert by_key["usa-pledge-abrams"]["actor"] == [{"code": "USA", "entity_text": "United States"}]


def test_export_writes_a_whole_file_or_says_why_not(
    seeded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "pledges.csv"
    printed = _run(capsys, "export", "--db", seeded, "--format", "csv", "--section", "pledges")
    capsys.readouterr()
    arguments = ["export", "--db", seeded, "--format", "csv", "--section", "pledges"]
    assert main([*arguments, "--out", str(out)]) == 0
    assert out.read_bytes().decode("utf-8") == printed
    assert "7 rows written to" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pledges.csv"]
    missing = tmp_path / "no-such-folder" / "x.json"
    assert main(["export", "--db", seeded, "--format", "timelinejs", "--out", str(missing)]) == 1
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1, said
    assert "no-such-folder" in said[0]
    assert main([*arguments, "--out", str(out), "--dossier", "nope"]) == 1
    assert "no dossier 'nope'" in capsys.readouterr().err
    assert out.read_bytes().decode("utf-8") == printed  # the file from before, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pledges.csv"]
    assert main(["export", "--db", seeded, "--format", "plover", "--section", "pledges"]) == 2


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_whatever_the_import_accepts_exports_intact(
    fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    """Texts of any character (quotes, separators, line breaks, markup, escapes) at the
    limits: the CSV gives them back as the JSON log has them, TimelineJS gets them as
    text and never as markup, PLOVER records keep their shape."""
    count = edges.example(fresh_url)
    name = data.draw(edges.codes())[: NAME_LENGTH - 4] + f"-{count:03d}"
    path = edges.write(data.draw(edges.dossiers(name)), tmp_path, "jsonl")
    _run(capsys, "import", "--db", fresh_url, str(path))
    base = ["export", "--db", fresh_url, "--dossier", name]
    logged = _json_of(capsys, "log", "--db", fresh_url, "--dossier", name)["events"]
    flat = [{k: v for k, v in e.items() if k != "payload"} | e["payload"] for e in logged]
    _assert_round_trip(
        _run(capsys, *base, "--format", "csv", "--section", "log"), flat, spread=False
    )
    state = _json_of(capsys, "state", "--db", fresh_url, "--as-of", edges.LAST_DAY)
    mine = [p for p in state["pledges"] if p["dossier"] == name]
    exported = _run(
        capsys, *base, "--format", "csv", "--section", "pledges", "--as-of", edges.LAST_DAY
    )
    _assert_round_trip(exported, mine)
    document = json.loads(_run(capsys, *base, "--format", "timelinejs"))
    _assert_loads_in_timelinejs(document)
    assert len(document["events"]) == len(logged)
    for slide, entry in zip(document["events"], logged, strict=True):
        note = entry["payload"].get("note") or entry["payload"].get("summary")
        if note:
            assert f"<p>{html.escape(note)}</p>" in slide["text"]["text"]
    for line in _run(capsys, *base, "--format", "plover").split("\n")[:-1]:
        _assert_plover(json.loads(line))


def test_the_docs_list_every_column() -> None:
    """A column added to an item reaches docs/exports.md, or this fails."""
    from projections.state import SECTIONS as ALL
    from timeline.exports.tables import columns, log_columns

    docs = (Path(__file__).parents[2] / "docs" / "exports.md").read_text("utf-8")
    for section, item in ALL.items():
        assert f"| `{section}` | {', '.join(columns(item))} |" in docs, section
    assert f"| `log` | {', '.join(log_columns())} |" in docs
