"""Imports go one way: events <- projections <- timeline.

The files are parsed with `ast`, never imported, so a forbidden import is
found even where importing it would happen to work, including imports inside
functions and under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "events": {"sqlalchemy", "alembic", "psycopg", "timeline", "projections", "migrations"},
    "projections": {"sqlalchemy", "alembic", "psycopg", "timeline", "migrations"},
}


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of every module a source file imports, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A relative import stays inside its own top-level package.
                names.add(package + (f".{node.module}" if node.module else ""))
            elif node.module:
                names.add(node.module)
    return names


def _violations(package: str) -> list[str]:
    found = []
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found under {package}/"
    for path in files:
        for name in imported_modules(path.read_text(encoding="utf-8"), package):
            if name.split(".")[0] in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_outer_layers(package: str) -> None:
    """No module of the package imports a layer above it or the database libraries."""
    assert _violations(package) == []


def test_the_checker_sees_every_form_of_import() -> None:
    """The import finder catches plain, from, nested and relative imports."""
    source = """
import os, sqlalchemy.orm as orm
from timeline.store import EventStore
from . import codec
from .vocabulary import Event

def later():
    import projections.fold
"""
    assert imported_modules(source, "events") == {
        "os",
        "sqlalchemy.orm",
        "timeline.store",
        "events",
        "events.vocabulary",
        "projections.fold",
    }
