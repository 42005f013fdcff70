"""The CLI's promises: documented commands, one-line errors, the schema check."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_URL, database
from tests.e2e.conftest import SEED
from timeline.interfaces.cli import cli, main
from timeline.store.memory import collector_paused

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_command_is_in_the_readme() -> None:
    """A command missing from the README fails the suite (sqlite-utils' rule)."""
    readme = README.read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"timeline {name}" in readme, f"`timeline {name}` is not documented"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each command's --help says what it does and shows an example."""
    assert main([name, "--help"]) == 0
    assert "Example:" in capsys.readouterr().out


def test_bad_date_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --as-of is refused before anything runs, with exit status 2."""
    status = main(["state", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--as-of", "2023-02-30"])
    assert status == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--as-of'" in err
    assert "Traceback" not in err


def test_uninitialised_database_says_run_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading a database without the schema says to run `timeline init`."""
    assert main(["state", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--as-of", "2023"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ")
    assert err.count("\n") == 1
    assert "run `timeline init`" in err


@pytest.mark.parametrize(
    "url", ["nonsense", "mysql://root@127.0.0.1/test", "postgresql://nobody@127.0.0.1:1/none"]
)
def test_unusable_database_is_one_line(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad or unreachable database URL gives one line and exit status 1."""
    assert main(["init", "--db", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot use the database"), err
    assert err.count("\n") == 1, err


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Importing a file that does not exist names it, without a traceback."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["init", "--db", url]) == 0
    assert main(["import", "--db", url, str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert "missing.yaml" in err
    assert "cannot read the file" in err


def test_installed_script_exits_without_traceback(tmp_path: Path) -> None:
    """The console script itself turns errors into one line and a status."""
    script = Path(sys.executable).with_name("timeline")
    result = subprocess.run(
        [str(script), "state", "--db", f"sqlite:///{tmp_path / 'y.db'}", "--as-of", "2023"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert re.fullmatch(r"Error: [^\n]+\n", result.stderr), result.stderr


def test_log_filters_by_actor_and_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`timeline log` keeps only the events that name the actor, in valid-time order."""
    import json
    from importlib import resources

    url = f"sqlite:///{tmp_path / 'log.db'}"
    seed = str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml")
    assert main(["init", "--db", url]) == 0
    assert main(["import", "--db", url, seed]) == 0
    capsys.readouterr()
    args = ["log", "--db", url, "--actor", "USA", "--type", "pledge.announced", "--format", "json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "timeline.log/2"
    keys = [e["key"] for e in document["events"]]
    assert set(keys) == {"usa-pledge-abrams", "usa-pledge-m88", "usa-pledge-abrams-training"}
    assert all(e["sources"][0]["publisher"] == "CNN" for e in document["events"])
    assert main(["log", "--db", url, "--to", "2023-01-20", "--format", "json"]) == 0
    early = json.loads(capsys.readouterr().out)["events"]
    assert "usa-pledge-abrams" not in {e["key"] for e in early}
    starts = [e["occurred_start"] for e in early]
    assert starts == sorted(starts)


def test_verbose_logs_an_imports_stages_and_quiet_silences_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from importlib import resources

    url = f"sqlite:///{tmp_path / 'log.db'}"
    seed = str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml")
    assert main(["init", "--db", url]) == 0
    assert main(["-v", "import", "--db", url, seed]) == 0
    err = capsys.readouterr().err
    assert "INFO timeline.import: appended 26 new events in one transaction" in err
    assert main(["-q", "import", "--db", url, seed]) == 0
    logging.getLogger("timeline.projector").warning("a follower lost the database")
    assert capsys.readouterr().err == ""
    assert main(["import", "--db", url, seed]) == 0
    logging.getLogger("timeline.projector").warning("a follower lost the database")
    assert "WARNING timeline.projector: a follower lost the database" in capsys.readouterr().err


DELIVERY = """\
dossier: ukraine-mbt-2023
sources:
  mod: {publisher: UK Ministry of Defence, published: 2023-03-27}
events:
  - key: gbr-delivers-challenger-2
    type: delivery.reported
    occurred: 2023-03-27
    donor: GBR
    recipient: UKR
    item: challenger-2
    quantity: 14
    sources: [{cite: mod, quote: "all fourteen are now in Ukraine"}]
"""


def test_the_totals_table_says_what_was_delivered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'timeline.db'}"
    delivery = tmp_path / "delivery.yaml"
    delivery.write_text(DELIVERY, encoding="utf-8")
    assert main(["init", "--db", db]) == 0
    assert main(["import", "--db", db, str(SEED), str(delivery)]) == 0
    for day, delivered in (("2023-03-26", "0"), ("2023-03-31", "14")):
        capsys.readouterr()
        assert main(["state", "--db", db, "--as-of", day, "--section", "totals"]) == 0
        lines = capsys.readouterr().out.splitlines()
        header = next(line for line in lines if line.startswith("┃") and "category" in line)
        tanks = next(line for line in lines if line.startswith("│") and "main-battle-tank" in line)
        cells = [[cell.strip() for cell in row[1:-1].split(row[0])] for row in (header, tanks)]
        assert dict(zip(*cells, strict=True))["delivered"] == delivered


@pytest.mark.postgres
def test_commands_run_in_one_process_leave_no_connection_open(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A script or a test calling `main` many times must not run the server out of
    connections: each command closes its own when it ends, rather than leaving them to
    the cycle collector, which reads pause (paused here throughout). Connections are
    what PostgreSQL runs out of, so it is the backend asked."""
    name = "timeline-cli-connections"
    with database("postgresql", tmp_path_factory) as fresh_url:
        _run_commands(f"{fresh_url}&application_name={name}")
    with psycopg.connect(PG_URL) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        found = conn.execute(query, (name,)).fetchone()
    assert found == (0,)


def _run_commands(url: str) -> None:
    assert main(["init", "--db", url]) == 0
    assert main(["import", "--db", url, str(SEED)]) == 0
    with collector_paused():
        for _ in range(5):
            assert main(["state", "--db", url, "--as-of", "2023-01-20"]) == 0
            assert main(["diff", "--db", url, "--from", "2023-01-01", "--to", "2023-02-01"]) == 0
