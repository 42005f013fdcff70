"""The bundled dossier, through the CLI, the HTTP API and the Python API: what analysts
will check first. Each question is asked through the CLI's JSON and through a real
`timeline serve`, on both backends: the two must tell the same story."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DOSSIER
from tests.serving import Server
from timeline.engine import Timeline
from timeline.interfaces.cli import main
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine


class Cli:
    """Questions as `timeline COMMAND ... --format json`: options become `--as-of`."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url, self.capsys = url, capsys

    def argv(self, command: str, args: tuple[str, ...], options: dict[str, Any]) -> list[str]:
        argv = [command, *args, "--db", self.url, "--format", "json"]
        for name, value in options.items():
            for one in value if isinstance(value, list) else [value]:
                argv += [f"--{name.replace('_', '-')}", one]
        return argv

    def __call__(self, command: str, *args: str, **options: Any) -> Any:
        self.capsys.readouterr()
        assert main(self.argv(command, args, options)) == 0
        return json.loads(self.capsys.readouterr().out)

    def refused(self, command: str, *args: str, **options: Any) -> str:
        """The error message of a question refused."""
        self.capsys.readouterr()
        assert main(self.argv(command, args, options)) != 0
        return self.capsys.readouterr().err


class Http:
    """Questions as `GET /api/COMMAND?as_of=...` (history: the key as a path)."""

    def __init__(self, server: Server) -> None:
        self.client = server.client()

    def get(self, command: str, args: tuple[str, ...], options: dict[str, Any]) -> httpx.Response:
        path = "/".join(["/api", command, *args])
        return self.client.get(path, params=options)

    def __call__(self, command: str, *args: str, **options: Any) -> Any:
        response = self.get(command, args, options)
        assert response.status_code == 200, response.text
        return response.json()

    def refused(self, command: str, *args: str, **options: Any) -> str:
        response = self.get(command, args, options)
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return str(response.json()["detail"])


@pytest.fixture(params=["cli", "http"])
def ask(
    request: pytest.FixtureRequest, seeded: str, capsys: pytest.CaptureFixture[str]
) -> Cli | Http:
    if request.param == "cli":
        return Cli(seeded, capsys)
    return Http(request.getfixturevalue("server"))


def _keys(refs: list[dict[str, str]]) -> set[str]:
    """The keys of events named in a document, all of the seed dossier."""
    assert all(ref["dossier"] == DOSSIER for ref in refs)
    return {ref["key"] for ref in refs}


def _positions(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["actor"]: p for p in state["positions"] if p["issue"] == "mbt-for-ukraine"}


def test_as_of_20_january(ask: Cli | Http) -> None:
    """On 20 January: UK committed and precedent set, US reluctant, Germany conditional."""
    state = ask("state", as_of="2023-01-20")
    assert state["schema"] == "timeline.state/2"
    positions = _positions(state)
    assert positions["GBR"]["stance"] == "committed"
    assert positions["GBR"]["certain"] is False  # "last week" has not ended on the 20th
    assert positions["USA"]["stance"] == "reluctant"
    germany = positions["DEU"]
    assert germany["stance"] == "conditional"
    condition = germany["condition"]
    assert (condition["actor"], condition["does"], condition["met"]) == ("USA", "pledge", False)
    pledges = {(p["donor"], p["item"]): p for p in state["pledges"]}
    assert pledges[("GBR", "challenger-2")]["quantity"] == 14
    assert [(p["actor"], p["by"]) for p in state["precedents"]] == [
        ("GBR", {"dossier": DOSSIER, "key": "gbr-pledge-challenger-2"})
    ]
    assert "pol-request-reexport-leopard-2" not in {r["request"] for r in state["requests"]}


