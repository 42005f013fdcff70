"""Text from a dossier is data: brackets print as written, control characters are shown
escaped, and no database password is ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_import_errors import HEADER
from timeline.interfaces.cli import main

# Printable text, brackets (rich markup), and the control characters a terminal obeys.
TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "[", "]", "/", "\\", "\x1b", "\r", "\x07", "\x9b", "é"]),
    min_size=1,
    max_size=30,
).filter(lambda t: t.strip() == t and t.strip())


def _dossier(quote: str, note: str) -> str:
    return HEADER + (
        "  - key: deu-position\n"
        "    type: position.stated\n"
        "    occurred: 2023-01-20\n"
        "    actor: DEU\n"
        "    issue: tanks\n"
        "    stance: opposed\n"
        f"    note: {json.dumps(note)}\n"
        "    sources:\n"
        f"      - {{cite: cnn, quote: {json.dumps(quote)}}}\n"
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(quote=TEXT, note=TEXT)
def test_text_output_shows_user_text_as_written(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    quote: str,
    note: str,
) -> None:
    folder = tmp_path_factory.mktemp("text")
    url = f"sqlite:///{folder / 'timeline.db'}"
    path = folder / "dossier.yaml"
    path.write_text(_dossier(quote, note), encoding="utf-8")
    assert main(["init", "--db", url]) == 0
    assert main(["import", "--db", url, str(path)]) == 0
    capsys.readouterr()
    for command in (
        ["log", "--db", url],
        ["state", "--db", url, "--as-of", "2023-01-21"],
        ["diff", "--db", url, "--from", "2023-01-19", "--to", "2023-01-21"],
        ["diff", "--db", url, "--from", "2023-01-19", "--to", "2023-01-21", "--format", "markdown"],
    ):
        assert main(command) == 0, command
        out = capsys.readouterr().out
        assert not any(c in out for c in "\x1b\x07\x9b\r"), (command, out)
    assert main(["log", "--db", url, "--format", "json"]) == 0
    (event,) = json.loads(capsys.readouterr().out)["events"]
    assert event["payload"]["note"] == note  # JSON keeps the text exactly
    assert event["sources"][0]["quote"] == quote


def test_brackets_print_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    path = tmp_path / "dossier.yaml"
    path.write_text(_dossier("said [/oops] and [bold]no[/bold]", "a\x1b[31mred"), encoding="utf-8")
    assert main(["init", "--db", url]) == 0
    assert main(["import", "--db", url, str(path)]) == 0
    capsys.readouterr()
    assert main(["log", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "said [/oops] and [bold]no[/bold]" in out


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@127.0.0.1/test", "postgresql://me:hunter2@127.0.0.1:1/none"]
)
def test_a_password_is_never_printed(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert err.startswith("Error: cannot use the database"), err
