"""`timeline validate`: every error of every file, without a database, or against one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_import_errors import BAD, GOOD_EVENTS, HEADER
from timeline.interfaces.cli import main


def _event(key: str, body: str) -> str:
    return (
        f"  - key: {key}\n    occurred: 2023-01-25\n{body}"
        '    sources:\n      - {cite: cnn, quote: "a quote"}\n'
    )


THREE_ERRORS = HEADER + "".join(
    [
        _event(
            "a", "    type: statement.issued\n    actor: USAA\n    tone: neutral\n    summary: s\n"
        ),
        _event(
            "ok", "    type: statement.issued\n    actor: DEU\n    tone: neutral\n    summary: s\n"
        ),
        _event(
            "b", "    type: position.stated\n    actor: DEU\n    issue: tank\n    stance: opposed\n"
        ),
        _event(
            "c",
            "    type: request.decided\n    request: ok\n    decision: denied\n    by: DEU\n",
        ),
    ]
)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_error_is_one_line_with_the_nearest_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, "three.yaml", THREE_ERRORS)
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert "event 'a', field 'actor'" in lines[0]
    assert "did you mean 'USA'?" in lines[0]
    assert "event 'b', field 'issue'" in lines[1]
    assert "did you mean 'tanks'?" in lines[1]
    assert "event 'c', field 'request': expected a request.filed" in lines[2]
    assert all(line.startswith(f"Error: {path}:") for line in lines)
    assert "3 error(s) in 1 file(s)" in out
    assert list(tmp_path.iterdir()) == [path], "no database is made"


def test_reporting_stops_at_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "three.yaml", THREE_ERRORS)
    assert main(["validate", "--max-errors", "2", str(path)]) == 1
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 2
    assert "--max-errors" in out


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_finds_what_import_refuses(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The import's one error is among what validate reports, word for word (given the
    database, as a reference to a stored event needs it)."""
    path = _write(tmp_path, f"{case}.yaml", BAD[case][0])
    url = f"sqlite:///{tmp_path / 'v.db'}"
    assert main(["init", "--db", url]) == 0
    capsys.readouterr()
    assert main(["import", "--db", url, str(path)]) == 1
    refused = capsys.readouterr().err.strip()
    assert main(["validate", "--db", url, str(path)]) == 1
    assert refused in capsys.readouterr().err.splitlines()


def test_references_to_stored_events_need_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A follow-up correction names a stored event: unchecked without --db, checked with it."""
    url = f"sqlite:///{tmp_path / 'v.db'}"
    first = _write(tmp_path, "first.yaml", HEADER + GOOD_EVENTS)
    assert main(["init", "--db", url]) == 0
    assert main(["import", "--db", url, str(first)]) == 0
    fix = "    type: event.corrected\n    corrects: {target}\n    changes: {{decision: denied}}\n"
    good = _write(tmp_path, "fix.yaml", HEADER + _event("fix", fix.format(target="deu-approves")))
    bad = _write(tmp_path, "typo.yaml", HEADER + _event("fix", fix.format(target="deu-approve")))
    capsys.readouterr()
    assert main(["validate", str(good)]) == 0
    assert "1 reference(s) or code(s) that only a database can resolve" in capsys.readouterr().out
    assert main(["validate", "--db", url, str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", "--db", url, str(bad)]) == 1
    assert "field 'corrects'" in capsys.readouterr().err
