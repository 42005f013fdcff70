"""The README's SQL, run as a downstream program would, on the seed, on both backends."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from events import Envelope, EventCorrected, Occurred
from timeline.engine import Timeline
from timeline.interfaces.cli import main
from timeline.store import EventStore
from timeline.store.database import create_engine

README = Path(__file__).resolve().parents[2] / "README.md"
SEED = Path(str(resources.files("timeline") / "seed" / "ukraine-mbt-2023.yaml"))


def _queries(backend: str) -> list[str]:
    """The README's ```sql blocks for `backend`: those naming it first, and those naming none."""
    found = []
    for block in re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        first = block.splitlines()[0].strip().lower()
        if first in ("-- sqlite", "-- postgresql") and first != f"-- {backend}":
            continue
        found.append(block.strip().rstrip(";"))
    return found


RECORDED = dt.datetime(2023, 1, 26, 10, tzinfo=dt.UTC)
CORRECTED = dt.datetime(2023, 1, 27, 9, tzinfo=dt.UTC)


@pytest.fixture
def seeded(fresh_url: str) -> Iterator[Engine]:
    """The seed as a store that learned it at 10:00 UTC on 26 January 2023 holds it, and a
    correction (Germany reluctant, not conditional) recorded the next day."""
    assert main(["init", "--db", fresh_url]) == 0
    engine = create_engine(fresh_url)
    Timeline(EventStore(engine, clock=lambda: RECORDED)).import_files([SEED])
    fix = EventCorrected.of("deu-position-leopard-if-abrams", {"stance": "reluctant"})
    correction = Envelope.new(
        dossier="ukraine-mbt-2023", key="fix-deu", occurred=Occurred.parse("2023-01-27"), event=fix
    )
    EventStore(engine, clock=lambda: CORRECTED).append("ukraine-mbt-2023", [correction])
    yield engine
    engine.dispose()


def test_the_readme_queries_answer_as_the_engine_does(seeded: Engine) -> None:
    """As of 20 January, Germany is reluctant as known now and was conditional as known at
    noon on 26 January; the links name the events behind each version; the view gives the
    present."""
    timeline = Timeline(EventStore(seeded))
    now = timeline.state("2023-01-20", actor="DEU", issue="mbt-for-ukraine")
    then = timeline.state(
        "2023-01-20", actor="DEU", issue="mbt-for-ukraine", known_at="2023-01-26T11:59:59.999999Z"
    )
    queries = _queries(seeded.dialect.name)
    assert len(queries) == 4, "two per backend, then two for both"
    with seeded.connect() as conn:
        as_of, known_then, links, present = [conn.execute(sa.text(q)).all() for q in queries]
    for rows, state, stance in ((as_of, now, "reluctant"), (known_then, then, "conditional")):
        (position,) = state.positions
        assert position.stance == stance
        assert [(r.stance, r.since, bool(r.condition_met)) for r in rows] == [
            (str(position.stance), str(position.since), False)
        ]
    assert ("deu-position-leopard-if-abrams",) in {(r.because_of,) for r in links}
    assert {r.because_of for r in links} >= {"deu-pledge-leopard-2a6", "usa-pledge-abrams"}
    stances = {(r.actor, r.stance) for r in present}
    assert ("DEU", "committed") in stances
    assert ("USA", "committed") in stances
    assert all(r.certain for r in present)
