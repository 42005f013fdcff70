"""Imports read, checked and appended a batch at a time in one transaction: the same
events as a whole-file import, and still all or nothing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from timeline.dossiers import files
from timeline.engine import Timeline
from timeline.interfaces.cli import main
from timeline.store import EventStore

HEADER = {
    "dossier": "stream",
    "title": "A streamed dossier",
    "items": {"leopard-2": {"name": "Leopard 2", "category": "main-battle-tank"}},
    "issues": {"tanks": "Tanks"},
    "sources": {"wire": {"publisher": "Wire", "published": "2023-01-25"}},
}


def _event(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "key": f"e{number:03d}",
        "type": "pledge.announced",
        "occurred": f"2023-01-{1 + number % 28:02d}",
        "donor": "DEU",
        "recipient": "UKR",
        "issue": "tanks",
        "item": "leopard-2",
        "quantity": number,
        "sources": [{"cite": "wire", "quote": f"pledge {number}"}],
        **fields,
    }


def _request(number: int) -> dict[str, Any]:
    event = _event(number, type="request.filed", requester="POL", addressee="DEU", ask="supply")
    for field in ("donor", "recipient", "item", "quantity"):
        del event[field]
    return event


def _decision(number: int, request: str) -> dict[str, Any]:
    return {
        "key": f"e{number:03d}",
        "type": "request.decided",
        "occurred": "2023-01-26",
        "request": request,
        "decision": "approved",
        "by": "DEU",
        "sources": [{"cite": "wire", "quote": "approved"}],
    }


def _jsonl(folder: Path, events: list[dict[str, Any]], name: str = "stream.jsonl") -> Path:
    path = folder / name
    path.write_text("\n".join(json.dumps(line) for line in (HEADER, *events)) + "\n", "utf-8")
    return path


def _stored(url: str) -> list[tuple[str, str, str]]:
    """What the store holds, without transaction times and positions."""
    return [(e.key, e.type, repr(e.event)) for e in EventStore.open(url).read_all()]


def test_batches_store_what_a_whole_import_stores(
    fresh_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Forward and backward references, across batches of 7, and a correction."""
    events = [_decision(0, request="e050"), *(_event(n) for n in range(1, 50)), _request(50)]
    events.append(_decision(51, request="e050"))
    events.append(
        {
            "key": "fix",
            "type": "event.corrected",
            "occurred": "2023-02-01",
            "corrects": "e003",
            "changes": {"quantity": 30},
            "sources": [{"cite": "wire", "quote": "thirty"}],
        }
    )
    path = _jsonl(tmp_path, events)
    assert main(["init", "--db", fresh_url]) == 0
    Timeline(EventStore.open(fresh_url)).import_files([path], batch=7)
    whole = f"sqlite:///{tmp_path_factory.mktemp('whole') / 'whole.db'}"
    assert main(["init", "--db", whole]) == 0
    timeline = Timeline(EventStore.open(whole))
    timeline.import_dossiers([files.read_file(path)])
    assert _stored(fresh_url) == _stored(whole)
    assert len(_stored(fresh_url)) == len(events) + 1  # and the declaration


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (_event(99, item="no-such-item"), "field 'item': expected one of the declared items"),
        (_decision(99, request="nowhere"), "field 'request': expected the key or id"),
        (_event(5), "duplicate key, used earlier in this import"),
    ],
)
def test_an_error_in_the_last_batch_writes_nothing(
    fresh_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    last: dict[str, Any],
    expected: str,
) -> None:
    path = _jsonl(tmp_path, [*(_event(n) for n in range(40)), last])
    assert main(["init", "--db", fresh_url]) == 0
    capsys.readouterr()
    with pytest.raises(files.DossierError, match=expected) as refused:
        Timeline(EventStore.open(fresh_url)).import_files([path], batch=8)
    assert refused.value.line == 42  # the header, 40 events, then the bad one
    assert EventStore.open(fresh_url).head() == 0


def test_standard_input(
    fresh_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`-` reads JSON Lines, or YAML, from standard input."""
    assert main(["init", "--db", fresh_url]) == 0
    text = _jsonl(tmp_path, [_event(1), _event(2)]).read_text("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    capsys.readouterr()
    assert main(["import", "--db", fresh_url, "-"]) == 0
    assert "stream: 2 appended" in capsys.readouterr().out
    seed = Path(__file__).parents[2] / "timeline" / "seed" / "ukraine-mbt-2023.yaml"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(seed.read_bytes())))
    assert main(["import", "--db", fresh_url, "-"]) == 0
    assert "ukraine-mbt-2023: 25 appended" in capsys.readouterr().out


def test_yaml_streams_as_json_lines_do(
    fresh_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same events as YAML, in batches, store what the JSON Lines file stores."""
    events = [_decision(0, request="e030"), *(_event(n) for n in range(1, 30)), _request(30)]
    as_yaml = tmp_path / "stream.yaml"
    as_yaml.write_text(yaml.safe_dump({**HEADER, "events": events}, sort_keys=False), "utf-8")
    assert main(["init", "--db", fresh_url]) == 0
    Timeline(EventStore.open(fresh_url)).import_files([as_yaml], batch=4)
    lines = f"sqlite:///{tmp_path_factory.mktemp('lines') / 'lines.db'}"
    assert main(["init", "--db", lines]) == 0
    Timeline(EventStore.open(lines)).import_files([_jsonl(tmp_path, events)], batch=9)
    assert _stored(fresh_url) == _stored(lines)


def test_yaml_header_fields_may_follow_the_events(tmp_path: Path) -> None:
    """PyYAML writes keys sorted, `events` before `title`; from a file or a pipe."""
    text = "dossier: x\nevents: []\ntitle: late\n"
    assert files.read_text("late.yaml", text, "yaml").header.title == "late"
    url = f"sqlite:///{tmp_path / 'pipe.db'}"
    assert main(["init", "--db", url]) == 0
    script = "import sys\nfrom timeline.interfaces.cli import main\nsys.exit(main(sys.argv[1:]))"
    piped = subprocess.run(
        [sys.executable, "-c", script, "import", "--db", url, "-"],
        input=text.replace(
            "events: []",
            "events: [{key: a, type: statement.issued, "
            "occurred: 2023-01-25, actor: DEU, tone: neutral, summary: s, "
            "sources: [{publisher: P, published: 2023-01-25, quote: q}]}]",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert "x: 1 appended" in piped.stdout