def test_as_of_26_january(ask: Cli | Http) -> None:
    """On 26 January: Germany and the US committed, condition met, request approved, 59 tanks."""
    state = ask("state", as_of="2023-01-26")
    positions = _positions(state)
    assert positions["DEU"]["stance"] == "committed"
    assert positions["USA"]["stance"] == "committed"
    condition = positions["DEU"]["condition"]
    assert condition["met"] is True
    assert condition["met_by"] == {"dossier": DOSSIER, "key": "usa-pledge-abrams"}
    requests = {r["request"]: r for r in state["requests"]}
    assert requests["pol-request-reexport-leopard-2"]["status"] == "approved"
    assert requests["ukr-request-modern-tanks"]["status"] == "open"
    totals = {t["category"]: t for t in state["totals"]}
    assert (totals["main-battle-tank"]["low"], totals["main-battle-tank"]["high"]) == (59, 59)
    assert (totals["recovery-vehicle"]["low"], totals["recovery-vehicle"]["high"]) == (8, 8)
    assert totals["training"]["unknown"] == 2, "two training pledges gave no number"
    [coalition] = [c for c in state["coalitions"] if c["issue"] == "mbt-for-ukraine"]
    assert coalition["committed"] == ["GBR", "DEU", "USA"]


def test_diff_20_to_26_january(ask: Cli | Http) -> None:
    """The diff lists each expected change with the events that caused it."""
    document = ask("diff", **{"from": "2023-01-20", "to": "2023-01-26"})
    assert document["schema"] == "timeline.diff/2"
    changes = {(c["section"], tuple(c["key"][1:])): c for c in document["changes"]}
    assert all(c["key"][0] == DOSSIER for c in document["changes"])
    deu = changes[("positions", ("DEU", "mbt-for-ukraine"))]
    assert deu["before"]["stance"] == "conditional"
    assert deu["after"]["stance"] == "committed"
    assert "deu-pledge-leopard-2a6" in _keys(deu["events"])
    assert "usa-pledge-abrams" in _keys(deu["events"])  # the condition it met
    usa = changes[("positions", ("USA", "mbt-for-ukraine"))]
    assert (usa["before"]["stance"], usa["after"]["stance"]) == ("reluctant", "committed")
    assert "usa-pledge-abrams" in _keys(usa["events"])
    request = changes[("requests", ("pol-request-reexport-leopard-2",))]
    assert request["before"] is None
    assert request["after"]["status"] == "approved"
    assert _keys(request["events"]) == {"pol-request-reexport-leopard-2", "deu-approves-reexport"}
    for donor, item, key in [
        ("DEU", "leopard-2a6", "deu-pledge-leopard-2a6"),
        ("USA", "m1-abrams", "usa-pledge-abrams"),
        ("USA", "m88", "usa-pledge-m88"),
    ]:
        pledge = changes[("pledges", (donor, "UKR", item))]
        assert pledge["kind"] == "pledge added"
        assert pledge["events"] == [{"dossier": DOSSIER, "key": key}]
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


def test_filters_name_what_is_asked_about(ask: Cli | Http) -> None:
    """Actor, issue and section filters keep the items asked about; an unknown name is an
    error."""
    state = ask("state", as_of="2023-01-26", actor="DEU", section=["positions", "pledges"])
    assert {p["actor"] for p in state["positions"]} == {"DEU"}
    assert {p["donor"] for p in state["pledges"]} == {"DEU"}
    assert state["totals"] == state["requests"] == []
    refused = ask.refused("state", as_of="2023-01-26", actor="DEUX")
    assert "no actor 'DEUX' in this database; did you mean DEU" in refused
    refused = ask.refused("state", as_of="2023-01-26", dossier="ukraine-mbt")
    assert "did you mean ukraine-mbt-2023?" in refused


def test_history_of_germanys_position(ask: Cli | Http) -> None:
    """Germany's position moved twice: conditional in week 3, committed on 25 January."""
    document = ask("history", "positions", "DEU", "mbt-for-ukraine")
    assert document["schema"] == "timeline.history/1"
    assert document["key"] == [DOSSIER, "DEU", "mbt-for-ukraine"]
    stances = [(v["item"]["stance"], _keys(v["item"]["events"])) for v in document["versions"]]
    assert stances[0] == ("conditional", {"deu-position-leopard-if-abrams"})
    assert stances[-1][0] == "committed"
    assert document["versions"][-1]["valid_to"] is None
    assert "no positions item DEU/nothing" in ask.refused("history", "positions", "DEU", "nothing")


def test_diff_with_from_after_to_is_a_usage_error(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Dates in the wrong order are refused, not answered with inverted changes."""
    status = main(["diff", "--db", seeded, "--from", "2023-01-26", "--to", "2023-01-20"])
    assert status == 2
    assert "--from 2023-01-26 comes after --to 2023-01-20" in capsys.readouterr().err
