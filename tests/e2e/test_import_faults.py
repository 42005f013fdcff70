"""An import whose PostgreSQL connection is terminated while it appends: one error line,
exit status 1, and nothing written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import database
from tests.e2e.test_import_errors import HEADER
from timeline.interfaces.cli import main
from timeline.store import EventStore
from timeline.store.database import create_engine

pytestmark = pytest.mark.postgres
NAME = "timeline-import-under-test"
EVENTS = 20_000


def _dossier(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for number in range(EVENTS):
            out.write(
                f"  - key: s{number}\n    type: statement.issued\n    occurred: 2023-01-25\n"
                "    actor: DEU\n    tone: supportive\n    summary: hello\n"
                "    sources:\n      - {cite: cnn, quote: 'a quote'}\n"
            )


def test_a_terminated_import_writes_nothing_and_says_so_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    path = tmp_path / "big.yaml"
    _dossier(path)
    with database("postgresql", tmp_path_factory) as url:
        assert main(["init", "--db", url]) == 0
        command = [str(Path(sys.executable).parent / "timeline"), "import"]
        importer = subprocess.Popen(
            [*command, "--db", f"{url}&application_name={NAME}", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        admin = create_engine(url)
        killed = 0
        deadline = time.monotonic() + 120  # a hang guard
        while not killed and importer.poll() is None and time.monotonic() < deadline:
            with admin.connect() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND state <> 'idle' "
                        "AND (query ILIKE 'insert into events%' OR query ILIKE 'copy events%' "
                        "OR query ILIKE 'lock table events%')"
                    ),
                    {"name": NAME},
                ).scalar_one()
            time.sleep(0.005)
        _, err = importer.communicate(timeout=120)
        assert killed, "the import ended before its append could be interrupted"
        assert importer.returncode == 1, err
        assert err.startswith("Error: "), err
        assert err.count("\n") == 1, err
        assert EventStore(admin).head() == 0
        admin.dispose()
