"""The JSON Schema of dossier files: shipped as generated, and agreeing with the importer
on the files both can judge."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import edges
from tests.e2e.test_import_errors import BAD, GOOD_EVENTS, HEADER
from timeline.dossiers import files
from timeline.dossiers.files import read_text
from timeline.dossiers.schema import dossier_schema
from timeline.errors import DossierError
from timeline.interfaces.cli import main

SCHEMA = dossier_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SEED = Path(str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml"))


def _loaded(text: str) -> Any:
    """A YAML file as the importer reads it (a safe loader that keeps dates as text)."""
    return yaml.load(text, Loader=files._Loader)


def test_the_shipped_schema_is_the_generated_one(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    shipped = resources.files("timeline") / "dossiers" / "dossier.schema.json"
    assert json.loads(shipped.read_text("utf-8")) == SCHEMA, "regenerate: timeline schema"
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


def test_the_bundled_and_test_dossiers_are_valid() -> None:
    for text in (SEED.read_text("utf-8"), HEADER + GOOD_EVENTS):
        errors = [e.message for e in VALIDATOR.iter_errors(_loaded(text))]
        assert errors == []


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_files_at_the_edge_of_every_limit_are_valid(data: st.DataObject) -> None:
    """What the importer accepts at its limits, the schema accepts, as YAML or JSON Lines."""
    dossier = data.draw(edges.dossiers("edge"))
    read_text("edge.jsonl", "\n".join(map(json.dumps, _lines(dossier))), "jsonl")
    assert [e.message for e in VALIDATOR.iter_errors(dossier)] == []
    header, *events = _lines(dossier)
    definitions = SCHEMA["$defs"]
    assert _valid(definitions["header"], header)
    assert all(_valid({"$ref": "#/$defs/event"}, event) for event in events)


def _lines(dossier: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in dossier.items() if k != "events"}, *dossier["events"]]


def _valid(part: dict[str, Any], value: object) -> bool:
    schema = {**part, "$defs": SCHEMA["$defs"]}
    return jsonschema.Draft202012Validator(schema).is_valid(value)


SHAPE_ERRORS = [
    "category-too-long",
    "comma-in-an-item-name",
    "quantity-too-large",
    "quantity-of-many-digits",
    "unknown-type",
    "missing-field",
]
"""Refusals that the shape of a file shows (others need the codes, a date's calendar,
or other events)."""


@pytest.mark.parametrize("case", SHAPE_ERRORS)
def test_what_the_importer_refuses_for_its_shape_the_schema_refuses(case: str) -> None:
    text = BAD[case][0]
    with pytest.raises(DossierError):
        read_text(f"{case}.yaml", text, "yaml")
    assert not VALIDATOR.is_valid(_loaded(text))
