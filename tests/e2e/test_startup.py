"""The CLI starts quickly: a command loads what it needs, nothing more.

Measured as which modules a fresh interpreter has loaded after the command,
not as seconds (machines are shared and noisy): `bench/run.py` prints the
start-up time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from timeline.interfaces.cli import main

HEAVY = (
    "sqlalchemy",
    "alembic",
    "mako",
    "psycopg",
    "rich",
    "yaml",
    "pycountry",
    "fastapi",
    "uvicorn",
    "pendulum",
    "cattrs",
    "events",
    "projections",
)
"""Packages `timeline --help` must not load."""

ONLY_FOR = {"alembic": "init", "psycopg": "PostgreSQL", "yaml": "import", "fastapi": "serve"}
"""Packages a read on SQLite must not load, and what they are for."""


def _loaded(*argv: str) -> set[str]:
    """The top-level packages loaded once `timeline ARGV` has run, in a new interpreter."""
    script = (
        "import sys, json\n"
        "from timeline.interfaces.cli import main\n"
        f"status = main({list(argv)!r})\n"
        "print(json.dumps([status, sorted({m.split('.')[0] for m in sys.modules})]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    status, modules = json.loads(done.stdout.splitlines()[-1])
    assert status == 0, done.stderr
    return set(modules)


VOCABULARY = {"events", "projections", "pendulum", "cattrs"}
"""What a command's help loads to list its choices (event types, sections)."""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["state", "--help"]])
def test_help_loads_no_database_or_vocabulary(argv: list[str]) -> None:
    heavy = set(HEAVY) - (VOCABULARY if argv[0] == "state" else set())
    assert not _loaded(*argv) & heavy


def test_a_read_loads_no_migration_importer_or_web_stack(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    assert main(["init", "--db", url]) == 0
    loaded = _loaded("state", "--db", url, "--as-of", "2023-01-20")
    assert not loaded & set(ONLY_FOR), {name: ONLY_FOR[name] for name in loaded & set(ONLY_FOR)}


def test_a_read_of_a_missing_file_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert main(["state", "--db", f"sqlite:///{missing}", "--as-of", "2023-01-20"]) == 1
    assert "timeline init" in capsys.readouterr().err
    assert not missing.exists()
