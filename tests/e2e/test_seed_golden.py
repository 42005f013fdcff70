"""The bundled dossier, through the public CLI and API: what analysts will check first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from timeline import migrate
from timeline.cli import main
from timeline.database import create_engine
from timeline.engine import Timeline
from timeline.store import EventStore

SEED = Path(str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml"))


@pytest.fixture
def seeded(fresh_url: str) -> Iterator[str]:
    """A database of either backend with the seed dossier imported through the CLI."""
    assert main(["init", "--db", fresh_url]) == 0
    assert main(["import", "--db", fresh_url, str(SEED)]) == 0
    return fresh_url


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _positions(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["actor"]: p for p in state["positions"] if p["issue"] == "mbt-for-ukraine"}


def test_as_of_20_january(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    """On 20 January: UK committed and precedent set, US reluctant, Germany conditional."""
    state = _json(capsys, "state", "--db", seeded, "--as-of", "2023-01-20", "--format", "json")
    assert state["schema"] == "timeline.state/1"
    positions = _positions(state)
    assert positions["GBR"]["stance"] == "committed"
    assert positions["GBR"]["certain"] is False  # "last week" has not ended on the 20th
    assert positions["USA"]["stance"] == "reluctant"
    germany = positions["DEU"]
    assert germany["stance"] == "conditional"
    [condition] = germany["conditions"]
    assert (condition["actor"], condition["does"], condition["met"]) == ("USA", "pledge", False)
    pledges = {(p["donor"], p["item"]): p for p in state["pledges"]}
    assert pledges[("GBR", "challenger-2")]["quantity"] == 14
    assert [(p["actor"], p["by"]) for p in state["precedents"]] == [
        ("GBR", "gbr-pledge-challenger-2")
    ]
    assert "pol-request-reexport-leopard-2" not in {r["request"] for r in state["requests"]}


def test_as_of_26_january(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    """On 26 January: Germany and the US committed, condition met, request approved, 59 tanks."""
    state = _json(capsys, "state", "--db", seeded, "--as-of", "2023-01-26", "--format", "json")
    positions = _positions(state)
    assert positions["DEU"]["stance"] == "committed"
    assert positions["USA"]["stance"] == "committed"
    [condition] = positions["DEU"]["conditions"]
    assert condition["met"] is True
    assert condition["met_by"] == "usa-pledge-abrams"
    requests = {r["request"]: r for r in state["requests"]}
    assert requests["pol-request-reexport-leopard-2"]["status"] == "approved"
    assert requests["ukr-request-modern-tanks"]["status"] == "open"
    totals = {t["category"]: t for t in state["totals"]}
    assert (totals["main-battle-tank"]["low"], totals["main-battle-tank"]["high"]) == (59, 59)
    assert (totals["recovery-vehicle"]["low"], totals["recovery-vehicle"]["high"]) == (8, 8)
    assert totals["training"]["unknown"], "training pledges have no number"
    [coalition] = [c for c in state["coalitions"] if c["issue"] == "mbt-for-ukraine"]
    assert coalition["committed"] == ["GBR", "DEU", "USA"]


def test_diff_20_to_26_january(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The diff lists each expected change with the events that caused it."""
    document = _json(
        capsys,
        "diff",
        "--db",
        seeded,
        "--from",
        "2023-01-20",
        "--to",
        "2023-01-26",
        "--format",
        "json",
    )
    assert document["schema"] == "timeline.diff/1"
    changes = {(c["section"], tuple(c["key"])): c for c in document["changes"]}
    deu = changes[("positions", ("DEU", "mbt-for-ukraine"))]
    assert deu["before"]["stance"] == "conditional"
    assert deu["after"]["stance"] == "committed"
    assert "deu-pledge-leopard-2a6" in deu["events"]
    assert "usa-pledge-abrams" in deu["events"]  # the condition it met
    usa = changes[("positions", ("USA", "mbt-for-ukraine"))]
    assert (usa["before"]["stance"], usa["after"]["stance"]) == ("reluctant", "committed")
    assert "usa-pledge-abrams" in usa["events"]
    request = changes[("requests", ("ukraine-mbt-2023", "pol-request-reexport-leopard-2"))]
    assert request["before"] is None
    assert request["after"]["status"] == "approved"
    assert set(request["events"]) == {"pol-request-reexport-leopard-2", "deu-approves-reexport"}
    for donor, item, key in [
        ("DEU", "leopard-2a6", "deu-pledge-leopard-2a6"),
        ("USA", "m1-abrams", "usa-pledge-abrams"),
        ("USA", "m88", "usa-pledge-m88"),
    ]:
        pledge = changes[("pledges", (donor, "UKR", item))]
        assert pledge["kind"] == "pledge added"
        assert pledge["events"] == [key]
    tanks = changes[("totals", ("main-battle-tank",))]
    assert (tanks["before"]["low"], tanks["after"]["low"]) == (14, 59)
    coalition = changes[("coalitions", ("mbt-for-ukraine",))]
    assert coalition["after"]["committed"] == ["GBR", "DEU", "USA"]


def test_markdown_and_text_diffs(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Markdown and text renderings name the changes and their causes."""
    capsys.readouterr()
    args = ["diff", "--db", seeded, "--from", "2023-01-20", "--to", "2023-01-26"]
    assert main([*args, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("## What changed from")
    assert "| stance changed | DEU / mbt-for-ukraine | conditional" in markdown
    assert main(args) == 0
    assert "usa-pledge-abrams" in capsys.readouterr().out


def test_api_matches_cli(seeded: str) -> None:
    """The Python API gives the same state as the CLI's JSON."""
    timeline = Timeline(EventStore(create_engine(seeded)))
    state = timeline.state("2023-01-26")
    assert migrate.current_revision(timeline.store.engine) == migrate.head_revision()
    committed = {p.actor for p in state.positions if p.stance == "committed"}
    assert committed == {"GBR", "DEU", "USA"}


def test_demo_walks_through_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    """`timeline demo` loads the seed into a fresh database and shows both dates and the diff."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Positions as of 2023-01-20" in out
    assert "What changed from 2023-01-20" in out
    assert "usa-pledge-abrams" in out
    assert "GBR → DEU → USA" in out
