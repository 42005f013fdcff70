"""The seed dossier in a database of each backend, and a real server on it, per module."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, database
from tests.serving import Server, serving
from timeline.interfaces.cli import main

SEED = Path(str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml"))
DOSSIER = "ukraine-mbt-2023"


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of either backend with the seed dossier imported through the CLI."""
    with database(request.param, tmp_path_factory) as url:
        assert main(["init", "--db", url]) == 0
        assert main(["import", "--db", url, str(SEED)]) == 0
        yield url


@pytest.fixture(scope="module")
def server(seeded: str) -> Iterator[Server]:
    with serving(seeded) as running:
        yield running
