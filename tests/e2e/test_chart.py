"""`timeline chart`: the stance lanes and the pledged totals of a dossier as SVG, read back
as XML: a band per version of each position, in the history's order, on both backends."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import edges
from tests.e2e.conftest import DOSSIER
from timeline.interfaces.cli import main
from timeline.store.schema import NAME_LENGTH

SVG = "{http://www.w3.org/2000/svg}"


def _drawn(url: str, out: Path, *options: str) -> ET.Element:
    assert main(["chart", "--db", url, "--out", str(out), *options]) == 0
    return ET.parse(out).getroot()


def _history(url: str, actor: str, issue: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    command = ["history", "--db", url, "positions", actor, issue, "--format", "json"]
    assert main([*command, "--dossier", DOSSIER]) == 0
    return [v["item"]["stance"] for v in json.loads(capsys.readouterr().out)["versions"]]


def test_each_lane_holds_its_positions_versions_in_order(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawing = _drawn(seeded, tmp_path / "tanks.svg", "--dossier", DOSSIER)
    lanes = {g.get("data-actor"): g for g in drawing.iter(f"{SVG}g") if g.get("class") == "lane"}
    assert set(lanes) == {"DEU", "GBR", "POL", "USA"}
    for actor, lane in lanes.items():
        stances = [r.get("data-stance") for r in lane.iter(f"{SVG}rect") if r.get("data-stance")]
        assert stances == _history(seeded, actor, "mbt-for-ukraine", capsys), actor
    germany = [t.text for t in lanes["DEU"].iter(f"{SVG}title")]
    assert any("conditional, if USA pledges m1-abrams (unmet)" in (t or "") for t in germany)
    totals = [g for g in drawing.iter(f"{SVG}g") if g.get("class") == "total"]
    tanks = next(g for g in totals if g.get("data-category") == "main-battle-tank")
    assert "up to 59, 0 delivered" in [t.text for t in tanks.iter(f"{SVG}text")]


def test_a_png_is_the_same_picture_rasterised(seeded: str, tmp_path: Path) -> None:
    out = tmp_path / "tanks.png"
    assert main(["chart", "--db", seeded, "--dossier", DOSSIER, "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    drawn = _drawn(seeded, tmp_path / "tanks.svg", "--dossier", DOSSIER)
    assert (width, height) == (2 * int(drawn.get("width", 0)), 2 * int(drawn.get("height", 0)))


def test_the_chart_says_what_is_wrong_in_one_line(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["chart", "--db", seeded, "--out", str(tmp_path / "x.gif")]) == 2
    assert main(["chart", "--db", seeded, "--dossier", "nope", "--out", str(tmp_path / "x.svg")])
    assert "no dossier 'nope'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_names_the_import_accepts_draw_as_text(
    fresh_url: str, tmp_path: Path, data: st.DataObject
) -> None:
    """Codes of any character (markup, quotes, escapes) are text in the SVG: it parses as
    XML and every lane is there."""
    count = edges.example(fresh_url)
    name = data.draw(edges.codes())[: NAME_LENGTH - 4] + f"-{count:03d}"
    path = edges.write(data.draw(edges.dossiers(name)), tmp_path, "jsonl")
    assert main(["import", "--db", fresh_url, str(path)]) == 0
    drawing = _drawn(fresh_url, tmp_path / "edges.svg", "--dossier", name)
    assert drawing.tag == f"{SVG}svg"
