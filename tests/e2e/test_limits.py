"""What the import accepts at the edges of its limits, every read can show, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_import_errors import HEADER
from timeline.interfaces.cli import main


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
